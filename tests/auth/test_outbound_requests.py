"""The Authorization header never makes the service contact an address the caller chose,
and every call it does make to an identity provider is timed out and bounded.

Each listener here is a raw TCP socket that records every connection, so "no outbound
request" is observed on the wire rather than inferred from the status code.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time

import jwt
import pytest

from backend import create_app
from tests.conftest import bearer


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts.

    ``hold`` keeps each connection open without a byte of answer (an identity provider
    that hangs); otherwise it is closed at once.
    """

    def __init__(self, hold: bool = False) -> None:
        self.hold = hold
        self.connections = 0
        self.connected = threading.Event()
        self._held: list[socket.socket] = []
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._socket.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            self.connected.set()
            if self.hold:
                self._held.append(connection)
            else:
                connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for connection in self._held:
            connection.close()
        self._socket.close()


@pytest.fixture
def listener():
    recording = Listener()
    yield recording
    recording.close()


@pytest.fixture
def hanging_issuer():
    hanging = Listener(hold=True)
    yield hanging
    hanging.close()


def unsigned_token(iss, sub: str = "someone") -> str:
    """A JWT nobody signed (alg none), naming ``iss`` as its issuer; built by hand, since
    PyJWT refuses to encode an ``iss`` that is not a string."""
    header = {"alg": "none", "typ": "JWT"}
    claims = {"iss": iss, "sub": sub, "exp": int(time.time()) + 600}
    return ".".join(_b64url(json.dumps(part).encode()) for part in (header, claims)) + "."


def forged_token(iss: str) -> str:
    """A JWT that looks RS256-signed by ``iss`` (so it gets as far as fetching its keys)."""
    header = {"alg": "RS256", "typ": "JWT", "kid": "some-key"}
    claims = {"iss": iss, "sub": "someone", "exp": int(time.time()) + 600}
    parts = [_b64url(json.dumps(part).encode()) for part in (header, claims)]
    return ".".join([*parts, _b64url(b"not a signature")])


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hmac_token(iss: str) -> str:
    claims = {"iss": iss, "sub": "someone", "exp": int(time.time()) + 600}
    return jwt.encode(claims, "k" * 32, algorithm="HS256")


def header_variants(token: str) -> dict[str, str]:
    """Authorization headers that carry ``token`` in every shape seen in the wild or in
    attacks: flaat removed every 'Bearer ' it found, so some of these reached it intact."""
    return {
        "plain": f"Bearer {token}",
        "double bearer": f"Bearer Bearer {token}",
        "bearer inside the token": f"Bearer {token[:12]}Bearer {token[12:]}",
        "bearer at the end": f"Bearer {token}Bearer ",
        "lower-case scheme": f"bearer {token}",
        "upper-case scheme": f"BEARER {token}",
        "tab": f"Bearer\t{token}",
        "two spaces": f"Bearer  {token}",
        "extra token": f"Bearer {token} {token}",
        "trailing space": f"Bearer {token} ",
        "no scheme": token,
        "other scheme": f"Basic {token}",
        "comma list": f"Bearer {token}, Bearer {token}",
    }


@pytest.mark.parametrize("signing", ["none", "HS256"])
def test_a_token_naming_an_untrusted_issuer_never_reaches_it(client, listener, signing):
    token = unsigned_token(listener.url) if signing == "none" else hmac_token(listener.url)

    statuses = {
        name: client.get("/users/self", headers={"Authorization": value}).status_code
        for name, value in header_variants(token).items()
    }

    assert statuses == dict.fromkeys(statuses, 401)
    assert listener.connections == 0


UNUSABLE_ISSUERS = {
    "list": lambda url: [url],
    "object": lambda url: {"url": url},
    "empty": lambda url: "",
    "null": lambda url: None,
    "number": lambda url: 443,
    "path below": lambda url: url + "/realms/x",
    "plain http": lambda url: url.replace("https:", "http:"),
}


@pytest.mark.parametrize("make_iss", UNUSABLE_ISSUERS.values(), ids=UNUSABLE_ISSUERS.keys())
def test_a_token_with_an_unusable_issuer_is_401(client, listener, make_iss):
    token = unsigned_token(make_iss(listener.url))

    statuses = {
        name: client.get("/users/self", headers={"Authorization": value}).status_code
        for name, value in header_variants(token).items()
    }

    assert statuses == dict.fromkeys(statuses, 401)
    assert listener.connections == 0


def test_a_malformed_header_says_what_to_send(client, issuer):
    token = issuer.mint("alice", email="alice@example.org")

    response = client.get("/users/self", headers={"Authorization": f"Bearer Bearer {token}"})

    assert response.status_code == 401
    assert "Authorization: Bearer <" in response.json["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_the_scheme_is_case_insensitive(client, issuer, user, scheme):
    token = issuer.mint(user.sub, email=user.email)

    response = client.get("/users/self", headers={"Authorization": f"{scheme} {token}"})

    assert response.status_code == 200


@pytest.fixture
def make_app(app_settings):
    def make(**overrides):
        return create_app(**{**app_settings, **overrides})

    return make


def test_a_hanging_trusted_issuer_is_timed_out(make_app, issuer, hanging_issuer):
    """OIDC_REQUEST_TIMEOUT bounds every call; flaat's own default was 5 s per discovery
    URL (two of them), whatever the setting said."""
    app = make_app(
        TRUSTED_OP_LIST=[issuer.url, hanging_issuer.url],
        OIDC_REQUEST_TIMEOUT=0.5,
    )
    token = forged_token(hanging_issuer.url)

    started = time.monotonic()
    response = app.test_client().get("/users/self", headers=bearer(token))
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert "identity provider" in response.json["message"]
    assert hanging_issuer.connections >= 1
    assert elapsed < 4.0  # flaat alone took 5 s per discovery URL, two URLs


def test_an_opaque_token_asks_hanging_trusted_issuers_with_the_timeout(
    make_app, issuer, hanging_issuer
):
    """flaat asks every trusted issuer about a token that is not a JWT: each ask is timed."""
    app = make_app(TRUSTED_OP_LIST=[issuer.url, hanging_issuer.url], OIDC_REQUEST_TIMEOUT=0.5)

    started = time.monotonic()
    response = app.test_client().get("/users/self", headers=bearer("an-opaque-token"))
    elapsed = time.monotonic() - started

    assert response.status_code == 401
    assert hanging_issuer.connections >= 1
    assert elapsed < 4.0  # two discovery URLs of 0.5 s each, and the real issuer


def test_calls_to_identity_providers_are_bounded(make_app, issuer, user, hanging_issuer):
    """With every slot taken by a hanging provider, other token checks get 503 quickly
    (opaque tokens, which flaat tries at every trusted issuer, included); afterwards they
    work again."""
    app = make_app(
        TRUSTED_OP_LIST=[issuer.url, hanging_issuer.url],
        OIDC_REQUEST_TIMEOUT=1.5,
        OIDC_MAX_CONCURRENT_REQUESTS=1,
        OIDC_QUEUE_TIMEOUT=0.2,
    )
    client = app.test_client()
    valid = bearer(issuer.mint(user.sub, email=user.email))
    stuck: list[int] = []
    holder = threading.Thread(
        target=lambda: stuck.append(
            client.get("/users/self", headers=bearer(forged_token(hanging_issuer.url))).status_code
        )
    )
    holder.start()
    try:
        assert hanging_issuer.connected.wait(5)

        started = time.monotonic()
        busy = client.get("/users/self", headers=valid)
        busy_opaque = client.get("/users/self", headers=bearer("an-opaque-token"))
        elapsed = time.monotonic() - started
    finally:
        holder.join()

    assert busy.status_code == 503
    assert "identity provider" in busy.json["message"]
    assert busy_opaque.status_code == 503
    assert elapsed < 1.0
    assert stuck == [503]
    assert client.get("/users/self", headers=valid).status_code == 200
