"""The local OIDC issuer against the real flaat verification path (no mocks).

flaat caches user infos per (Flaat instance, token), so every case mints its
own token (each carries a random jti).
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from flaat.exceptions import FlaatUnauthenticated
from flaat.flask import Flaat
from flask import Flask, request

from backend.devtools import oidc_issuer
from backend.devtools.oidc_issuer import LocalIssuer

REPO_ROOT = Path(__file__).resolve().parents[2]
ENTITLEMENT = "urn:mace:egi.eu:group:eosc-performance:role=member#aai.egi.eu"


@pytest.fixture(autouse=True)
def app_context():
    """Overrides tests/conftest.py: these tests need neither the service app nor its database."""
    yield


@pytest.fixture
def fresh_issuer(tmp_path, monkeypatch):
    """Own issuer per test (unlike the session one in conftest): some tests stop it."""
    local = LocalIssuer(tmp_path / "issuer").start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(local.ca_bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(local.ca_bundle))
    yield local
    local.stop()


@pytest.fixture
def flaat_app(fresh_issuer):
    """A minimal Flask app whose Flaat trusts only fresh_issuer."""
    app = Flask(__name__)
    app.extensions["flaat"] = flaat = Flaat()
    flaat.init_app(app)
    with app.app_context():
        flaat.set_trusted_OP_list([fresh_issuer.url])
    return app


def authenticate(app, token):
    """What the service does: user infos from the request, unverified ones rejected."""
    flaat = app.extensions["flaat"]
    with app.test_request_context(headers={"Authorization": f"Bearer {token}"}):
        return flaat.get_user_infos_from_request(request)


def test_minted_token_is_accepted(flaat_app, fresh_issuer):
    token = fresh_issuer.mint("alice", email="alice@example.org", entitlements=[ENTITLEMENT])

    infos = authenticate(flaat_app, token)

    assert infos.subject == "alice"
    assert infos.issuer == fresh_issuer.url
    assert infos["email"] == "alice@example.org"
    assert infos["email_verified"] is True
    assert infos["eduperson_entitlement"] == [ENTITLEMENT]
    # Signature checked against our JWKS, and userinfo answered over TLS.
    assert infos.access_token_info.verification == {"algorithm": "RS256"}
    assert infos.access_token_info.header["kid"] == fresh_issuer.kid
    assert infos.access_token_info.body["aud"] == "eosc-performance"
    assert infos.user_info["sub"] == "alice"


def test_expired_token_is_rejected(flaat_app, fresh_issuer):
    token = fresh_issuer.mint("bob", expires_in=-60)

    with pytest.raises(FlaatUnauthenticated, match="expired"):
        authenticate(flaat_app, token)


def test_token_of_untrusted_issuer_is_rejected(flaat_app, fresh_issuer):
    # Same state dir, so same CA and same signing key: the token is validly
    # signed and TLS works; only the trusted list stands in the way.
    with LocalIssuer(fresh_issuer.state_dir) as other:
        assert other.url != fresh_issuer.url
        token = other.mint("mallory", email="mallory@example.org")

        with pytest.raises(FlaatUnauthenticated, match="not trusted"):
            authenticate(flaat_app, token)


def test_token_signed_by_another_key_is_rejected(flaat_app, fresh_issuer, tmp_path):
    forger = LocalIssuer(tmp_path / "forger", port=fresh_issuer.port)
    assert forger.url == fresh_issuer.url
    assert forger.kid != fresh_issuer.kid
    token = forger.mint("mallory", entitlements=[ENTITLEMENT])

    # flaat's display path is lenient: it returns the claims, marked unverified...
    flaat = flaat_app.extensions["flaat"]
    with flaat_app.app_context():
        infos = flaat.get_user_infos_from_access_token(token)
    assert infos.access_token_info.verification is None
    # ...but authentication refuses them.
    with pytest.raises(FlaatUnauthenticated, match="not verified"):
        authenticate(flaat_app, token)


def test_token_with_forged_kid_is_rejected(flaat_app, fresh_issuer, tmp_path):
    forger = LocalIssuer(tmp_path / "forger", port=fresh_issuer.port)
    key_pem = (forger.state_dir / oidc_issuer.SIGNING_KEY_FILE).read_bytes()
    claims = jwt.decode(forger.mint("mallory"), options={"verify_signature": False})
    token = jwt.encode(
        claims,
        serialization.load_pem_private_key(key_pem, password=None),
        algorithm="RS256",
        headers={"kid": fresh_issuer.kid},
    )

    with pytest.raises(FlaatUnauthenticated, match="Signature verification failed"):
        authenticate(flaat_app, token)


def get(issuer, path, token=None):
    """GET trusting only the private CA, which proves the server certificate chain."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return requests.get(
        f"{issuer.url}{path}", headers=headers, verify=str(issuer.ca_file), timeout=10
    )


def test_endpoints(fresh_issuer):
    config = get(fresh_issuer, "/.well-known/openid-configuration")
    assert config.status_code == 200
    assert config.json()["issuer"] == fresh_issuer.url
    assert config.json()["jwks_uri"] == f"{fresh_issuer.url}/jwks"
    assert config.json()["userinfo_endpoint"] == f"{fresh_issuer.url}/userinfo"
    assert config.json()["id_token_signing_alg_values_supported"] == ["RS256"]

    (jwk,) = get(fresh_issuer, "/jwks").json()["keys"]
    assert (jwk["kid"], jwk["alg"], jwk["use"], jwk["kty"]) == (
        fresh_issuer.kid,
        "RS256",
        "sig",
        "RSA",
    )

    token = fresh_issuer.mint("carol", email="carol@example.org", entitlements=[ENTITLEMENT])
    userinfo = get(fresh_issuer, "/userinfo", token)
    assert userinfo.status_code == 200
    assert userinfo.json() == {
        "sub": "carol",
        "iss": fresh_issuer.url,
        "email": "carol@example.org",
        "email_verified": True,
        "eduperson_entitlement": [ENTITLEMENT],
    }

    for bad_token in ("garbage", fresh_issuer.mint("carol", expires_in=-1)):
        response = get(fresh_issuer, "/userinfo", bad_token)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_token"
    assert get(fresh_issuer, "/userinfo").status_code == 401

    assert get(fresh_issuer, "/token").status_code == 404

    post = requests.post(
        f"{fresh_issuer.url}/userinfo",
        data={"a": "b"},
        headers={"Authorization": f"Bearer {token}"},
        verify=str(fresh_issuer.ca_file),
        timeout=10,
    )
    assert post.status_code == 200
    assert post.json()["sub"] == "carol"
    for method in ("POST", "PUT", "DELETE"):
        response = requests.request(
            method,
            f"{fresh_issuer.url}/jwks",
            data="x",
            verify=str(fresh_issuer.ca_file),
            timeout=10,
        )
        assert response.status_code == 404


def test_state_survives_restart(flaat_app, fresh_issuer):
    port, kid, ca_pem = fresh_issuer.port, fresh_issuer.kid, fresh_issuer.ca_file.read_bytes()
    token = fresh_issuer.mint("dave", email="dave@example.org")
    fresh_issuer.stop()

    with LocalIssuer(fresh_issuer.state_dir, port=port) as restarted:
        assert (restarted.url, restarted.kid) == (fresh_issuer.url, kid)
        assert restarted.ca_file.read_bytes() == ca_pem
        assert authenticate(flaat_app, token).subject == "dave"


def test_ca_bundle_adds_private_ca_to_system_cas(fresh_issuer):
    bundle = fresh_issuer.ca_bundle.read_bytes()
    assert bundle.startswith(fresh_issuer.ca_file.read_bytes())
    assert bundle.count(b"-----BEGIN CERTIFICATE-----") > 1


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "backend.devtools.oidc_issuer", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_cli_mint(flaat_app, fresh_issuer):
    result = _run(
        "mint",
        *("--state-dir", str(fresh_issuer.state_dir), "--url", fresh_issuer.url, "--sub", "erin"),
        *("--email", "erin@example.org", "--entitlement", ENTITLEMENT, "--expires-in", "600"),
    )

    infos = authenticate(flaat_app, result.stdout.strip())
    assert (infos.subject, infos["email"]) == ("erin", "erin@example.org")
    assert infos["eduperson_entitlement"] == [ENTITLEMENT]


def test_cli_serve(tmp_path):
    state_dir = tmp_path / "served"
    command = [sys.executable, "-m", "backend.devtools.oidc_issuer", "serve", "--state-dir"]
    with subprocess.Popen(
        [*command, str(state_dir)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    ) as process:
        # Read in a thread, so that a server that never prints fails instead of hanging.
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout])
        reader.start()
        try:
            printed = dict(lines.get(timeout=30).strip().split("=", 1) for _ in range(2))
            assert Path(printed["ca_bundle"]) == state_dir.resolve() / oidc_issuer.CA_BUNDLE_FILE
            config = requests.get(
                f"{printed['url']}/.well-known/openid-configuration",
                verify=printed["ca_bundle"],
                timeout=10,
            )
            assert config.json()["issuer"] == printed["url"]
        finally:
            process.terminate()
            assert process.wait(timeout=10) == 0  # SIGTERM is a clean shutdown
            reader.join(timeout=10)
