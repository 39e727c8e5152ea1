"""What the client does when the network or the service fails: idempotent requests are
retried with back-off (a dropped connection, a 503), others never; every request has a
timeout. The faults are real: a TCP proxy that drops connections, a PostgreSQL server
that stops under the running service, a server that never answers."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import flask_migrate
import pytest

from backend import create_app
from backend.extensions import db
from backend.models import Result
from factories import BenchmarkFactory, FlavorFactory, SiteFactory
from perfclient import ApiError, Client, ConnectionFailed, RetryPolicy
from tests.client.conftest import QUICK_RETRIES, serving
from tests.deployment.processes import PrivateCluster, private_postgres


class DroppingProxy:
    """A TCP proxy to ``upstream`` (``http://host:port``) that reads the first ``drops``
    requests and closes their connections without answering; later connections pass."""

    def __init__(self, upstream: str, drops: int) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.drops_left = drops
        self.dropped = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            if self.drops_left > 0:
                self.drops_left -= 1
                connection.recv(65536)
                connection.close()
                self.dropped += 1
                continue
            upstream = socket.create_connection(self.upstream)
            for source, target in ((connection, upstream), (upstream, connection)):
                threading.Thread(target=_pump, args=(source, target), daemon=True).start()

    def close(self) -> None:
        self.listener.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    with suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    with suppress(OSError):
        target.shutdown(socket.SHUT_WR)


@contextmanager
def dropping_proxy(upstream: str, drops: int) -> Iterator[DroppingProxy]:
    proxy = DroppingProxy(upstream, drops)
    try:
        yield proxy
    finally:
        proxy.close()


def test_a_get_whose_connection_drops_is_retried(service_url, caplog):
    site = SiteFactory()

    with dropping_proxy(service_url, drops=2) as proxy:
        frame = Client(proxy.url, retry=QUICK_RETRIES).sites()

    assert frame["id"].tolist() == [str(site.id)]
    assert proxy.dropped == 2
    retries = [r.message for r in caplog.records if r.name == "perfclient"]
    assert len(retries) == 2
    assert "GET /sites: connection failed" in retries[0]


def test_a_get_gives_up_after_its_tries(service_url):
    with dropping_proxy(service_url, drops=10) as proxy:
        client = Client(proxy.url, retry=RetryPolicy(attempts=3, backoff=0.01))
        with pytest.raises(ConnectionFailed, match="after 3 tries"):
            client.sites()

    assert proxy.dropped == 3


def test_a_post_whose_connection_drops_is_not_sent_again(service_url, user_token):
    benchmark, flavor = BenchmarkFactory(), FlavorFactory()

    with dropping_proxy(service_url, drops=1) as proxy:
        client = Client(proxy.url, token=user_token, retry=QUICK_RETRIES)
        with pytest.raises(ConnectionFailed, match="not retried"):
            client.upload(
                {"result": {"score": 1}},
                benchmark_id=benchmark.id,
                flavor_id=flavor.id,
                execution_datetime="2022-10-14T23:21:47+01:00",
            )

    assert proxy.dropped == 1
    assert Result.query.count() == 0


def test_a_service_that_does_not_answer_times_out(monkeypatch):
    silent = socket.create_server(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    client = Client(f"http://127.0.0.1:{port}", timeout=(2, 0.5), retry=QUICK_RETRIES)
    started = time.monotonic()
    try:
        with pytest.raises(ConnectionFailed, match="no answer within the timeout"):
            client.sites()
    finally:
        silent.close()

    assert time.monotonic() - started < 5


@contextmanager
def service_on_private_postgres(app_settings) -> Iterator[tuple[str, PrivateCluster]]:
    """The service, served over HTTP, on a PostgreSQL server of the test's own that the
    test may stop and start; (its URL, the server)."""
    with private_postgres() as cluster:
        app = create_app(**{**app_settings, "DATABASE_URL": cluster.url, "DB_CONNECT_TIMEOUT": 2})
        with app.app_context():
            flask_migrate.upgrade()
        try:
            with serving(app) as url:
                yield url, cluster
        finally:
            with app.app_context():
                db.engine.dispose()


def test_a_get_is_retried_while_the_database_restarts(app_settings, caplog):
    """The service answers 503 while PostgreSQL is down; the client's GET waits it out."""
    with service_on_private_postgres(app_settings) as (url, cluster):
        client = Client(url, retry=RetryPolicy(attempts=8, backoff=0.5, max_wait=2))
        assert client.sites().empty
        cluster.stop()
        restart = threading.Timer(1.5, cluster.start)
        restart.start()
        try:
            frame = client.sites()
        finally:
            restart.join()

    assert frame.empty
    retries = [r.message for r in caplog.records if r.name == "perfclient"]
    assert retries
    assert all("GET /sites: 503" in message for message in retries)


def test_a_post_answered_503_is_raised_at_once(app_settings, issuer, caplog):
    token = issuer.mint("someone", email="someone@example.org")
    with service_on_private_postgres(app_settings) as (url, cluster):
        client = Client(url, token=token, retry=QUICK_RETRIES)
        cluster.stop()
        with pytest.raises(ApiError) as raised:
            client.register()

    assert raised.value.status == 503
    assert raised.value.message == "The database is unavailable right now; please retry shortly."
    assert not [
        r for r in caplog.records if r.name == "perfclient" and r.levelno >= logging.WARNING
    ]
