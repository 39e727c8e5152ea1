"""A worker remembers a checked token for OIDC_TOKEN_CACHE_SECONDS, never past its exp: a
client's next requests skip the signature check and the identity provider's slot.

Observed through the slot: with every identity-provider slot taken, a remembered token is
still served, and a token that has to be checked again gets 503.
"""

from __future__ import annotations

import pytest

from backend import create_app
from tests.conftest import bearer


@pytest.fixture
def one_slot_app(app_settings):
    def make(**settings):
        return create_app(
            **{**app_settings, "OIDC_MAX_CONCURRENT_REQUESTS": 1, "OIDC_QUEUE_TIMEOUT": 0.2},
            **settings,
        )

    return make


def status_with_every_slot_taken(app, token) -> tuple[int, int]:
    """The status of a first request, then of one sent while the only slot is held."""
    client = app.test_client()
    first = client.get("/users/self", headers=bearer(token)).status_code
    slots = app.extensions["identity_provider_slots"]
    assert slots.acquire(timeout=1)
    try:
        again = client.get("/users/self", headers=bearer(token)).status_code
    finally:
        slots.release()
    return first, again


def test_a_checked_token_is_remembered(one_slot_app, issuer, user):
    app = one_slot_app()
    with app.app_context():
        token = issuer.mint(user.sub, email=user.email)
        assert status_with_every_slot_taken(app, token) == (200, 200)


def test_a_token_is_not_remembered_past_its_expiry(one_slot_app, issuer, user):
    """Expired 20 s ago: still accepted within the clock-skew leeway, but checked each time."""
    app = one_slot_app()
    with app.app_context():
        token = issuer.mint(user.sub, email=user.email, expires_in=-20)
        assert status_with_every_slot_taken(app, token) == (200, 503)


def test_another_token_of_the_same_user_is_checked(one_slot_app, issuer, user):
    app = one_slot_app()
    with app.app_context():
        client = app.test_client()
        known = issuer.mint(user.sub, email=user.email)
        assert client.get("/users/self", headers=bearer(known)).status_code == 200
        other = issuer.mint(user.sub, email=user.email, extra_claims={"jti": "another"})
        assert status_with_every_slot_taken(app, other)[1] == 200
        slots = app.extensions["identity_provider_slots"]
        assert slots.acquire(timeout=1)
        try:
            fresh = issuer.mint(user.sub, email=user.email, extra_claims={"jti": "third"})
            assert client.get("/users/self", headers=bearer(fresh)).status_code == 503
        finally:
            slots.release()


def test_with_no_cache_seconds_every_request_is_checked(one_slot_app, issuer, user):
    app = one_slot_app(OIDC_TOKEN_CACHE_SECONDS=0)
    with app.app_context():
        token = issuer.mint(user.sub, email=user.email)
        assert status_with_every_slot_taken(app, token) == (200, 503)


def test_a_refused_token_is_not_remembered(client, issuer, user):
    token = issuer.mint(user.sub, email=user.email, issued_at=10**10)
    for _ in range(2):
        assert client.get("/users/self", headers=bearer(token)).status_code == 401
