"""Requests sent at the same moment, to show what concurrent transactions do.

Each request runs in a thread of its own with its own test client, so it gets its own app
context, session and database connection: its transaction really runs alongside the
others on PostgreSQL (SQLite serializes the writers, which the code must survive too). A
barrier releases them together, which makes the race likely; tests repeat a few rounds
to make it near certain.

Tests use the ``racing_app`` fixture, imported explicitly::

    # ruff: noqa: F811  (test parameters named after the imported fixture)
    from tests.support.concurrency import racing_app  # noqa: F401
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from backend import create_app
from backend.extensions import db

#: Rounds a race test repeats: one round loses the race now and then; five rarely do.
ROUNDS = 5


@pytest.fixture(scope="session")
def racing_app(app_settings) -> Iterator[Flask]:
    """An app on the test database where every racing request may check its token with
    the issuer at once: with the default bound on those checks, some requests would get
    503 (or be spread out) before they reach the database."""
    app = create_app(
        **{**app_settings, "OIDC_MAX_CONCURRENT_REQUESTS": 32, "OIDC_QUEUE_TIMEOUT": 30.0}
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def at_once(app: Flask, *requests: Callable[[FlaskClient], TestResponse]) -> list[TestResponse]:
    """The responses to ``requests``, each sent from its own thread with its own client,
    all released together; in the order of ``requests``."""
    barrier = threading.Barrier(len(requests))
    responses: list[TestResponse | None] = [None] * len(requests)
    errors: list[BaseException] = []

    def send(index: int, request: Callable[[FlaskClient], TestResponse]) -> None:
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            responses[index] = request(client)
        except BaseException as error:  # re-raised in the test's thread below
            errors.append(error)

    threads = [
        threading.Thread(target=send, args=(index, request), daemon=True)
        for index, request in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request hung for 60 s"
    if errors:
        raise errors[0]
    return responses  # type: ignore[return-value]


def statuses(responses: list[TestResponse]) -> list[int]:
    """The status codes, sorted, for asserts such as ``== [204, 409]``."""
    return sorted(response.status_code for response in responses)
