"""GET /results/{id}: one statement for the result and its tags, the benchmark, site and
flavor from the catalogue cache, and the same answer as the Result schema's dump."""

from flask import Flask, request_started
from sqlalchemy import event
from werkzeug.test import Client

from backend.extensions import db
from backend.schemas.results import Result as ResultSchema
from backend.single_statement_reads import read_outside_transaction
from factories import BenchmarkFactory, ResultFactory, TagFactory
from tests.api.test_response_cache import commit_elsewhere


def test_the_answer_is_the_result_schemas_dump(client):
    tagged = ResultFactory(tags=[TagFactory(name=name) for name in ["zeta", "Alpha", "gpu"]])
    untagged = ResultFactory()
    for result in (tagged, untagged):
        answer = client.get(f"/results/{result.id}")
        assert answer.status_code == 200
        db.session.refresh(result)
        assert answer.get_json() == ResultSchema().dump(result)
    assert [t["name"] for t in client.get(f"/results/{tagged.id}").get_json()["tags"]] == [
        "Alpha",
        "gpu",
        "zeta",
    ]


def test_an_unknown_result_is_a_404_that_names_it(client):
    missing = "00000000-0000-0000-0000-000000000001"
    answer = client.get(f"/results/{missing}")
    assert answer.status_code == 404
    assert answer.get_json()["message"] == f"No result with id {missing}."


def test_the_catalogue_parts_come_from_the_cache_until_they_change(client):
    result = ResultFactory(benchmark=BenchmarkFactory(description="before"))
    client.get(f"/results/{result.id}")
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        answer = client.get(f"/results/{result.id}")
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert answer.status_code == 200
    assert len(statements) == 1, statements

    commit_elsewhere("UPDATE benchmarks SET description = 'after'")
    db.session.rollback()
    answer = client.get(f"/results/{result.id}")
    assert answer.get_json()["benchmark"]["description"] == "after"


def test_a_read_outside_a_transaction_gives_its_connection_back_transactional(app):
    """``read_outside_transaction`` switches the driver to autocommit for its block only:
    the session's next statements, and the next user of the pooled connection, get
    transactions again."""
    db.session.remove()
    with app.test_request_context("/users/self"):
        with read_outside_transaction() as connection:
            driver = connection.connection.driver_connection
            switched = getattr(driver, "autocommit", None)
        after = getattr(driver, "autocommit", None)
        db.session.remove()
    if db.engine.dialect.name == "postgresql":
        assert (switched, after, driver.autocommit) == (True, False, False)


def flask_only(app):
    """A client of the app's Flask handling alone, below the WSGI fronts."""
    return Client(lambda environ, start_response: Flask.wsgi_app(app, environ, start_response))


def test_the_front_answers_as_flask_would_have(app, client):
    """``SingleResultFront`` answers below Flask: same status, headers and body as Flask's
    view and hooks give, the request id included."""
    result = ResultFactory(tags=[TagFactory(name="gpu")])
    path = f"/results/{result.id}"
    client.get(path)  # the catalogue items are now in the cache, as for Flask below
    statements: list[str] = []
    flask_requests: list[object] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with request_started.connected_to(flask_requests.append, app):
            front = client.get(path, headers={"X-Request-ID": "same"})
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    built = flask_only(app).get(path, headers={"X-Request-ID": "same"})
    assert (front.status_code, flask_requests, len(statements)) == (200, [], 1), statements
    assert front.status_code == built.status_code
    assert front.data == built.data
    assert sorted(front.headers.items()) == sorted(built.headers.items())


def test_what_the_front_does_not_answer_flask_does(client):
    """Unknown and malformed ids, other methods, paths below a result: Flask's answers."""
    result = ResultFactory()
    assert client.get("/results/00000000-0000-0000-0000-000000000001").status_code == 404
    malformed = client.get("/results/not-a-uuid")
    assert malformed.status_code == 404
    assert "not a valid id" in malformed.get_json()["message"]
    assert client.delete(f"/results/{result.id}").status_code == 401
    assert client.get(f"/results/{result.id}/claims").status_code == 401
    assert client.head(f"/results/{result.id}").status_code == 200
