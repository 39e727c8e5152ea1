"""Public pages of results kept per worker (PostgreSQL): the same bytes as a page read
afresh, and never kept past a committed change to what they show, whoever commits it."""

import time

import pytest
from sqlalchemy import create_engine, event, text

from backend.extensions import db
from backend.models import catalogue_version
from backend.response_cache import catalogue_cache
from backend.result_finding.pages import kept_pages
from factories import ClaimFactory, FlavorFactory, ResultFactory, TagFactory

#: The tests here that run on SQLite too; the others are about keeping pages.
ON_BOTH = {"test_pages_are_kept_only_on_postgresql_and_a_change_is_seen_on_both"}


@pytest.fixture(autouse=True)
def postgresql_only(request):
    kept_pages().clear()
    if request.node.name not in ON_BOTH and db.engine.dialect.name != "postgresql":
        pytest.skip("pages are kept on PostgreSQL only (SQLite has no result versions)")


def test_pages_are_kept_only_on_postgresql_and_a_change_is_seen_on_both(client):
    ResultFactory()
    first = page(client, "/results")
    assert page(client, "/results") == first
    ResultFactory()
    assert client.get("/results").json["total"] == 2
    expected = 2 if db.engine.dialect.name == "postgresql" else 0  # one per data state
    assert len(kept_pages()) == expected


@pytest.fixture
def results_reads():
    """How many statements read the results table while a test runs."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "FROM results" in statement:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


def commit_elsewhere(statement: str, **parameters) -> None:
    """Commit on another engine, as another host or a tool would; then wait until this
    worker's catalogue listener heard of the catalogue version (within a millisecond)."""
    other = create_engine(db.engine.url)
    try:
        with other.begin() as connection:
            connection.execute(text(statement), parameters)
            version = connection.execute(db.select(catalogue_version.c.version)).scalar()
    finally:
        other.dispose()
    listener = catalogue_cache().listener
    deadline = time.monotonic() + 5
    while listener is not None and listener.version != version and time.monotonic() < deadline:
        time.sleep(0.005)


def page(client, path: str) -> bytes:
    answer = client.get(path)
    assert answer.status_code == 200, answer.json
    return answer.data


def names(client, path: str) -> list[str]:
    return [item["flavor"]["name"] for item in client.get(path).json["items"]]


def test_a_kept_page_is_the_same_bytes_and_reads_no_results(client, results_reads):
    flavor = FlavorFactory(name="hpc.8core")
    gpu = TagFactory(name="gpu")
    for score in (3.0, 1.0, 2.0):
        ResultFactory(flavor=flavor, json={"result": {"score": score}}, tags=[gpu])
    for path in (
        "/results?per_page=2",
        f"/results?flavor_id={flavor.id}&sort_by=-execution_datetime",
        "/results:search?terms=gpu",
    ):
        fresh = page(client, path)
        read = len(results_reads)
        assert page(client, path) == fresh
        assert len(results_reads) == read, "the second answer was read again"
    assert len(kept_pages()) == 3


@pytest.mark.parametrize(
    "change",
    [
        "INSERT INTO results_tags (result_id, tag_id) VALUES (:result, :tag)",
        'UPDATE results SET json = \'{"result": {"score": 9}}\' WHERE id = :result',
        "UPDATE results SET hidden = true WHERE id = :result",
        "DELETE FROM results WHERE id = :result",
        "UPDATE flavors SET name = 'renamed' WHERE id = :flavor",
    ],
)
def test_a_change_committed_anywhere_is_seen_at_once(client, change):
    flavor = FlavorFactory(name="before")
    result = ResultFactory(flavor=flavor)
    ResultFactory()
    tag = TagFactory(name="new")
    before = page(client, "/results")
    assert page(client, "/results") == before
    commit_elsewhere(change, result=result.id, tag=tag.id, flavor=flavor.id)
    db.session.expire_all()
    assert page(client, "/results") != before


def test_a_claim_hides_the_result_from_the_kept_page(client):
    claimed, other = ResultFactory(), ResultFactory()
    assert {item["id"] for item in client.get("/results").json["items"]} == {
        str(claimed.id),
        str(other.id),
    }
    ClaimFactory(resource=claimed)
    assert [item["id"] for item in client.get("/results").json["items"]] == [str(other.id)]


def test_a_page_orjson_cannot_write_is_answered_and_not_kept(client):
    ResultFactory(json={"result": {"score": 2**70}})
    for _ in range(2):
        answer = client.get("/results")
        assert answer.status_code == 200
        assert b'"score":1180591620717411303424' in answer.data
    assert len(kept_pages()) == 0


def test_the_kept_pages_can_be_turned_off(app_settings):
    from backend import create_app

    app = create_app(**{**app_settings, "RESULT_PAGE_CACHE_ENTRIES": 0})
    with app.app_context():
        ResultFactory()
        assert kept_pages() is None
        assert app.test_client().get("/results").json["total"] == 1
