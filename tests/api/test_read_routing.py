"""DATABASE_READ_URL: GET requests read from the replica; writes, and a client's reads
right after its own write, use the primary.

The "replica" here is a second database holding different rows, so every answer shows
which database gave it.
"""

from __future__ import annotations

import time

import flask_migrate
import pytest
from itsdangerous import TimestampSigner

from backend import create_app
from backend.extensions import db
from backend.read_routing import READ_PRIMARY_COOKIE, READ_PRIMARY_SALT
from factories import SiteFactory, UserFactory
from tests.conftest import bearer


@pytest.fixture
def databases(tmp_path, app_settings):
    """A primary and a "replica" (SQLite files, both migrated), each with one site."""
    urls = {name: f"sqlite:///{tmp_path / name}.db" for name in ("primary", "replica")}
    for name, url in urls.items():
        single = create_app(**{**app_settings, "DATABASE_URL": url})
        with single.app_context():
            flask_migrate.upgrade()
            SiteFactory(name=f"ONLY-ON-{name.upper()}")
            db.engine.dispose()
    return urls


@pytest.fixture
def routed_app(databases, app_settings):
    app = create_app(
        **{
            **app_settings,
            "DATABASE_URL": databases["primary"],
            "DATABASE_READ_URL": databases["replica"],
            "READ_YOUR_WRITES_SECONDS": 30,
        }
    )
    with app.app_context():
        yield app
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def site_names(response) -> set[str]:
    assert response.status_code == 200, response.json
    return {site["name"] for site in response.json["items"]}


def test_get_requests_read_from_the_replica(routed_app):
    assert site_names(routed_app.test_client().get("/sites")) == {"ONLY-ON-REPLICA"}


def test_writes_go_to_the_primary_and_the_writer_then_reads_from_it(routed_app, issuer):
    user = UserFactory(iss=issuer.url)  # outside requests: the primary
    writer, other = routed_app.test_client(), routed_app.test_client()
    headers = bearer(issuer.mint(user.sub, email=user.email))

    response = writer.post("/sites", json={"name": "NEW", "address": "x"}, headers=headers)

    assert response.status_code == 201, response.json
    assert writer.get_cookie(READ_PRIMARY_COOKIE) is not None
    # The new site is on review: ask for those, from the primary (the writer's cookie)...
    on_review = {"status": "on_review"}
    assert site_names(writer.get("/sites", query_string=on_review)) == {"NEW"}
    assert site_names(writer.get("/sites")) == {"ONLY-ON-PRIMARY"}
    # ...while other clients still read the replica.
    assert site_names(other.get("/sites", query_string=on_review)) == set()
    assert site_names(other.get("/sites")) == {"ONLY-ON-REPLICA"}


def test_an_expired_or_garbled_cookie_reads_the_replica(routed_app):
    client = routed_app.test_client()
    client.set_cookie(READ_PRIMARY_COOKIE, "1.0")
    assert site_names(client.get("/sites")) == {"ONLY-ON-REPLICA"}
    client.set_cookie(READ_PRIMARY_COOKIE, "not-a-time")
    assert site_names(client.get("/sites")) == {"ONLY-ON-REPLICA"}


def test_failed_writes_set_no_cookie(routed_app):
    client = routed_app.test_client()
    assert client.post("/sites", json={}).status_code == 401
    assert client.get_cookie(READ_PRIMARY_COOKIE) is None


def test_without_a_replica_there_is_one_engine_and_no_cookie(app, client, user_headers):
    assert list(db.engines) == [None]
    response = client.post("/sites", json={"name": "S", "address": "x"}, headers=user_headers)
    assert response.status_code == 201
    assert client.get_cookie(READ_PRIMARY_COOKIE) is None


@pytest.mark.parametrize(
    "value",
    ["9999999999", "inf", "nan", "-inf", "1e308"],
    ids=["far-future", "inf", "nan", "minus-inf", "huge"],
)
def test_an_unsigned_cookie_reads_the_replica(routed_app, value):
    client = routed_app.test_client()
    client.set_cookie(READ_PRIMARY_COOKIE, value)
    assert site_names(client.get("/sites")) == {"ONLY-ON-REPLICA"}


def test_a_cookie_signed_with_another_key_or_too_old_reads_the_replica(routed_app):
    class Past(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 31  # READ_YOUR_WRITES_SECONDS is 30

    secret, salt = routed_app.config["SECRET_KEY"], READ_PRIMARY_SALT
    client = routed_app.test_client()
    for forged in (TimestampSigner("another-secret", salt=salt), Past(secret, salt=salt)):
        client.set_cookie(READ_PRIMARY_COOKIE, forged.sign("primary").decode())
        assert site_names(client.get("/sites")) == {"ONLY-ON-REPLICA"}
    client.set_cookie(
        READ_PRIMARY_COOKIE, TimestampSigner(secret, salt=salt).sign("primary").decode()
    )
    assert site_names(client.get("/sites")) == {"ONLY-ON-PRIMARY"}
