"""Result documents are nested at most ``RESULT_MAX_DEPTH`` levels, on every way in.

Deeper documents used to crash the upload (``RecursionError``: 500) in whichever walk met
them first; the limit is checked once, by the rules every upload, batch item and import
line goes through, with a 422 (an error line in an import) that names it.
"""

from __future__ import annotations

import json

import pytest

from backend.bulk import import_records
from backend.extensions import db
from backend.json_limits import RESULT_MAX_DEPTH
from backend.models import Result
from factories import BenchmarkFactory, FlavorFactory
from tests.results.conftest import EXECUTED, upload


def nested(levels: int) -> str:
    """A JSON object ``levels`` objects deep, as text (too deep for ``json.dumps``)."""
    return '{"a":' * (levels - 1) + '{"score":1}' + "}" * (levels - 1)


def test_a_document_at_the_limit_is_stored(client, user_headers):
    benchmark, flavor = BenchmarkFactory(json_schema={"type": "object"}), FlavorFactory()

    response = upload(client, user_headers, benchmark, flavor, nested(RESULT_MAX_DEPTH))

    assert response.status_code == 201
    assert response.json["json"] == json.loads(nested(RESULT_MAX_DEPTH))


@pytest.mark.parametrize("levels", [RESULT_MAX_DEPTH + 1, 600, 1000])
def test_a_deeper_document_is_refused(client, user_headers, levels):
    benchmark, flavor = BenchmarkFactory(json_schema={"type": "object"}), FlavorFactory()

    response = upload(client, user_headers, benchmark, flavor, nested(levels))

    assert response.status_code == 422
    assert f"{RESULT_MAX_DEPTH} levels" in response.json["message"]


def test_a_document_too_deep_to_parse_is_a_client_error(client, user_headers):
    benchmark, flavor = BenchmarkFactory(json_schema={"type": "object"}), FlavorFactory()

    response = upload(client, user_headers, benchmark, flavor, nested(100_000))

    assert response.status_code in (400, 422)


def test_a_deep_batch_item_is_refused_with_its_index(client, user_headers):
    benchmark, flavor = BenchmarkFactory(json_schema={"type": "object"}), FlavorFactory()
    item = {
        "execution_datetime": EXECUTED,
        "benchmark_id": str(benchmark.id),
        "flavor_id": str(flavor.id),
    }
    shallow = json.dumps({**item, "json": {"score": 1}})
    deep = json.dumps({**item, "json": None}).replace("null", nested(1000))

    response = client.post(
        "/results:batch",
        data=f"[{shallow},{deep}]",
        content_type="application/json",
        headers=user_headers,
    )

    assert response.status_code == 422
    errors = response.json["errors"]["json"]
    assert list(errors) == ["1"]
    assert f"{RESULT_MAX_DEPTH} levels" in errors["1"]["message"]


def test_a_deep_import_line_is_a_bad_line(user):
    flavor = FlavorFactory()
    BenchmarkFactory(docker_image="example/bench", docker_tag="1.0", json_schema={})
    record = {
        "type": "result",
        "benchmark": "example/bench:1.0",
        "site": flavor.site.name,
        "flavor": flavor.name,
        "execution_datetime": "2022-10-14T23:21:47+01:00",
        "uploader": {"sub": user.sub, "iss": user.iss},
        "json": None,
    }
    shallow = json.dumps({**record, "json": {"score": 1}})
    deep = json.dumps(record).replace("null", nested(1000))

    report = import_records([shallow, deep, shallow])

    assert [(m.line, f"{RESULT_MAX_DEPTH} levels" in m.message) for m in report.errors] == [
        (2, True)
    ]
    assert report.results == 2
    assert db.session.query(Result).count() == 2
