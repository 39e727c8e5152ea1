"""What a token must say to be accepted: a signature by a trusted issuer's key with an
asymmetric algorithm, an expiry, a subject, the configured audience, and times that agree
with ours within OIDC_CLOCK_SKEW_SECONDS. Anything else is 401, never a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from backend import create_app
from factories import UserFactory
from tests.conftest import ADMIN_ENTITLEMENT, bearer

MISSING = object()


def get_self(client, token):
    return client.get("/users/self", headers=bearer(token))


def token_with(issuer, sub: str, name: str, value) -> str:
    """A valid token but for its claim ``name``: ``value``, or absent when MISSING."""
    if value is MISSING:
        return issuer.mint(sub, email="x@example.org", omit_claims=[name])
    return issuer.mint(sub, email="x@example.org", extra_claims={name: value})


# -- clock skew (OIDC_CLOCK_SKEW_SECONDS, default 60) -----------------------------------------


@pytest.mark.parametrize("seconds_ahead", [2, 50])
def test_a_token_from_an_issuer_whose_clock_is_ahead_is_accepted(
    client, issuer, user, seconds_ahead
):
    token = issuer.mint(user.sub, email=user.email, issued_at=int(time.time()) + seconds_ahead)

    assert get_self(client, token).status_code == 200


def test_a_token_issued_beyond_the_leeway_is_401(client, issuer, user):
    token = issuer.mint(user.sub, email=user.email, issued_at=int(time.time()) + 120)

    response = get_self(client, token)

    assert response.status_code == 401
    assert "not yet valid" in response.json["message"]


def test_a_token_that_expired_within_the_leeway_is_accepted(client, issuer, user):
    token = issuer.mint(user.sub, email=user.email, expires_in=-20)

    assert get_self(client, token).status_code == 200


def test_a_token_that_expired_beyond_the_leeway_is_401(client, issuer, user):
    token = issuer.mint(user.sub, email=user.email, expires_in=-120)

    response = get_self(client, token)

    assert response.status_code == 401
    assert "expired" in response.json["message"]


def test_the_leeway_is_a_setting(app_settings, issuer, user):
    strict = create_app(**{**app_settings, "OIDC_CLOCK_SKEW_SECONDS": 0}).test_client()
    token = issuer.mint(user.sub, email=user.email, issued_at=int(time.time()) + 5)

    assert get_self(strict, token).status_code == 401


# -- malformed tokens -----------------------------------------------------------------------


def signed_by_hand(issuer, user, algorithm: str, key) -> str:
    """A token with the issuer's kid and good claims, signed by something else."""
    claims = {"iss": issuer.url, "sub": user.sub, "exp": int(time.time()) + 600}
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": issuer.kid})


def issuer_public_key_pem(issuer) -> bytes:
    return issuer._signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_alg_none_with_the_issuers_kid_is_401(client, issuer, user):
    token = signed_by_hand(issuer, user, "none", None)

    assert get_self(client, token).status_code == 401


def test_alg_none_without_a_kid_is_401(client, issuer, user):
    claims = {"iss": issuer.url, "sub": user.sub, "exp": int(time.time()) + 600}

    assert get_self(client, jwt.encode(claims, None, algorithm="none")).status_code == 401


def test_hs256_with_the_issuers_kid_is_401(client, issuer, user):
    token = signed_by_hand(issuer, user, "HS256", "a-secret-the-caller-chose-32-bytes!")

    response = get_self(client, token)

    assert response.status_code == 401
    assert "algorithm" in response.json["message"]


def test_hs256_keyed_with_the_issuers_public_key_is_401(client, issuer, user):
    """The classic algorithm confusion: the public key, which anyone can fetch, as secret.
    Signed by hand: PyJWT itself refuses to make such a token."""
    header = {"alg": "HS256", "typ": "JWT", "kid": issuer.kid}
    claims = {"iss": issuer.url, "sub": user.sub, "exp": int(time.time()) + 600}
    signing_input = b".".join(
        jwt.utils.base64url_encode(json.dumps(part).encode()) for part in (header, claims)
    )
    signature = hmac.new(issuer_public_key_pem(issuer), signing_input, hashlib.sha256).digest()
    token = (signing_input + b"." + jwt.utils.base64url_encode(signature)).decode()

    assert get_self(client, token).status_code == 401


def test_a_token_with_an_unknown_kid_is_401(client, issuer, user):
    token = issuer.mint(user.sub, email=user.email)
    _, payload, signature = token.split(".")
    forged_header = jwt.utils.base64url_encode(
        b'{"alg":"RS256","typ":"JWT","kid":"no-such-key"}'
    ).decode()

    assert get_self(client, f"{forged_header}.{payload}.{signature}").status_code == 401


# -- required claims ------------------------------------------------------------------------


def test_a_token_without_exp_is_401(client, issuer, user):
    token = issuer.mint(user.sub, email=user.email, omit_claims=["exp"])

    response = get_self(client, token)

    assert response.status_code == 401
    assert "exp" in response.json["message"]


@pytest.mark.parametrize("sub", [MISSING, "", 42, "x" * 256], ids=["missing", "", "42", "long"])
def test_a_token_without_a_usable_sub_is_401(client, issuer, sub):
    """Before, a token without sub was the user whose sub is ''."""
    UserFactory(sub="", iss=issuer.url)

    response = get_self(client, token_with(issuer, "ignored", "sub", sub))

    assert response.status_code == 401
    assert "sub" in response.json["message"]


def test_a_non_numeric_iat_is_401(client, issuer, user):
    token = issuer.mint(user.sub, email=user.email, extra_claims={"iat": "yesterday"})

    assert get_self(client, token).status_code == 401


# -- audience (OIDC_AUDIENCE) ---------------------------------------------------------------


@pytest.fixture
def audience_client(app_settings):
    return create_app(**{**app_settings, "OIDC_AUDIENCE": "perf-api"}).test_client()


@pytest.mark.parametrize("aud", ["perf-api", ["other", "perf-api"]])
def test_a_token_for_the_configured_audience_is_accepted(audience_client, issuer, user, aud):
    token = issuer.mint(user.sub, email=user.email, extra_claims={"aud": aud})

    assert get_self(audience_client, token).status_code == 200


@pytest.mark.parametrize(
    "aud", ["other-service", ["other", "perf-api-2"], MISSING], ids=["other", "list", "missing"]
)
def test_a_token_for_another_audience_is_401(audience_client, issuer, user, aud):
    response = get_self(audience_client, token_with(issuer, user.sub, "aud", aud))

    assert response.status_code == 401
    assert "aud" in response.json["message"]


def test_without_oidc_audience_any_audience_is_accepted(client, issuer, user):
    token = issuer.mint(user.sub, email=user.email, extra_claims={"aud": "anything"})

    assert get_self(client, token).status_code == 200


# -- entitlements ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entitlements",
    [
        {ADMIN_ENTITLEMENT: True},
        [[ADMIN_ENTITLEMENT]],
        [ADMIN_ENTITLEMENT, ["nested"]],
        [{"urn": ADMIN_ENTITLEMENT}],
        42,
    ],
    ids=["object", "list of lists", "mixed list", "list of objects", "number"],
)
def test_entitlements_that_are_not_strings_make_nobody_admin(client, issuer, admin, entitlements):
    token = issuer.mint(
        admin.sub, email=admin.email, extra_claims={"eduperson_entitlement": entitlements}
    )

    response = client.get("/users/self:try_admin", headers=bearer(token))

    assert response.status_code == 403
    assert get_self(client, token).status_code == 200


@pytest.mark.parametrize("entitlements", [ADMIN_ENTITLEMENT, [ADMIN_ENTITLEMENT, "other"]])
def test_entitlements_as_a_string_or_a_list_of_strings_work(client, issuer, admin, entitlements):
    token = issuer.mint(
        admin.sub, email=admin.email, extra_claims={"eduperson_entitlement": entitlements}
    )

    assert client.get("/users/self:try_admin", headers=bearer(token)).status_code == 204
