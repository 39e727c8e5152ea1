"""POST /results: upload a result document, validated against its benchmark's schema."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from factories import BenchmarkFactory, FlavorFactory, SiteFactory, TagFactory
from tests.results.conftest import EXECUTED, SAMPLES, sample_files, upload


def cray(name="cesnet-mcc-8.json"):
    return json.loads((SAMPLES / name).read_text())


def test_upload_returns_the_full_result(client, user_headers, cray_benchmark):
    flavor = FlavorFactory()
    tag = TagFactory(name="hpc")
    response = upload(client, user_headers, cray_benchmark, flavor, cray(), tags_ids=[str(tag.id)])
    assert response.status_code == 201
    body = response.json
    uuid.UUID(body["id"])
    assert body["json"] == cray()
    assert body["benchmark"]["id"] == str(cray_benchmark.id)
    assert body["benchmark"]["docker_image"] == "thechristophe/openbench-c-ray"
    assert body["flavor"]["id"] == str(flavor.id)
    assert body["site"]["id"] == str(flavor.site.id)
    assert [t["name"] for t in body["tags"]] == ["hpc"]
    assert body["execution_datetime"] == "2022-10-14T22:21:47+00:00"
    assert body["upload_datetime"].endswith("+00:00")
    assert client.get(f"/results/{body['id']}").json == body


@pytest.mark.parametrize(
    "value", [2**64 + 1, 2**64 - 1, -(2**63) - 1, -(2**70), "12345678901234567890123"]
)
def test_integers_beyond_64_bits_are_stored_exactly(client, user_headers, value):
    """One value per document: a long number anywhere sends the whole text to the exact
    parser, so values side by side would hide each other."""
    benchmark = BenchmarkFactory(json_schema={"type": "object"})
    document = {"value": value}
    response = upload(client, user_headers, benchmark, FlavorFactory(), document)
    assert response.status_code == 201
    stored = client.get(f"/results/{response.json['id']}")
    assert json.loads(stored.data)["json"] == document


def test_the_upload_answer_is_what_get_answers_whatever_the_tags_order(
    client, user_headers, cray_benchmark
):
    tags = [TagFactory(name=name) for name in ["hpc", "GPU", "cpu", "Zeta", "a-b"]]
    flavor = FlavorFactory()
    given = [str(tag.id) for tag in reversed(tags)]
    response = upload(client, user_headers, cray_benchmark, flavor, cray(), tags_ids=given)
    assert response.status_code == 201
    assert sorted(t["id"] for t in response.json["tags"]) == sorted(given)
    assert client.get(f"/results/{response.json['id']}").json == response.json


def test_every_cray_sample_passes_its_real_schema(cray_uploads):
    assert len(cray_uploads) == len(sample_files()) > 10


def test_upload_needs_a_registered_user(client, token_headers, cray_benchmark):
    flavor = FlavorFactory()
    assert upload(client, {}, cray_benchmark, flavor, cray()).status_code == 401
    assert upload(client, token_headers, cray_benchmark, flavor, cray()).status_code == 403


def test_schema_violation_names_the_failing_path(client, user_headers, cray_benchmark):
    document = cray()
    document["machine"]["cpu"]["count"] = "eight"
    response = upload(client, user_headers, cray_benchmark, FlavorFactory(), document)
    assert response.status_code == 422
    assert "$.machine.cpu.count" in response.json["message"]
    assert "$.machine.cpu.count" in response.json["errors"]["json"]


def test_missing_required_property_is_named(client, user_headers, cray_benchmark):
    document = cray()
    del document["result"]["score"]
    response = upload(client, user_headers, cray_benchmark, FlavorFactory(), document)
    assert response.status_code == 422
    assert "'score' is a required property" in response.json["message"]


def test_schema_drafts_follow_dollar_schema(client, user_headers):
    draft4 = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {"n": {"type": "number", "minimum": 0, "exclusiveMinimum": True}},
    }
    benchmark = BenchmarkFactory(json_schema=draft4)
    flavor = FlavorFactory()
    assert upload(client, user_headers, benchmark, flavor, {"n": 1}).status_code == 201
    assert upload(client, user_headers, benchmark, flavor, {"n": 0}).status_code == 422


def test_empty_schema_accepts_any_object(client, user_headers):
    benchmark = BenchmarkFactory(json_schema={})
    response = upload(client, user_headers, benchmark, FlavorFactory(), {"anything": [1, 2]})
    assert response.status_code == 201


def test_result_must_be_a_json_object(client, user_headers):
    benchmark = BenchmarkFactory(json_schema={})
    response = client.post(
        "/results",
        query_string={
            "execution_datetime": EXECUTED,
            "benchmark_id": str(benchmark.id),
            "flavor_id": str(FlavorFactory().id),
        },
        data="[1, 2]",
        content_type="application/json",
        headers=user_headers,
    )
    assert response.status_code == 422


def test_invalid_json_body_is_a_client_error(client, user_headers, cray_benchmark):
    response = client.post(
        "/results",
        query_string={
            "execution_datetime": EXECUTED,
            "benchmark_id": str(cray_benchmark.id),
            "flavor_id": str(FlavorFactory().id),
        },
        data="{not json",
        content_type="application/json",
        headers=user_headers,
    )
    assert response.status_code in (400, 422)
    assert response.json["code"] == response.status_code


def test_unknown_benchmark_flavor_or_tag_is_404(client, user_headers, cray_benchmark):
    flavor = FlavorFactory()
    missing = BenchmarkFactory.build(id=uuid.uuid4())
    assert upload(client, user_headers, missing, flavor, cray()).status_code == 404
    missing_flavor = FlavorFactory.build(id=uuid.uuid4())
    assert upload(client, user_headers, cray_benchmark, missing_flavor, cray()).status_code == 404
    response = upload(
        client, user_headers, cray_benchmark, flavor, cray(), tags_ids=[str(uuid.uuid4())]
    )
    assert response.status_code == 404
    assert "tag" in response.json["message"]


def test_benchmark_flavor_or_site_on_review_is_422(client, user_headers, cray_benchmark):
    pending_benchmark = BenchmarkFactory(status="on_review")
    assert (
        upload(client, user_headers, pending_benchmark, FlavorFactory(), cray()).status_code == 422
    )
    pending_flavor = FlavorFactory(status="on_review")
    assert upload(client, user_headers, cray_benchmark, pending_flavor, cray()).status_code == 422
    flavor_of_pending_site = FlavorFactory(site=SiteFactory(status="on_review"))
    response = upload(client, user_headers, cray_benchmark, flavor_of_pending_site, cray())
    assert response.status_code == 422
    assert "on review" in response.json["message"]


def test_execution_datetime_needs_a_time_zone(client, user_headers, cray_benchmark):
    response = upload(
        client,
        user_headers,
        cray_benchmark,
        FlavorFactory(),
        cray(),
        execution_datetime="2022-10-14T23:21:47",
    )
    assert response.status_code == 422
    assert "time zone" in json.dumps(response.json)


def test_execution_datetime_in_the_future_is_refused(client, user_headers, cray_benchmark):
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = upload(
        client, user_headers, cray_benchmark, FlavorFactory(), cray(), execution_datetime=tomorrow
    )
    assert response.status_code == 422
    assert "future" in json.dumps(response.json)


def test_missing_query_arguments_are_named(client, user_headers):
    response = client.post("/results", json={"a": 1}, headers=user_headers)
    assert response.status_code == 422
    for name in ("execution_datetime", "benchmark_id", "flavor_id"):
        assert name in response.json["errors"]["query"]


def test_oversized_body_is_413(app_settings, user, issuer, cray_benchmark):
    from backend import create_app
    from tests.conftest import bearer

    small = create_app(**{**app_settings, "MAX_CONTENT_LENGTH": 2048})
    headers = bearer(issuer.mint(user.sub, email=user.email))
    with small.app_context():
        response = upload(
            small.test_client(),
            headers,
            cray_benchmark,
            FlavorFactory(),
            {**cray(), "padding": "x" * 4096},
        )
    assert response.status_code == 413
    assert response.json["code"] == 413
