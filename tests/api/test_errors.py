"""Every error is JSON of one shape: {"code", "status", "message"} (+ "errors" for arguments)."""

import uuid

import pytest

from tests.conftest import bearer

SHAPE = {"code", "status", "message"}


def assert_error(response, code):
    assert response.status_code == code
    assert response.mimetype == "application/json"
    assert SHAPE <= set(response.json) <= SHAPE | {"errors"}
    assert response.json["code"] == code
    assert isinstance(response.json["status"], str)
    assert response.json["status"]
    assert isinstance(response.json["message"], str)
    assert response.json["message"]


def test_unknown_resource_is_404(client):
    response = client.get(f"/sites/{uuid.uuid4()}")

    assert_error(response, 404)
    assert response.json["status"] == "Not Found"


def test_unknown_route_is_404(client):
    assert_error(client.get("/no-such-thing"), 404)


def test_argument_error_is_422_with_errors(client):
    response = client.get("/sites?per_page=0")

    assert_error(response, 422)
    assert response.json["status"] == "Unprocessable Entity"
    assert list(response.json["errors"]) == ["query"]
    assert response.json["errors"]["query"]["per_page"]


def test_body_error_is_422_with_errors(client, user_headers):
    response = client.post("/sites", json={"name": ""}, headers=user_headers)

    assert_error(response, 422)
    assert set(response.json["errors"]["json"]) == {"name", "address"}


def test_missing_token_is_401(client):
    response = client.post("/sites", json={"name": "x", "address": "y"})

    assert_error(response, 401)
    assert "errors" not in response.json


def test_invalid_token_is_401(client):
    assert_error(client.post("/sites", headers=bearer("not.a.token")), 401)


def test_forbidden_is_403(client, user_headers):
    assert_error(client.get("/users", headers=user_headers), 403)


def test_wrong_method_is_405(client):
    response = client.patch("/sites")

    assert_error(response, 405)
    assert "GET" in response.headers["Allow"]


def test_conflict_is_409(client, user_headers):
    client.post("/tags", json={"name": "gpu"}, headers=user_headers)

    assert_error(client.post("/tags", json={"name": "gpu"}, headers=user_headers), 409)


def test_invalid_json_body(client, user_headers):
    response = client.post(
        "/sites",
        data='{"name": "x", ',
        content_type="application/json",
        headers=user_headers,
    )

    assert response.status_code in (400, 422)
    assert_error(response, response.status_code)
    assert response.json["errors"] == {"json": ["Invalid JSON body."]}


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_json_body_with_nan_or_infinity_is_invalid_json(client, user_headers, constant):
    """Neither the databases nor other JSON clients can hold these numbers."""
    response = client.post(
        "/benchmarks",
        data='{"docker_image": "a/b", "docker_tag": "1", "url": "https://example.org",'
        f' "json_schema": {{"minimum": {constant}}}}}',
        content_type="application/json",
        headers=user_headers,
    )

    assert_error(response, 400)
    assert response.json["errors"] == {"json": ["Invalid JSON body."]}


def test_json_nested_too_deeply_is_invalid_json(client, user_headers):
    response = client.post(
        "/sites", data="[" * 100_000, content_type="application/json", headers=user_headers
    )

    assert_error(response, 400)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "CESNET\u0000", "address": "cz"},
        {"name": "CESNET", "address": "cz", "description": "a\u0000b"},
    ],
)
def test_text_with_nul_characters_is_422(client, user_headers, body):
    """PostgreSQL cannot store NUL characters; both databases refuse them the same way."""
    response = client.post("/sites", json=body, headers=user_headers)

    assert_error(response, 422)
    assert "NUL" in response.json["message"]


def test_nul_characters_inside_a_json_document_are_422(client, user_headers):
    response = client.post(
        "/benchmarks",
        json={
            "docker_image": "a/b",
            "docker_tag": "1",
            "url": "https://example.org",
            "json_schema": {"properties": {"a\u0000": {}}},
        },
        headers=user_headers,
    )

    assert_error(response, 422)
    assert "json_schema" in response.json["errors"]["json"]


@pytest.mark.parametrize(
    "query",
    ["name=%00", "address=a%00", "terms=%00", "terms[]=x&terms[]=%00"],
)
def test_query_arguments_with_nul_characters_are_422(client, query):
    path = "/sites:search" if query.startswith("terms") else "/sites"

    response = client.get(f"{path}?{query}")

    assert_error(response, 422)
    assert "NUL" in response.json["message"]


@pytest.mark.parametrize(
    "moment",
    ["0001-01-01T00:00:00%2B01:00", "9999-12-31T23:30:00-01:00"],
)
def test_times_beyond_the_supported_range_in_utc_are_422(client, moment):
    response = client.get(f"/sites?upload_after={moment}")

    assert_error(response, 422)
    assert "upload_after" in response.json["errors"]["query"]


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00%2B00:00", "9999-12-31T23:59:59Z"])
def test_extreme_times_within_range_are_fine(client, moment):
    assert client.get(f"/sites?upload_after={moment}").status_code == 200
    assert client.get(f"/sites?upload_before={moment}").status_code == 200


def test_body_too_large_is_413(client, user_headers):
    response = client.post(
        "/sites",
        json={"name": "x", "address": "y", "description": "z" * (2 * 1024 * 1024)},
        headers=user_headers,
    )

    assert_error(response, 413)
