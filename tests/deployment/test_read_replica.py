"""A real primary and a real hot-standby streaming replica (``pg_basebackup -R``), private
clusters of this module's own: reads fall back to the primary while the replica is down or
frozen and return to it afterwards, ``/ready`` follows what the service can serve, both
pools have timeouts and keepalives, and the replica's lag is a metric.

The pair is made once for the module (a few seconds); every test leaves both running.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import flask_migrate
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, event, text

from backend import create_app
from backend.extensions import db
from backend.read_routing import REPLICA
from backend.settings import database_uri
from tests.deployment.processes import PrivateCluster, private_primary_and_replica, wait_for
from tests.deployment.test_database_hang import frozen


@pytest.fixture(scope="module")
def pair(app_settings) -> Iterator[tuple[PrivateCluster, PrivateCluster]]:
    def migrate(primary: PrivateCluster) -> None:
        app = create_app(**{**app_settings, "DATABASE_URL": primary.url})
        with app.app_context():
            flask_migrate.upgrade()
            db.engine.dispose()

    with private_primary_and_replica(migrate) as clusters:
        yield clusters


@pytest.fixture
def running_pair(pair):
    """The pair, both servers running again after the test whatever it did."""
    yield pair
    for cluster in pair:
        if not (cluster.data / "postmaster.pid").exists():
            cluster.start()


@contextmanager
def routed_app(app_settings, pair, **settings):
    primary, replica = pair
    app = create_app(
        **{
            **app_settings,
            "DATABASE_URL": primary.url,
            "DATABASE_READ_URL": replica.url,
            "DB_CONNECT_TIMEOUT": 2,
            "READ_REPLICA_RETRY_SECONDS": 1,
            "CATALOGUE_CACHE_ENTRIES": 0,
            **settings,
        }
    )
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


class Served:
    """Which database ran the statements of the last request ("primary", "replica")."""

    def __init__(self, app) -> None:
        self.names: set[str] = set()
        with app.app_context():
            for bind, engine in db.engines.items():
                name = "replica" if bind == REPLICA else "primary"
                event.listen(engine, "before_cursor_execute", self._recorder(name))

    def _recorder(self, name: str):
        def record(*args) -> None:
            self.names.add(name)

        return record

    def get(self, client, path: str = "/benchmarks"):
        self.names = set()
        started = time.monotonic()
        response = client.get(path)
        return response, set(self.names), time.monotonic() - started


def reads_gauge(database: str) -> float | None:
    return REGISTRY.get_sample_value("db_reads_served_by", {"database": database})


def test_both_pools_have_the_statement_timeout_and_tcp_keepalives(app_settings, running_pair):
    settings = {"DB_STATEMENT_TIMEOUT": 7}
    with routed_app(app_settings, running_pair, **settings) as app, app.app_context():
        assert db.engines[REPLICA].url.port == running_pair[1].port
        for engine in db.engines.values():
            with engine.connect() as connection:
                assert connection.scalar(text("SHOW statement_timeout")) == "7s"
                dbapi = connection.connection.driver_connection
                parameters = dbapi.get_dsn_parameters()
                assert parameters["keepalives"] == "1"
                assert int(parameters["connect_timeout"]) == 2
                assert int(parameters["tcp_user_timeout"]) > 0


def test_reads_fall_back_to_the_primary_while_the_replica_is_stopped(
    app_settings, running_pair, caplog
):
    replica = running_pair[1]
    caplog.set_level(logging.INFO, logger="backend.read_routing")
    with routed_app(app_settings, running_pair) as app:
        client, served = app.test_client(), Served(app)
        response, names, _ = served.get(client)
        assert (response.status_code, names) == (200, {"replica"})
        assert reads_gauge("replica") == 1

        replica.stop()
        stopped = time.monotonic()
        first, _, _ = served.get(client)
        second, names, _ = served.get(client)
        # A refused connection is noticed at once; at most the first request may fail.
        assert first.status_code in (200, 503)
        assert (second.status_code, names) == (200, {"primary"})
        assert time.monotonic() - stopped < 1
        assert reads_gauge("primary") == 1 and reads_gauge("replica") == 0
        assert "Reads go to the primary" in caplog.text
        # While the breaker is open nobody waits for the replica.
        for _ in range(5):
            response, names, took = served.get(client)
            assert (response.status_code, names) == (200, {"primary"})
            assert took < 0.5

        replica.start()
        wait_for(lambda: served.get(client)[1] == {"replica"}, 10, "reads back on the replica")
        assert reads_gauge("replica") == 1
        assert "Reads go to the replica again" in caplog.text


def test_cached_catalogue_answers_fall_back_to_the_primary_at_once(app_settings, running_pair):
    """The cache's version read (one raw round trip, not through the session) falls back
    like the session does: even the first request after the replica went away answers."""
    replica = running_pair[1]
    with routed_app(app_settings, running_pair, CATALOGUE_CACHE_ENTRIES=64) as app:
        client = app.test_client()
        assert client.get("/sites").status_code == 200  # the replica pool holds a connection

        replica.stop()
        assert [client.get("/sites").status_code for _ in range(3)] == [200, 200, 200]


def test_reads_fall_back_to_the_primary_while_the_replica_is_frozen(app_settings, running_pair):
    replica = running_pair[1]
    with routed_app(app_settings, running_pair) as app:
        client, served = app.test_client(), Served(app)
        assert served.get(client)[1] == {"replica"}  # the replica pool holds a connection

        with frozen(replica):
            # The request waiting on the frozen replica is cut by the unresponsive-server
            # watch (DB_UNRESPONSIVE_TIMEOUT, then as long for the probe): it may fail.
            first, _, first_took = served.get(client)
            assert first.status_code in (200, 503)
            assert first_took < 5
            noticed = time.monotonic()
            for _ in range(5):
                response, names, took = served.get(client)
                assert (response.status_code, names) == (200, {"primary"})
                assert took < 0.5
            assert time.monotonic() - noticed < 1

        wait_for(lambda: served.get(client)[1] == {"replica"}, 15, "reads back on the replica")


def test_ready_says_whether_reads_can_be_served_and_names_the_failing_database(
    app_settings, running_pair
):
    primary, replica = running_pair
    with routed_app(app_settings, running_pair) as app:
        client = app.test_client()

        both_up = client.get("/ready")
        assert (both_up.status_code, both_up.json) == (200, {"status": "ready"})

        replica.stop()
        replica_down = client.get("/ready")
        assert replica_down.status_code == 200
        assert replica_down.json["status"] == "ready"
        assert list(replica_down.json["failing"]) == ["replica"]
        assert client.get("/benchmarks").status_code == 200  # from the primary

        primary.stop()
        both_down = client.get("/ready")
        assert both_down.status_code == 503
        assert "primary" in both_down.json["message"]
        assert "replica" in both_down.json["message"]

        replica.start()
        primary_down = client.get("/ready")
        assert primary_down.status_code == 200, primary_down.json
        assert list(primary_down.json["failing"]) == ["primary"]
        wait_for(lambda: client.get("/benchmarks").status_code == 200, 10, "reads from the replica")
        assert client.get("/health").status_code == 200

        primary.start()
        wait_for(lambda: client.get("/ready").json == {"status": "ready"}, 10, "both ready")


def test_the_replica_lag_is_a_metric(app_settings, running_pair, issuer):
    primary, replica = running_pair
    replica_engine = create_engine(database_uri(replica.url), isolation_level="AUTOCOMMIT")
    primary_engine = create_engine(database_uri(primary.url), isolation_level="AUTOCOMMIT")
    try:
        with routed_app(app_settings, running_pair, METRICS_ENABLED=True) as app:
            client = app.test_client()
            wait_for(lambda: lag_bytes(client) == 0, 10, "a replica that caught up")

            with replica_engine.connect() as connection:
                connection.execute(text("SELECT pg_wal_replay_pause()"))
            try:
                with primary_engine.connect() as connection:
                    connection.execute(text("CREATE TABLE lag_marker AS SELECT 1 AS x"))
                    connection.execute(text("DROP TABLE lag_marker"))
                assert lag_bytes(client) > 0
            finally:
                with replica_engine.connect() as connection:
                    connection.execute(text("SELECT pg_wal_replay_resume()"))
            wait_for(lambda: lag_bytes(client) == 0, 10, "a replica that caught up again")
    finally:
        replica_engine.dispose()
        primary_engine.dispose()


def lag_bytes(client) -> float | None:
    """The lag /metrics reports (sampled at each scrape)."""
    assert client.get("/metrics").status_code == 200
    return REGISTRY.get_sample_value("db_replica_lag_bytes", {"engine": "replica"})


def test_the_pair_streams(running_pair):
    """The fixture itself: the replica is a hot standby fed by the primary."""
    replica = running_pair[1]
    output = subprocess.run(
        [*replica.as_postgres, str(replica.bin_dir / "psql"), "-h", "127.0.0.1",
         "-p", str(replica.port), "-U", "postgres", "-Atc", "SELECT pg_is_in_recovery()"],
        capture_output=True, text=True, check=True, timeout=10,
    )  # fmt: skip
    assert output.stdout.strip() == "t"
