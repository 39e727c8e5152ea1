"""GET /results/{id}: one statement for the result and its tags, the benchmark, site and
flavor from the catalogue cache, and the same answer as the Result schema's dump."""

from sqlalchemy import event

from backend.extensions import db
from backend.schemas.results import Result as ResultSchema
from backend.single_statement_reads import read_in_one_statement
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


def test_a_single_statement_read_gives_its_connection_back_transactional(app):
    """``read_in_one_statement`` switches the driver to autocommit for one request only:
    the next user of the pooled connection gets transactions again."""
    db.session.remove()
    with app.test_request_context("/users/self"):
        read_in_one_statement()
        driver = db.session.connection().connection.driver_connection
        switched = getattr(driver, "autocommit", None)
        db.session.remove()
    if db.engine.dialect.name == "postgresql":
        assert switched is True
        assert driver.autocommit is False
