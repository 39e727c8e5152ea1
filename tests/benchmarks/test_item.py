"""GET, PUT, DELETE /benchmarks/{id} and the review of submitted benchmarks."""

import uuid

import pytest

from backend.models import ItemStatus
from factories import BenchmarkFactory, ResultFactory


def test_get_benchmark(client):
    benchmark = BenchmarkFactory(docker_image="a/bench", docker_tag="1.0", description=None)

    response = client.get(f"/benchmarks/{benchmark.id}")

    assert response.status_code == 200
    assert response.json == {
        "id": str(benchmark.id),
        "docker_image": "a/bench",
        "docker_tag": "1.0",
        "url": "https://example.org/benchmark",
        "json_schema": {},
        "description": None,
        "upload_datetime": benchmark.upload_datetime.isoformat(),
    }


def test_get_unknown_benchmark_is_404(client):
    response = client.get(f"/benchmarks/{uuid.uuid4()}")

    assert response.status_code == 404
    assert "benchmark" in response.json["message"]


def test_get_malformed_benchmark_id_is_404(client):
    response = client.get("/benchmarks/deephdc:tf")

    assert response.status_code == 404


def test_admin_updates_a_benchmark(client, admin_headers):
    benchmark = BenchmarkFactory(docker_tag="1.0", description="old")

    response = client.put(
        f"/benchmarks/{benchmark.id}",
        json={"description": "new", "json_schema": {"type": "object"}},
        headers=admin_headers,
    )

    assert response.status_code == 204
    body = client.get(f"/benchmarks/{benchmark.id}").json
    assert body["description"] == "new"
    assert body["json_schema"] == {"type": "object"}
    assert body["docker_tag"] == "1.0"


def test_update_with_an_invalid_schema_is_422(client, admin_headers):
    benchmark = BenchmarkFactory(json_schema={})

    response = client.put(
        f"/benchmarks/{benchmark.id}", json={"json_schema": {"type": 1}}, headers=admin_headers
    )

    assert response.status_code == 422
    assert "not a valid JSON Schema" in response.json["message"]
    assert client.get(f"/benchmarks/{benchmark.id}").json["json_schema"] == {}


def test_update_to_an_existing_image_and_tag_is_409(client, admin_headers):
    BenchmarkFactory(docker_image="a/bench", docker_tag="1.0")
    benchmark = BenchmarkFactory(docker_image="a/bench", docker_tag="2.0")

    response = client.put(
        f"/benchmarks/{benchmark.id}", json={"docker_tag": "1.0"}, headers=admin_headers
    )

    assert response.status_code == 409


@pytest.mark.parametrize("body", [{"url": "nope"}, {"docker_tag": ""}, {"colour": "red"}])
def test_update_with_bad_body_is_422(client, admin_headers, body):
    benchmark = BenchmarkFactory()

    response = client.put(f"/benchmarks/{benchmark.id}", json=body, headers=admin_headers)

    assert response.status_code == 422


def test_update_unknown_benchmark_is_404(client, admin_headers):
    response = client.put(
        f"/benchmarks/{uuid.uuid4()}", json={"description": "x"}, headers=admin_headers
    )

    assert response.status_code == 404


def test_admin_deletes_a_benchmark(client, admin_headers):
    benchmark_id = BenchmarkFactory().id

    response = client.delete(f"/benchmarks/{benchmark_id}", headers=admin_headers)

    assert response.status_code == 204
    assert client.get(f"/benchmarks/{benchmark_id}").status_code == 404


def test_delete_benchmark_with_results_is_409(client, admin_headers):
    result = ResultFactory()

    response = client.delete(f"/benchmarks/{result.benchmark_id}", headers=admin_headers)

    assert response.status_code == 409
    assert client.get(f"/benchmarks/{result.benchmark_id}").status_code == 200


def test_delete_unknown_benchmark_is_404(client, admin_headers):
    assert client.delete(f"/benchmarks/{uuid.uuid4()}", headers=admin_headers).status_code == 404


def test_approve_lists_the_benchmark(client, admin_headers):
    benchmark = BenchmarkFactory(status=ItemStatus.on_review)

    response = client.post(f"/benchmarks/{benchmark.id}:approve", headers=admin_headers)

    assert response.status_code == 204
    assert [item["id"] for item in client.get("/benchmarks").json["items"]] == [str(benchmark.id)]
    assert client.get("/benchmarks?status=on_review").json["items"] == []


def test_approve_an_approved_benchmark_is_422(client, admin_headers):
    benchmark = BenchmarkFactory(status=ItemStatus.approved)

    response = client.post(f"/benchmarks/{benchmark.id}:approve", headers=admin_headers)

    assert response.status_code == 422
    assert "already approved" in response.json["message"]


def test_reject_deletes_the_benchmark(client, admin_headers):
    benchmark_id = BenchmarkFactory(status=ItemStatus.on_review).id

    response = client.post(f"/benchmarks/{benchmark_id}:reject", headers=admin_headers)

    assert response.status_code == 204
    assert client.get(f"/benchmarks/{benchmark_id}").status_code == 404


def test_reject_an_approved_benchmark_is_422(client, admin_headers):
    benchmark = BenchmarkFactory(status=ItemStatus.approved)

    response = client.post(f"/benchmarks/{benchmark.id}:reject", headers=admin_headers)

    assert response.status_code == 422
    assert "DELETE" in response.json["message"]
    assert client.get(f"/benchmarks/{benchmark.id}").status_code == 200


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_review_unknown_benchmark_is_404(client, admin_headers, action):
    response = client.post(f"/benchmarks/{uuid.uuid4()}:{action}", headers=admin_headers)

    assert response.status_code == 404


ADMIN_OPERATIONS = [
    ("PUT", "/benchmarks/{id}"),
    ("DELETE", "/benchmarks/{id}"),
    ("POST", "/benchmarks/{id}:approve"),
    ("POST", "/benchmarks/{id}:reject"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_OPERATIONS)
def test_admin_operations_need_a_token(client, method, path):
    benchmark = BenchmarkFactory(status=ItemStatus.on_review)

    response = client.open(path.format(id=benchmark.id), method=method, json={})

    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path"), ADMIN_OPERATIONS)
def test_admin_operations_refuse_unregistered_users(client, token_headers, method, path):
    benchmark = BenchmarkFactory(status=ItemStatus.on_review)

    response = client.open(
        path.format(id=benchmark.id), method=method, json={}, headers=token_headers
    )

    assert response.status_code == 403


@pytest.mark.parametrize(("method", "path"), ADMIN_OPERATIONS)
def test_admin_operations_refuse_users(client, user_headers, method, path):
    benchmark = BenchmarkFactory(status=ItemStatus.on_review)

    response = client.open(
        path.format(id=benchmark.id), method=method, json={}, headers=user_headers
    )

    assert response.status_code == 403
    assert client.get(f"/benchmarks/{benchmark.id}").status_code == 200
