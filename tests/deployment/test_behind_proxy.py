"""Behind a reverse proxy that serves the API under /api/v1 and says so in
X-Forwarded-Prefix: the spec, its ``servers`` entry and Swagger UI follow the prefix."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading

import flask_migrate
import pytest
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.serving import make_server

from backend import create_app
from tests.deployment.processes import free_port, require

PREFIX = {"X-Forwarded-Prefix": "/api/v1"}


@pytest.fixture
def proxied_app(app_settings):
    return create_app(**{**app_settings, "PROXY_FIX_X_PREFIX": 1})


def test_the_spec_names_the_prefix_as_its_server(proxied_app):
    response = proxied_app.test_client().get("/api-spec.json", headers=PREFIX)
    assert response.status_code == 200
    assert response.json["servers"] == [{"url": "/api/v1"}]
    assert "/benchmarks" in response.json["paths"]


def test_without_a_prefix_the_server_is_the_root(client):
    assert client.get("/api-spec.json").json["servers"] == [{"url": "/"}]


def test_the_prefix_header_is_ignored_unless_proxy_fix_trusts_it(client, app):
    assert not isinstance(app.wsgi_app, ProxyFix)
    assert client.get("/api-spec.json", headers=PREFIX).json["servers"] == [{"url": "/"}]


def test_swagger_ui_loads_its_assets_and_spec_through_the_prefix(proxied_app):
    client = proxied_app.test_client()
    page = client.get("/", headers=PREFIX).text
    urls = re.findall(r'(?:href|src|data-spec-url)="([^"]+)"', page)
    assert len(urls) == 4
    for url in urls:
        assert url.startswith("/api/v1/")
        # The proxy strips the prefix before passing the request on.
        assert client.get(url.removeprefix("/api/v1"), headers=PREFIX).status_code == 200


def test_proxy_fix_counts_come_from_the_settings(app_settings):
    app = create_app(**{**app_settings, "PROXY_FIX_X_FOR": 1, "PROXY_FIX_X_PROTO": 2})
    assert isinstance(app.wsgi_app, ProxyFix)
    assert (app.wsgi_app.x_for, app.wsgi_app.x_proto, app.wsgi_app.x_prefix) == (1, 2, 0)


def test_swagger_ui_renders_under_the_csp_behind_the_prefix(app_settings, tmp_path):
    """A real browser: the page only renders if the CSP lets Swagger UI's files run."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    require(chromium is not None, "chromium is not installed (apt-get install chromium)")
    app = create_app(
        **{**app_settings, "PROXY_FIX_X_PREFIX": 1, "DATABASE_URL": f"sqlite:///{tmp_path}/ui.db"}
    )
    with app.app_context():
        flask_migrate.upgrade()

    def reverse_proxy(environ, start_response):
        """What nginx does for `location /api/v1/ { proxy_pass http://backend/; }`."""
        environ["PATH_INFO"] = environ["PATH_INFO"].removeprefix("/api/v1")
        environ["HTTP_X_FORWARDED_PREFIX"] = "/api/v1"
        return app(environ, start_response)

    port = free_port()
    server = make_server("127.0.0.1", port, reverse_proxy, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page = subprocess.run(
            [
                chromium, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", f"--user-data-dir={tmp_path / 'chromium'}",
                "--virtual-time-budget=10000",
                "--dump-dom", f"http://127.0.0.1:{port}/api/v1/",
            ],
            capture_output=True, text=True, timeout=120, check=True,
        ).stdout  # fmt: skip
    finally:
        server.shutdown()
        thread.join(timeout=10)
    assert re.search(r'class="title">EOSC Performance API', page)
    assert '<option value="/api/v1"' in page
    assert 'data-path="/benchmarks:search"' in page
