"""The Python client against the service over real HTTP: the test app (on the per-run test
database) served by werkzeug in a thread, tokens minted by the local OIDC issuer.

Factories commit, so what a test arranges with them is what the served app reads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from werkzeug.serving import make_server

from perfclient import Client, RetryPolicy

#: Retries without long waits, so a test of a failure does not sleep for seconds.
QUICK_RETRIES = RetryPolicy(attempts=4, backoff=0.05, max_wait=0.2)


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """``app`` served over HTTP on a free port of 127.0.0.1 until the block ends; its URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def service_url(app) -> Iterator[str]:
    with serving(app) as url:
        yield url


@pytest.fixture
def user_token(issuer, user) -> str:
    """An access token of the registered ``user``."""
    return issuer.mint(user.sub, email=user.email)


@pytest.fixture
def anonymous(service_url, monkeypatch) -> Iterator[Client]:
    """A client without a token, as a reader of public data uses it."""
    monkeypatch.delenv("PERF_TOKEN", raising=False)
    monkeypatch.delenv("PERF_TOKEN_FILE", raising=False)
    with Client(service_url, retry=QUICK_RETRIES) as client:
        yield client


@pytest.fixture
def perf(service_url, user_token) -> Iterator[Client]:
    """A client with the registered ``user``'s token."""
    with Client(service_url, token=user_token, retry=QUICK_RETRIES) as client:
        yield client
