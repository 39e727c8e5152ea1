"""The catalogue's public answers come from a per-worker cache while the catalogue is
unchanged, and never outlive a committed change, whoever makes it."""

import time
import uuid

import pytest
from sqlalchemy import create_engine, event, text

from backend.catalogue_listener import LISTENER_APPLICATION_NAME
from backend.extensions import db
from backend.lru_cache import LruCache
from backend.models import catalogue_version
from backend.response_cache import catalogue_cache
from factories import BenchmarkFactory, FlavorFactory, SiteFactory, TagFactory

CACHED_PATHS = [
    "/sites",
    "/sites:search?terms=cesnet",
    "/benchmarks",
    "/benchmarks:search?terms=c-ray",
    "/tags",
    "/tags:search?terms=gpu",
]


@pytest.fixture
def statements():
    """The SQL statements sent through the ORM and Core while a test runs."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


@pytest.fixture
def catalogue():
    site = SiteFactory(name="CESNET-MCC", address="cesnet.cz")
    flavor = FlavorFactory(site=site, name="hpc.8core")
    benchmark = BenchmarkFactory(docker_image="rafaelscab/c-ray")
    tag = TagFactory(name="gpu")
    return site, flavor, benchmark, tag


def commit_elsewhere(statement: str, *, wait_for_listener: bool = True) -> None:
    """Commit ``statement`` on another engine, as another host or a tool would, then wait
    (on PostgreSQL) until this worker's listener heard of it: another host's change is
    seen once its notification arrives, normally within a millisecond."""
    other = create_engine(db.engine.url)
    try:
        with other.begin() as connection:
            connection.execute(text(statement))
            version = connection.execute(db.select(catalogue_version.c.version)).scalar()
    finally:
        other.dispose()
    listener = catalogue_cache().listener
    if listener is not None and wait_for_listener:
        deadline = time.monotonic() + 5
        while listener.version != version and time.monotonic() < deadline:
            time.sleep(0.005)
        assert listener.version == version


def item_paths(catalogue):
    site, flavor, benchmark, tag = catalogue
    return [
        f"/sites/{site.id}",
        f"/sites/{site.id}/flavors",
        f"/sites/{site.id}/flavors:search?terms=hpc",
        f"/flavors/{flavor.id}",
        f"/flavors/{flavor.id}/site",
        f"/benchmarks/{benchmark.id}",
        f"/tags/{tag.id}",
    ]


def test_a_repeated_request_is_answered_without_building_it_again(client, catalogue, statements):
    for path in CACHED_PATHS + item_paths(catalogue):
        first = client.get(path)
        assert first.status_code == 200, path
        statements.clear()
        again = client.get(path)
        assert again.status_code == 200
        assert again.data == first.data
        assert again.headers["ETag"] == first.headers["ETag"]
        assert statements == [], f"{path} was built again: {statements}"


def test_if_none_match_gives_304_without_a_body(client, catalogue):
    etag = client.get("/sites").headers["ETag"]
    answer = client.get("/sites", headers={"If-None-Match": etag})
    assert answer.status_code == 304
    assert answer.data == b""
    assert answer.headers["ETag"] == etag
    assert client.get("/sites", headers={"If-None-Match": '"other"'}).status_code == 200


def test_pagination_headers_are_kept(client):
    for n in range(3):
        SiteFactory(name=f"site-{n}")
    first = client.get("/sites?per_page=2")
    again = client.get("/sites?per_page=2")
    assert again.headers.get("X-Pagination") == first.headers.get("X-Pagination")
    assert again.get_json() == first.get_json()
    assert again.get_json()["total"] == 3


def test_a_change_through_the_api_is_seen_by_the_next_request(client, admin_headers, catalogue):
    site = catalogue[0]
    assert [s["name"] for s in client.get("/sites").get_json()["items"]] == ["CESNET-MCC"]
    answer = client.put(f"/sites/{site.id}", json={"name": "renamed"}, headers=admin_headers)
    assert answer.status_code == 204
    assert [s["name"] for s in client.get("/sites").get_json()["items"]] == ["renamed"]
    assert client.get(f"/sites/{site.id}").get_json()["name"] == "renamed"
    assert client.get(f"/flavors/{catalogue[1].id}/site").get_json()["name"] == "renamed"


@pytest.mark.parametrize(
    ("statement", "changes"),
    [
        ("UPDATE sites SET name = 'changed elsewhere'", ["/sites"]),
        ("UPDATE flavors SET name = 'changed elsewhere'", ["/sites/{site}/flavors"]),
        ("UPDATE benchmarks SET description = 'changed elsewhere'", ["/benchmarks/{benchmark}"]),
        ("UPDATE tags SET name = 'changed elsewhere'", ["/tags"]),
        ("DELETE FROM tags", ["/tags"]),
    ],
)
def test_a_change_committed_by_another_process_is_seen(client, catalogue, statement, changes):
    """Plain SQL on a connection of another engine stands for another worker or a tool.

    Requests in a worker each start a fresh session; here they share the test's, so it is
    reset between the two rounds (else its identity map would show the rows as they were).
    """
    site, _flavor, benchmark, _tag = catalogue
    ids = {"site": site.id, "benchmark": benchmark.id}
    paths = [
        p.format(**ids)
        for p in ["/sites", "/sites/{site}/flavors", "/benchmarks/{benchmark}", "/tags"]
    ]
    db.session.rollback()
    before = {path: client.get(path).data for path in paths}
    commit_elsewhere(statement)
    db.session.rollback()
    after = {path: client.get(path).data for path in paths}
    changed = [path for path in paths if after[path] != before[path]]
    assert changed == [path.format(**ids) for path in changes]


def test_an_uncommitted_change_is_not_cached_as_current(client, catalogue):
    """A change rolled back leaves the version (and so the cache) as it was."""
    version = db.session.execute(db.select(catalogue_version.c.version)).scalar()
    db.session.execute(text("UPDATE sites SET name = 'never committed'"))
    db.session.rollback()
    assert db.session.execute(db.select(catalogue_version.c.version)).scalar() == version
    assert client.get("/sites").get_json()["items"][0]["name"] == "CESNET-MCC"


def test_without_a_stored_version_nothing_is_cached(client, catalogue, statements):
    db.session.execute(catalogue_version.delete())
    db.session.commit()
    client.get("/sites")
    statements.clear()
    client.get("/sites")
    assert statements, "answered from the cache although the version is unknown"


def test_only_successful_answers_are_kept(client):
    missing = "/sites/00000000-0000-0000-0000-000000000001"
    assert client.get(missing).status_code == 404
    assert client.get("/sites?per_page=0").status_code == 422
    SiteFactory(id=uuid.UUID(missing.rsplit("/", 1)[1]), name="now here")
    assert client.get(missing).get_json()["name"] == "now here"


def test_the_least_recently_used_entries_go_first():
    cache = LruCache(max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c"), len(cache)) == (1, 3, 2)
    cache.discard("a")
    assert cache.get("a") is None


def test_the_cache_can_be_turned_off(app_settings):
    from backend import create_app

    app = create_app(**{**app_settings, "CATALOGUE_CACHE_ENTRIES": 0})
    assert "backend.response_cache" not in app.extensions
    with app.app_context():
        SiteFactory(name="plain")
        answer = app.test_client().get("/sites")
    assert answer.status_code == 200
    assert "ETag" not in answer.headers


def test_a_hit_answers_as_flask_would_have(client, catalogue):
    """Hits are replayed below Flask (``CatalogueFront``): same status, headers and body
    as the answer Flask built, a fresh request id aside."""
    for path in CACHED_PATHS + item_paths(catalogue):
        built = client.get(path, headers={"X-Request-ID": "built"})
        replayed = client.get(path, headers={"X-Request-ID": "replayed"})
        assert replayed.status_code == built.status_code == 200
        assert replayed.data == built.data
        assert replayed.headers["X-Request-ID"] == "replayed"
        assert sorted(replayed.headers.items()) == sorted(
            {**built.headers, "X-Request-ID": "replayed"}.items()
        ), path


def test_a_304_hit_answers_as_flask_would_have(client, catalogue):
    etag = client.get("/sites").headers["ETag"]
    SiteFactory(name="on review", status="on_review")  # a change that leaves /sites as it was
    built = client.get("/sites", headers={"If-None-Match": etag, "X-Request-ID": "a"})
    replayed = client.get("/sites", headers={"If-None-Match": etag, "X-Request-ID": "a"})
    assert replayed.status_code == built.status_code == 304
    assert sorted(replayed.headers.items()) == sorted(built.headers.items())


def test_a_request_id_that_is_not_plain_is_replaced_on_a_hit_too(client):
    client.get("/sites")
    answer = client.get("/sites", headers={"X-Request-ID": "bad id\x01"})
    assert answer.headers["X-Request-ID"] != "bad id\x01"
    assert len(answer.headers["X-Request-ID"]) == 32


def test_on_postgresql_a_hit_costs_no_database_round_trip(app, client, catalogue):
    """The worker learns the version by LISTEN/NOTIFY, so a hit checks out no connection."""
    cache = catalogue_cache()
    if cache.listener is None:
        pytest.skip("SQLite reads its version per request (microseconds)")
    commit_elsewhere("UPDATE sites SET description = 'heard'")
    checkouts = []

    def checkout(*args):
        checkouts.append(args)

    event.listen(db.engine.pool, "checkout", checkout)
    try:
        client.get("/sites")
        checkouts.clear()
        for _ in range(3):
            assert client.get("/sites").status_code == 200
    finally:
        event.remove(db.engine.pool, "checkout", checkout)
    assert checkouts == []


def test_while_the_listener_is_down_the_version_is_read_per_request(client, catalogue):
    cache = catalogue_cache()
    if cache.listener is None:
        pytest.skip("PostgreSQL only: SQLite always reads its version per request")
    commit_elsewhere("UPDATE sites SET description = 'heard'")
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :name AND datname = current_database()"
            ),
            {"name": LISTENER_APPLICATION_NAME},
        )
    deadline = time.monotonic() + 5
    while cache.listener.version is not None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert cache.listener.version is None
    assert client.get("/sites").status_code == 200
    commit_elsewhere("UPDATE sites SET name = 'while deaf'", wait_for_listener=False)
    db.session.rollback()
    assert client.get("/sites").get_json()["items"][0]["name"] == "while deaf"
    deadline = time.monotonic() + 5
    while cache.listener.version is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.listener.version is not None, "the listener did not come back"
