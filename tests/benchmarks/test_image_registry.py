"""``backend.image_registry`` against a real registry (Debian's docker-registry), no mocks.

A few protocol paths that docker-registry cannot be configured to produce without a token
server (anonymous Bearer tokens, HEAD refused with 405, 5xx) are exercised against a tiny
local HTTP server speaking just enough of the distribution API.
"""

# ruff: noqa: F811  (test parameters named after the imported image_registry fixture)
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from backend.errors import DomainError, ImageNotFound, ServiceUnavailable
from backend.image_registry import DOCKER_HUB_HOST, check_image_exists, parse_reference
from tests.support.registry import DOCKER_MANIFEST, image_registry  # noqa: F401

# -- reference parsing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("ubuntu", (DOCKER_HUB_HOST, "library/ubuntu")),
        ("user/repo", (DOCKER_HUB_HOST, "user/repo")),
        ("user/team/repo", (DOCKER_HUB_HOST, "user/team/repo")),
        ("docker.io/ubuntu", (DOCKER_HUB_HOST, "library/ubuntu")),
        ("docker.io/library/ubuntu", (DOCKER_HUB_HOST, "library/ubuntu")),
        ("index.docker.io/user/repo", (DOCKER_HUB_HOST, "user/repo")),
        ("ghcr.io/org/image", ("ghcr.io", "org/image")),
        ("quay.io/org/sub/image", ("quay.io", "org/sub/image")),
        ("host:5000/repo", ("host:5000", "repo")),
        ("registry.example.org:5000/team/image", ("registry.example.org:5000", "team/image")),
        ("localhost/repo", ("localhost", "repo")),
        ("localhost:5000/a/b", ("localhost:5000", "a/b")),
        ("127.0.0.1:5000/repo", ("127.0.0.1:5000", "repo")),
        ("[::1]:5000/repo", ("[::1]:5000", "repo")),
        ("Registry.Example.ORG/repo", ("registry.example.org", "repo")),
        ("my_user/my-image.v2__x", (DOCKER_HUB_HOST, "my_user/my-image.v2__x")),
        ("a---b/c", (DOCKER_HUB_HOST, "a---b/c")),
    ],
)
def test_parse_reference(image, expected):
    assert parse_reference(image) == expected


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        ("", "empty"),
        ("Ubuntu", "lowercase"),
        ("user/Repo", "lowercase"),
        ("ghcr.io/Org/image", "lowercase"),
        ("ubuntu latest", "whitespace"),
        (" ubuntu", "whitespace"),
        ("ubuntu:22.04", "docker_tag"),
        ("ghcr.io/org/image:1.0", "docker_tag"),
        ("ubuntu@sha256:" + "a" * 64, "digest"),
        ("a//b", "empty path component"),
        ("/ubuntu", "empty path component"),
        ("ubuntu/", "empty path component"),
        ("-ubuntu", "'-ubuntu'"),
        ("ubu..ntu", "'ubu..ntu'"),
        ("ghcr.io/", "empty path component"),
        ("bad_host.io:x/repo", "registry host"),
        ("u/" + "a" * 260, "longer than 255"),
    ],
)
def test_parse_reference_rejects_malformed(image, reason):
    with pytest.raises(ImageNotFound) as caught:
        parse_reference(image)
    assert isinstance(caught.value, DomainError)
    assert caught.value.status_code == 422
    assert repr(image) in caught.value.message
    assert reason in caught.value.message


@pytest.mark.parametrize("tag", ["", "bad tag", ".hidden", "-x", "tãg", "a" * 129, "sha256:xyz"])
def test_malformed_tag_is_rejected_before_any_request(tag):
    with pytest.raises(ImageNotFound, match="Invalid docker_tag"):
        check_image_exists("127.0.0.1:9/repo", tag, timeout=0.1)


# -- against docker-registry ----------------------------------------------------------------


def _check(registry, repo, tag, **kwargs):
    kwargs.setdefault("insecure_registries", registry.insecure_registries)
    check_image_exists(registry.image(repo), tag, **kwargs)


def test_existing_oci_tag_passes(image_registry):
    image_registry.push("team/solver", "1.0")
    _check(image_registry, "team/solver", "1.0")


def test_existing_docker_schema2_tag_passes(image_registry):
    image_registry.push("team/legacy", "v2", media_type=DOCKER_MANIFEST)
    _check(image_registry, "team/legacy", "v2")


def test_single_component_repo_and_digest_pin_pass(image_registry):
    digest = image_registry.push("solo", "latest")
    _check(image_registry, "solo", "latest")
    _check(image_registry, "solo", digest)


def test_insecure_registry_entry_is_normalised(image_registry):
    image_registry.push("team/norm", "1")
    _check(image_registry, "team/norm", "1", insecure_registries=[" ", f"{image_registry.url}/"])


def test_missing_tag_is_image_not_found_naming_the_reference(image_registry):
    image_registry.push("team/tagged", "1.0")
    with pytest.raises(ImageNotFound) as caught:
        _check(image_registry, "team/tagged", "2.0")
    message = caught.value.message
    assert f"{image_registry.host}/team/tagged:2.0" in message
    assert "no tag '2.0'" in message
    assert "docker_tag" in message


def test_missing_digest_is_image_not_found(image_registry):
    image_registry.push("team/pinned", "1.0")
    digest = "sha256:" + "0" * 64
    with pytest.raises(ImageNotFound) as caught:
        _check(image_registry, "team/pinned", digest)
    assert f"{image_registry.host}/team/pinned@{digest}" in caught.value.message


def test_missing_repository_is_image_not_found(image_registry):
    with pytest.raises(ImageNotFound) as caught:
        _check(image_registry, "team/never-pushed", "1.0")
    message = caught.value.message
    assert f"{image_registry.host}/team/never-pushed:1.0" in message
    assert "repository 'team/never-pushed' does not exist" in message
    assert "docker_image" in message


def test_plain_http_registry_not_declared_insecure_is_unavailable(image_registry):
    image_registry.push("team/tls", "1")
    with pytest.raises(ServiceUnavailable) as caught:
        _check(image_registry, "team/tls", "1", insecure_registries=(), timeout=2)
    assert "IMAGE_REGISTRY_INSECURE" in caught.value.message
    assert caught.value.status_code == 503


# -- unreachable registries -----------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def test_closed_port_is_service_unavailable_quickly():
    host = f"127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as caught:
        check_image_exists(f"{host}/team/solver", "1.0", timeout=0.5, insecure_registries=[host])
    assert time.monotonic() - started < 2
    assert f"{host}/team/solver:1.0" in caught.value.message
    assert "ask an admin" in caught.value.message


def test_silent_registry_times_out_within_the_timeout():
    with socket.socket() as sock:  # accepts connections (backlog) but never answers
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        host = f"127.0.0.1:{sock.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable, match=r"did not answer within 0\.5 s"):
            check_image_exists(
                f"{host}/team/solver", "1.0", timeout=0.5, insecure_registries=[host]
            )
        assert time.monotonic() - started < 2


# -- protocol paths docker-registry does not produce without a token server -----------------


class _FakeRegistry(ThreadingHTTPServer):
    """Serves /token and /v2/<repo>/manifests/<tag> with configurable behaviour."""

    daemon_threads = True

    def __init__(self, *, bearer=False, head_allowed=True, status=200, public=True):
        super().__init__(("127.0.0.1", 0), _FakeHandler)
        self.bearer, self.head_allowed, self.status, self.public = (
            bearer,
            head_allowed,
            status,
            public,
        )
        self.requests: list[tuple[str, str, dict]] = []

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _FakeHandler(BaseHTTPRequestHandler):
    server: _FakeRegistry

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._handle("GET")

    def do_HEAD(self):
        self._handle("HEAD")

    def _handle(self, method):
        srv = self.server
        url = urlsplit(self.path)
        srv.requests.append((method, self.path, dict(self.headers)))
        if url.path == "/token":
            query = parse_qs(url.query)
            ok = query.get("service") == ["fake"] and query.get("scope") == [
                "repository:team/solver:pull"
            ]
            return self._send(200 if ok else 400, {"token": "anon-token"})
        if srv.bearer and self.headers.get("Authorization") != "Bearer anon-token":
            realm = f"http://{srv.host}/token"
            challenge = (
                f'Basic realm="other", Bearer realm="{realm}",service="fake",'
                'scope="repository:team/solver:pull"'
            )
            return self._send(401, {"errors": [{"code": "UNAUTHORIZED"}]}, challenge)
        if method == "HEAD" and not srv.head_allowed:
            return self._send(405, {"errors": [{"code": "UNSUPPORTED"}]})
        if not srv.public:
            return self._send(401, {"errors": [{"code": "UNAUTHORIZED"}]})
        if "application/vnd.oci.image.manifest.v1+json" not in self.headers.get("Accept", ""):
            return self._send(404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})
        self._send(srv.status, {"schemaVersion": 2} if srv.status == 200 else {"errors": []})

    def _send(self, status, body, challenge=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if challenge:
            self.send_header("WWW-Authenticate", challenge)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


@pytest.fixture
def fake_registry():
    servers = []

    def start(**kwargs):
        server = _FakeRegistry(**kwargs)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _fake_check(server, tag="1.0"):
    check_image_exists(
        f"{server.host}/team/solver", tag, timeout=2, insecure_registries=[server.host]
    )


def test_anonymous_bearer_token_is_fetched_and_used(fake_registry):
    server = fake_registry(bearer=True)
    _fake_check(server)
    paths = [(method, path.split("?")[0]) for method, path, _ in server.requests]
    assert paths == [
        ("HEAD", "/v2/team/solver/manifests/1.0"),
        ("GET", "/token"),
        ("HEAD", "/v2/team/solver/manifests/1.0"),
    ]
    assert server.requests[-1][2]["Authorization"] == "Bearer anon-token"


def test_head_refused_falls_back_to_get(fake_registry):
    server = fake_registry(head_allowed=False)
    _fake_check(server)
    assert [method for method, _, _ in server.requests] == ["HEAD", "GET"]


def test_private_repository_says_it_must_be_public(fake_registry):
    server = fake_registry(bearer=True, public=False)
    with pytest.raises(ImageNotFound) as caught:
        _fake_check(server)
    assert f"{server.host}/team/solver:1.0" in caught.value.message
    assert "must exist and be public" in caught.value.message


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_is_service_unavailable(fake_registry, status):
    server = fake_registry(status=status)
    with pytest.raises(ServiceUnavailable) as caught:
        _fake_check(server)
    assert f"HTTP {status}" in caught.value.message
    assert "try again" in caught.value.message.lower()


def test_rate_limit_is_service_unavailable(fake_registry):
    server = fake_registry(status=429)
    with pytest.raises(ServiceUnavailable, match="rate-limiting"):
        _fake_check(server)
