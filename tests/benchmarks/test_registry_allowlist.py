"""The image check contacts only the registries an operator listed (IMAGE_REGISTRIES), as
written, and never a loopback, private or otherwise internal address that it did not list:
neither for a user-chosen registry, nor through DNS, nor via a token realm or redirect.

A "recording listener" is a listening socket nothing answers on: after the request, a
non-blocking accept tells whether anyone connected to it (the kernel completes every
connection attempt on its own, so an attempt cannot go unseen).
"""

# ruff: noqa: F811  (test parameters named after the imported image_registry fixture)
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from backend import create_app
from backend.errors import ImageNotFound, ServiceUnavailable
from backend.image_registry import (
    DOCKER_HUB_HOST,
    allowed_hosts,
    check_image_exists,
    parse_reference,
)
from backend.outbound_http import refused_because
from tests.support.registry import image_registry  # noqa: F401


class RecordingListener:
    """A TCP port that counts the connections made to it and never answers."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.socket.setblocking(False)
        self.port = self.socket.getsockname()[1]
        self.host = f"127.0.0.1:{self.port}"

    def connections(self) -> int:
        count = 0
        while True:
            try:
                connection, _ = self.socket.accept()
            except BlockingIOError:
                return count
            connection.close()
            count += 1


@pytest.fixture
def listener() -> Iterator[RecordingListener]:
    recording = RecordingListener()
    yield recording
    recording.socket.close()


def benchmark_body(image: str) -> dict:
    return {
        "docker_image": image,
        "docker_tag": "1.0",
        "url": "https://example.org/docs",
        "json_schema": {},
    }


def post_benchmark(app_settings, user_headers, image: str, **settings):
    app = create_app(
        **{**app_settings, "IMAGE_VALIDATION": "on", "IMAGE_REGISTRY_TIMEOUT": 1.0, **settings}
    )
    return app.test_client().post("/benchmarks", json=benchmark_body(image), headers=user_headers)


def test_a_registry_outside_the_list_is_422_naming_the_allowed_ones(
    app_settings, user_headers, listener
):
    response = post_benchmark(app_settings, user_headers, f"{listener.host}/team/solver")

    assert response.status_code == 422
    message = response.json["message"]
    assert f"'{listener.host}'" in message
    for allowed in ("docker.io", "ghcr.io", "quay.io", "registry.gitlab.com"):
        assert allowed in message
    assert "IMAGE_REGISTRIES" in message
    assert listener.connections() == 0


def test_the_list_is_the_operators(app_settings, user_headers, listener):
    response = post_benchmark(
        app_settings,
        user_headers,
        f"{listener.host}/team/solver",
        IMAGE_REGISTRIES=["registry.example.org"],
    )

    assert response.status_code == 422
    assert "registry.example.org" in response.json["message"]
    assert "quay.io" not in response.json["message"]
    assert listener.connections() == 0


def test_a_registry_listed_by_address_is_trusted_as_written(
    app_settings, user_headers, image_registry
):
    image_registry.push("team/listed", "1.0")

    response = post_benchmark(
        app_settings,
        user_headers,
        image_registry.image("team/listed"),
        IMAGE_REGISTRIES=[image_registry.host],
        IMAGE_REGISTRY_INSECURE=[image_registry.host],
    )

    assert response.status_code == 201


def test_a_listed_name_that_resolves_to_loopback_is_refused(app_settings, user_headers, listener):
    host = f"localhost:{listener.port}"

    response = post_benchmark(
        app_settings,
        user_headers,
        f"{host}/team/solver",
        IMAGE_REGISTRIES=[host],
        IMAGE_REGISTRY_INSECURE=[host],
    )

    assert response.status_code == 503
    message = response.json["message"]
    assert "localhost" in message
    assert "loopback" in message
    assert "IMAGE_REGISTRIES" in message
    assert listener.connections() == 0


def test_entries_are_normalised_and_docker_hub_aliases_are_one_registry():
    assert allowed_hosts(["Docker.io", " ", "https://ghcr.io/", "index.docker.io"]) == {
        DOCKER_HUB_HOST,
        "ghcr.io",
    }
    for image in ("ubuntu", "docker.io/library/ubuntu", "index.docker.io/user/repo"):
        assert parse_reference(image)[0] in allowed_hosts(["docker.io"])


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.2", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("fd00::1", "private"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not globally routable"),
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
    ],
)
def test_internal_addresses_are_named_as_such(address, reason):
    assert refused_because(address) == reason


# -- where a listed registry sends the check ------------------------------------------------


class _Registry(ThreadingHTTPServer):
    """Answers every manifest request with a token challenge or a redirect to ``target``."""

    daemon_threads = True

    def __init__(self, *, realm: str | None = None, redirect: str | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.realm, self.redirect = realm, redirect

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Registry

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        if self.server.redirect:
            self.send_response(307)
            self.send_header("Location", self.server.redirect)
        else:
            self.send_response(401)
            self.send_header(
                "WWW-Authenticate", f'Bearer realm="{self.server.realm}",service="registry"'
            )
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD


@contextmanager
def listed_registry(**behaviour) -> Iterator[_Registry]:
    server = _Registry(**behaviour)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def check_listed(server: _Registry) -> None:
    check_image_exists(
        f"{server.host}/team/solver",
        "1.0",
        timeout=1,
        allowed_registries=[server.host],
        insecure_registries=[server.host],
    )


@pytest.mark.parametrize("realm_host", ["127.0.0.1", "localhost"])
def test_a_token_realm_at_an_internal_address_is_not_followed(listener, realm_host):
    realm = f"http://{realm_host}:{listener.port}/token"
    with listed_registry(realm=realm) as server, pytest.raises(ServiceUnavailable) as caught:
        check_listed(server)

    assert f"{realm_host}:{listener.port}" in caught.value.message
    assert "loopback" in caught.value.message
    assert listener.connections() == 0


def test_a_redirect_to_an_internal_address_is_not_followed(listener):
    target = f"http://127.0.0.1:{listener.port}/v2/team/solver/manifests/1.0"
    with listed_registry(redirect=target) as server, pytest.raises(ServiceUnavailable) as caught:
        check_listed(server)

    assert listener.host in caught.value.message
    assert listener.connections() == 0


def test_the_token_realm_on_the_listed_host_itself_is_followed():
    with listed_registry(realm="placeholder") as server:
        server.realm = f"http://{server.host}/token"
        # The realm answers 401 too: the check got there and reports the refusal.
        with pytest.raises(ImageNotFound, match="refused an anonymous pull token"):
            check_listed(server)


def test_the_check_sends_nothing_through_an_environment_proxy(monkeypatch, listener):
    monkeypatch.setenv("HTTP_PROXY", f"http://{listener.host}")
    monkeypatch.setenv("NO_PROXY", "")
    with listed_registry(realm="placeholder") as server:
        server.realm = f"http://{server.host}/token"
        with pytest.raises(ImageNotFound):
            check_listed(server)
    assert listener.connections() == 0


def test_settings_default_to_the_public_registries():
    app = create_app(APP_ENV="development", DATABASE_URL="sqlite:///:memory:")
    assert app.config["IMAGE_REGISTRIES"] == [
        "docker.io",
        "ghcr.io",
        "quay.io",
        "registry.gitlab.com",
    ]
