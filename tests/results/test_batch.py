"""POST /results:batch (extension): many results in one all-or-nothing transaction."""

import uuid

from sqlalchemy import select

from backend.extensions import db
from backend.models import Result
from backend.result_finding.flatten import document_shape
from factories import BenchmarkFactory, FlavorFactory, TagFactory
from tests.results.conftest import EXECUTED


def item(benchmark, flavor, document, **extra):
    return {
        "execution_datetime": EXECUTED,
        "benchmark_id": str(benchmark.id),
        "flavor_id": str(flavor.id),
        "json": document,
        **extra,
    }


def test_batch_creates_all(client, user_headers):
    schema = {"type": "object", "required": ["score"]}
    benchmark, flavor, tag = BenchmarkFactory(json_schema=schema), FlavorFactory(), TagFactory()
    body = [item(benchmark, flavor, {"score": n}, tags_ids=[str(tag.id)]) for n in range(5)]
    response = client.post("/results:batch", json=body, headers=user_headers)
    assert response.status_code == 201, response.json
    assert len(response.json["ids"]) == 5
    listed = client.get(f"/results?tags_ids={tag.id}").json
    assert listed["total"] == 5
    shapes = db.session.execute(select(Result.json_shape)).scalars().all()
    assert shapes == [document_shape({"score": 0})] * 5


def test_batch_is_all_or_nothing_with_per_item_errors(client, user_headers):
    schema = {"type": "object", "required": ["score"]}
    benchmark, flavor = BenchmarkFactory(json_schema=schema), FlavorFactory()
    body = [
        item(benchmark, flavor, {"score": 1}),
        item(benchmark, flavor, {"nothing": 1}),
        item(benchmark, FlavorFactory.build(id=uuid.uuid4()), {"score": 1}),
    ]
    response = client.post("/results:batch", json=body, headers=user_headers)
    assert response.status_code == 422
    errors = response.json["errors"]["json"]
    assert set(errors) == {"1", "2"}
    assert errors["1"]["status"] == 422 and "score" in errors["1"]["message"]
    assert errors["2"]["status"] == 404
    assert client.get("/results").json["total"] == 0


def test_batch_items_are_validated_like_single_uploads(client, user_headers):
    body = [{"execution_datetime": "yesterday", "json": {}}]
    response = client.post("/results:batch", json=body, headers=user_headers)
    assert response.status_code == 422
    assert "0" in response.json["errors"]["json"]


def test_batch_needs_a_registered_user(client, token_headers):
    assert client.post("/results:batch", json=[]).status_code == 401
    assert client.post("/results:batch", json=[], headers=token_headers).status_code == 403
