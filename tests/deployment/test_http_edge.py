"""What every response carries: security headers, the request id, and CORS headers for the
configured browser origins."""

from __future__ import annotations

import re

import pytest

from backend import create_app

FRONTEND = "https://perf.example.org"


@pytest.fixture
def cors_client(app_settings):
    return create_app(**{**app_settings, "CORS_ORIGINS": [FRONTEND + "/"]}).test_client()


@pytest.mark.parametrize(
    "path", ["/benchmarks", "/no-such-path", "/", "/swagger-ui/swagger-ui.css"]
)
def test_every_response_has_the_security_headers(client, path):
    headers = client.get(path).headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy


def test_a_plain_request_id_is_returned_as_sent(client):
    response = client.get("/health", headers={"X-Request-ID": "edge-7f3a:retry.2"})
    assert response.headers["X-Request-ID"] == "edge-7f3a:retry.2"


def test_a_request_without_an_id_gets_a_new_one_each_time(client):
    first = client.get("/health").headers["X-Request-ID"]
    second = client.get("/health").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


@pytest.mark.parametrize("offered", ["x" * 129, "two words", 'quote"d', "ünïcode", ""])
def test_an_unsafe_request_id_is_replaced(client, offered):
    returned = client.get("/health", headers={"X-Request-ID": offered}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", returned)


def test_errors_carry_the_request_id_too(client):
    response = client.get("/benchmarks?unknown=1", headers={"X-Request-ID": "err-1"})
    assert response.status_code == 422
    assert response.headers["X-Request-ID"] == "err-1"


def test_no_cors_headers_by_default(client):
    response = client.get("/benchmarks", headers={"Origin": FRONTEND})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_an_allowed_origin_gets_cors_headers(cors_client):
    response = cors_client.get("/benchmarks", headers={"Origin": FRONTEND})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert response.headers["Access-Control-Expose-Headers"] == "X-Request-ID"
    assert "Origin" in response.headers["Vary"]


def test_another_origin_gets_none(cors_client):
    response = cors_client.get("/benchmarks", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.headers["Vary"]


def preflight(client, origin: str, path: str = "/benchmarks"):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )


def test_a_preflight_from_an_allowed_origin_is_answered(cors_client):
    response = preflight(cors_client, FRONTEND)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed
    assert int(response.headers["Access-Control-Max-Age"]) > 0


def test_a_preflight_of_a_colon_custom_method_is_answered(cors_client):
    path = "/benchmarks/8f1c0b7e-0a55-4d61-9b8f-3f3f4c8a1b2c:approve"
    assert preflight(cors_client, FRONTEND, path).status_code == 204


def test_a_preflight_from_another_origin_gets_no_permission(cors_client):
    response = preflight(cors_client, "https://evil.example")
    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_wildcard_allows_any_origin(app_settings):
    client = create_app(**{**app_settings, "CORS_ORIGINS": ["*"]}).test_client()
    response = client.get("/benchmarks", headers={"Origin": "https://anywhere.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
