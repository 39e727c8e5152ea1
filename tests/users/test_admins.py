"""Who is an admin, and what decides whether a token is accepted at all."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

from backend import create_app
from backend.devtools.oidc_issuer import LocalIssuer
from factories import UserFactory
from tests.conftest import ADMIN_ENTITLEMENT, bearer


def test_try_admin_is_204_for_admins(client, admin_headers):
    response = client.get("/users/self:try_admin", headers=admin_headers)

    assert response.status_code == 204
    assert response.data == b""


def test_try_admin_is_403_for_users(client, user_headers):
    response = client.get("/users/self:try_admin", headers=user_headers)

    assert response.status_code == 403
    assert "administrators" in response.json["message"]


def test_try_admin_is_403_for_unregistered_users(client, token_headers):
    assert client.get("/users/self:try_admin", headers=token_headers).status_code == 403


def test_try_admin_needs_a_token(client):
    assert client.get("/users/self:try_admin").status_code == 401


def test_admin_entitlement_among_others_is_enough(client, issuer, user):
    token = issuer.mint(
        user.sub, email=user.email, entitlements=["urn:other:group", ADMIN_ENTITLEMENT]
    )

    assert client.get("/users/self:try_admin", headers=bearer(token)).status_code == 204


def test_a_single_entitlement_as_a_string_is_enough(client, issuer, user):
    token = issuer.mint(
        user.sub, email=user.email, extra_claims={"eduperson_entitlement": ADMIN_ENTITLEMENT}
    )

    assert client.get("/users/self:try_admin", headers=bearer(token)).status_code == 204


def test_other_entitlements_are_not_admin(client, issuer, user):
    token = issuer.mint(
        user.sub, email=user.email, entitlements=[ADMIN_ENTITLEMENT + "#other", "urn:x"]
    )

    assert client.get("/users/self:try_admin", headers=bearer(token)).status_code == 403


def test_an_unregistered_admin_is_403(client, issuer):
    token = issuer.mint("not-registered", email="a@example.org", entitlements=[ADMIN_ENTITLEMENT])

    response = client.get("/users/self:try_admin", headers=bearer(token))

    assert response.status_code == 403
    assert "register" in response.json["message"]


def test_empty_admin_entitlements_make_nobody_admin(app_settings, admin_headers):
    app = create_app(**{**app_settings, "ADMIN_ENTITLEMENTS": []})

    response = app.test_client().get("/users/self:try_admin", headers=admin_headers)

    assert response.status_code == 403


def test_token_of_an_untrusted_issuer_is_401(client, issuer, tmp_path, monkeypatch):
    """A token that is valid in every way, but from an issuer not in TRUSTED_OP_LIST.

    flaat fetches the discovery document of the token's issuer before checking whether it
    trusts it, so its CA is trusted too: the rejection must come from the trust list.
    """
    untrusted = LocalIssuer(tmp_path / "untrusted").start()
    try:
        bundle = tmp_path / "both-cas.pem"
        bundle.write_bytes(issuer.ca_bundle.read_bytes() + b"\n" + untrusted.ca_file.read_bytes())
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
        monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
        user = UserFactory(iss=untrusted.url)
        token = untrusted.mint(user.sub, email=user.email, entitlements=[ADMIN_ENTITLEMENT])

        response = client.get("/users/self:try_admin", headers=bearer(token))

        assert response.status_code == 401
        assert "not trusted" in response.json["message"]
        assert client.post("/users:register", headers=bearer(token)).status_code == 401
    finally:
        untrusted.stop()


class RecordingHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.paths.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_an_untrusted_issuer_is_never_contacted(client):
    """Otherwise anyone could make the service send requests to URLs of their choice."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingHandler)
    server.paths = []
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        token = jwt.encode({"iss": url, "sub": "x", "exp": 2**31}, "k" * 32, algorithm="HS256")

        response = client.get("/users/self", headers=bearer(token))

        assert response.status_code == 401
        assert server.paths == []
    finally:
        server.shutdown()
        server.server_close()
