"""Hostile query strings and bodies get a 4xx that says what to fix, never a 5xx.

- Every list (walking the live OpenAPI document) bounds ``page`` and ``per_page``.
- Text neither database can store (NUL, lone UTF-16 surrogates) is refused wherever a JSON
  body or a query string brings it, and by the bulk import.
- A chunked body over ``MAX_CONTENT_LENGTH`` is a 413, as with Content-Length, through a
  real gunicorn (the test client cannot send chunked bodies).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest

from backend.bulk import import_records
from backend.extensions import db
from backend.models import Result, Site
from backend.schemas.common import MAX_PAGE
from factories import BenchmarkFactory, FlavorFactory
from tests.api.spec import operations, with_random_ids
from tests.api.test_errors import assert_error
from tests.deployment.processes import REPOSITORY, free_port, http_get, wait_for

# -- page and per_page -------------------------------------------------------------------------


def list_operations(spec: dict) -> list[tuple[str, str, dict]]:
    """Every operation of the document that takes a ``page`` argument."""
    return [
        (method, path, operation)
        for method, path, operation in operations(spec)
        if any(p["in"] == "query" and p["name"] == "page" for p in operation["parameters"])
    ]


def test_every_list_documents_the_bounds_of_page_and_per_page(client):
    listed = list_operations(client.get("/api-spec.json").json)

    assert len(listed) >= 15
    for method, path, operation in listed:
        bounds = {
            p["name"]: (p["schema"].get("minimum"), p["schema"].get("maximum"))
            for p in operation["parameters"]
            if p["name"] in {"page", "per_page"}
        }
        assert bounds == {"page": (1, MAX_PAGE), "per_page": (1, 100)}, (method, path)


@pytest.mark.parametrize(
    "query",
    [
        "page=99999999999999999",
        f"page={MAX_PAGE + 1}",
        "page=0",
        "page=-1",
        "page=-99999999999999999",
        "per_page=0",
        "per_page=-1",
        "per_page=101",
        "per_page=99999999999999999",
    ],
)
def test_every_list_refuses_a_page_out_of_bounds(client, admin, admin_headers, query):
    """422 naming the argument, on the catalogue lists and searches as on /results; the
    huge page was a 500 on both databases ("bigint out of range" on PostgreSQL)."""
    name = query.split("=")[0]
    for method, path, operation in list_operations(client.get("/api-spec.json").json):
        url = f"{with_random_ids(path, operation)}?{query}"

        response = client.open(url, method=method, headers=admin_headers)

        assert response.status_code == 422, (url, response.json)
        assert_error(response, 422)
        assert name in response.json["errors"]["query"], (url, response.json)


@pytest.mark.parametrize("per_page", [1, 100])
def test_the_largest_page_is_past_the_last_one_everywhere(client, admin, admin_headers, per_page):
    """Allowed, and the database computes its offset: 422 past the last page (404 where
    the path names an unknown item)."""
    for method, path, operation in list_operations(client.get("/api-spec.json").json):
        url = f"{with_random_ids(path, operation)}?page={MAX_PAGE}&per_page={per_page}"

        response = client.open(url, method=method, headers=admin_headers)

        if "{" in path:
            assert response.status_code in {404, 422}, (url, response.json)
        else:
            assert_error(response, 422)
            assert "past the last page" in response.json["message"], (url, response.json)


# -- text the database cannot store ---------------------------------------------------------

LONE_SURROGATE = r"\ud800"


def surrogate_body(spec: dict, operation: dict) -> str:
    """The documented body of ``operation`` with a lone surrogate in every field (a
    free-form document gets one key), as JSON text: the escape is how JSON spells it."""
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    many = schema.get("type") == "array"
    reference = (schema["items"] if many else schema)["$ref"].rsplit("/", 1)[-1]
    fields = list(spec["components"]["schemas"][reference].get("properties", {})) or ["k"]
    body = "{" + ", ".join(f'"{name}": "{LONE_SURROGATE}"' for name in fields) + "}"
    return f"[{body}]" if many else body


def required_query(operation: dict) -> str:
    """Valid values for the operation's required query arguments (uploads have some)."""
    values = {"uuid": str(uuid.uuid4()), "date-time": "2022-10-14T23:21:47Z"}
    required = [p for p in operation["parameters"] if p["in"] == "query" and p["required"]]
    return "?" + urlencode({p["name"]: values[p["schema"]["format"]] for p in required})


def test_every_json_body_refuses_a_lone_surrogate(client, admin, admin_headers):
    """Walking the document: each operation with a JSON body answers 422 saying so, rather
    than PostgreSQL's or sqlite3's encoding error (500)."""
    spec = client.get("/api-spec.json").json
    with_bodies = [op for op in operations(spec) if "requestBody" in op[2]]
    assert len(with_bodies) >= 10
    for method, path, operation in with_bodies:
        url = with_random_ids(path, operation) + required_query(operation)
        body = surrogate_body(spec, operation)

        response = client.open(
            url, method=method, data=body, content_type="application/json", headers=admin_headers
        )

        assert response.status_code == 422, (method, url, body, response.json)
        assert "surrogate" in response.json["message"], (method, url, response.json)


@pytest.mark.parametrize(
    "document",
    [
        r'{"k": "\ud800"}',
        r'{"k": "a\udfffb"}',
        r'{"\udc00": 1}',
        r'{"a": [1, {"b": ["\uDBFF"]}]}',
        r'{"k": "\ude00\ud83d"}',  # a pair in the wrong order is two lone halves
    ],
)
def test_a_result_document_with_a_lone_surrogate_is_refused(
    client, user_headers, document, flavor, benchmark
):
    response = upload(client, user_headers, benchmark, flavor, document)

    assert_error(response, 422)
    assert "surrogate" in response.json["message"]
    assert db.session.query(Result).count() == 0


def test_a_surrogate_pair_is_a_character_and_is_stored(client, user_headers, flavor, benchmark):
    response = upload(client, user_headers, benchmark, flavor, r'{"\ud83d\ude00": "a\ud83d\ude00"}')

    assert response.status_code == 201, response.json
    assert response.json["json"] == {"\U0001f600": "a\U0001f600"}


def test_a_name_with_a_lone_surrogate_is_refused_and_a_pair_is_kept(client, user_headers):
    refused = client.post(
        "/sites",
        data=r'{"name": "SITE-\ud800", "address": "a.example.org"}',
        content_type="application/json",
        headers=user_headers,
    )
    kept = client.post(
        "/sites",
        data=r'{"name": "SITE-\ud83d\ude00", "address": "a.example.org"}',
        content_type="application/json",
        headers=user_headers,
    )

    assert_error(refused, 422)
    assert list(refused.json["errors"]["json"]) == ["name"]
    assert kept.status_code == 201, kept.json
    assert [site.name for site in db.session.query(Site)] == ["SITE-\U0001f600"]


@pytest.mark.parametrize(
    ("path", "argument"),
    [
        ("/sites:search", "terms"),
        ("/results:search", "terms"),
        ("/tags:search", "terms"),
        ("/results", "filters"),
        ("/results", "sort_by"),
    ],
)
@pytest.mark.parametrize("encoded", ["%ED%A0%80", "a%ED%B0%80b", "%FF", "%C3"])
def test_a_query_argument_that_is_not_utf8_is_refused(client, path, argument, encoded):
    """A lone surrogate can reach a query string only as invalid UTF-8 (%ED%A0%80 is its
    CESU-8 spelling); it is refused rather than searched for as the text '%ED%A0%80'."""
    response = client.get(f"{path}?{argument}={encoded}")

    assert_error(response, 422)
    assert "UTF-8" in " ".join(response.json["errors"]["query"][argument])


def test_a_query_argument_holding_u_fffd_itself_is_fine(client):
    assert client.get("/sites:search?terms=%EF%BF%BD").status_code == 200


def test_an_import_line_with_a_lone_surrogate_is_a_bad_line(user):
    benchmark = BenchmarkFactory()
    flavor = FlavorFactory()
    result = {
        "type": "result",
        "benchmark": f"{benchmark.docker_image}:{benchmark.docker_tag}",
        "site": flavor.site.name,
        "flavor": flavor.name,
        "execution_datetime": "2022-10-14T23:21:47+01:00",
    }
    lines = [
        json.dumps({**result, "json": {"note": "\ud800"}}),  # 1: the escape \ud800
        json.dumps({**result, "json": {"note": "\U0001f600"}}),  # 2: a pair
        json.dumps({"type": "tag", "name": "gpu\udfff"}),  # 3
    ]

    report = import_records([line.encode() for line in lines], uploader=(user.sub, user.iss))

    assert [e.line for e in report.errors] == [1, 3]
    assert all("surrogate" in e.message for e in report.errors)
    assert [r.json for r in db.session.query(Result)] == [{"note": "\U0001f600"}]


@pytest.fixture
def flavor():
    return FlavorFactory()


@pytest.fixture
def benchmark():
    return BenchmarkFactory()


def upload(client, headers, benchmark, flavor, document: str):
    return client.post(
        "/results",
        query_string={
            "execution_datetime": "2022-10-14T23:21:47+01:00",
            "benchmark_id": str(benchmark.id),
            "flavor_id": str(flavor.id),
        },
        data=document,
        content_type="application/json",
        headers=headers,
    )


# -- chunked bodies -------------------------------------------------------------------------

LIMIT = 64 * 1024


@pytest.fixture
def gunicorn(app_settings, issuer, tmp_path):
    """The service under gunicorn with the repository's gunicorn.conf.py, on the test
    database, trusting the test issuer, with a 64 KiB body limit."""
    port = free_port()
    environment = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": "chunked-test-secret",
        "DATABASE_URL": app_settings["DATABASE_URL"],
        "TRUSTED_OP_LIST": issuer.url,
        "IMAGE_VALIDATION": "off",
        "NOTIFICATIONS_DELIVERY": "off",
        "MAX_CONTENT_LENGTH": str(LIMIT),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "REQUESTS_CA_BUNDLE": str(issuer.ca_bundle),
        "SSL_CERT_FILE": str(issuer.ca_bundle),
    }
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "backend:create_app()"],
            cwd=REPOSITORY,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            lambda: process.poll() is not None or http_get(f"http://127.0.0.1:{port}/health")[0],
            60,
            "gunicorn to answer",
        )
        assert process.poll() is None, Path(log).read_text()
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def post(
    port: int, path: str, body: bytes, headers: dict, chunked: bool = False
) -> tuple[int, dict]:
    """POST ``body`` with a Content-Length, or chunked (16 KiB a chunk) without one."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {**headers, "Content-Type": "application/json"}
        if chunked:
            chunks = (body[i : i + 16384] for i in range(0, len(body), 16384))
            connection.request("POST", path, body=chunks, headers=headers, encode_chunked=True)
        else:
            connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def padded_document(size: int) -> bytes:
    """A result document of exactly ``size`` bytes."""
    empty = len(json.dumps({"pad": ""}))
    return json.dumps({"pad": "p" * (size - empty)}).encode()


def upload_path(benchmark, flavor) -> str:
    return (
        f"/results?execution_datetime=2022-10-14T23:21:47Z"
        f"&benchmark_id={benchmark.id}&flavor_id={flavor.id}"
    )


def test_a_chunked_body_over_the_limit_is_413_as_with_content_length(
    gunicorn, user_headers, benchmark, flavor
):
    path = upload_path(benchmark, flavor)
    with_length = post(gunicorn, path, padded_document(LIMIT + 1), user_headers)
    for size in [LIMIT + 1, 4 * LIMIT]:
        chunked = post(gunicorn, path, padded_document(size), user_headers, chunked=True)

        assert chunked == with_length
        assert chunked[0] == 413, chunked
        assert chunked[1]["code"] == 413
        assert f"{LIMIT:,} bytes" in chunked[1]["message"]
    assert db.session.query(Result).count() == 0


def test_a_chunked_body_within_the_limit_is_read_whole(gunicorn, user_headers, benchmark, flavor):
    document = padded_document(LIMIT)

    status, body = post(
        gunicorn, upload_path(benchmark, flavor), document, user_headers, chunked=True
    )

    assert status == 201, body
    assert body["json"] == json.loads(document)
