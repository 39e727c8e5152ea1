"""Uploading with the client: registering, one result, batches, and who the caller is
(the token given, or from the environment, or from a file)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.models import Result
from factories import BenchmarkFactory, FlavorFactory, TagFactory
from perfclient import ApiError, BatchRejected, Client
from tests.client.conftest import QUICK_RETRIES

SCORE_SCHEMA = {
    "type": "object",
    "properties": {"result": {"type": "object", "properties": {"score": {"type": "number"}}}},
    "required": ["result"],
}
EXECUTED = datetime(2022, 10, 14, 22, 21, 47, tzinfo=UTC)


def batch_items(benchmark, flavor, scores):
    return [
        {
            "json": {"result": {"score": score}},
            "benchmark_id": benchmark.id,
            "flavor_id": flavor.id,
            "execution_datetime": EXECUTED,
        }
        for score in scores
    ]


def test_a_newcomer_registers_then_sees_their_user(service_url, token_headers):
    token = token_headers["Authorization"].removeprefix("Bearer ")
    newcomer = Client(service_url, token=token)

    registered = newcomer.register()

    assert registered["email"] == "newcomer@example.org"
    assert newcomer.me()["sub"] == registered["sub"]


def test_upload_one_result(perf):
    benchmark, flavor, tag = (
        BenchmarkFactory(json_schema=SCORE_SCHEMA),
        FlavorFactory(),
        TagFactory(),
    )

    stored = perf.upload(
        {"result": {"score": 12.5}},
        benchmark_id=benchmark.id,
        flavor_id=flavor.id,
        execution_datetime=EXECUTED,
        tags_ids=[tag.id],
    )

    assert stored["json"] == {"result": {"score": 12.5}}
    assert [t["id"] for t in stored["tags"]] == [str(tag.id)]
    assert perf.results()["id"].tolist() == [stored["id"]]


def test_a_result_its_schema_refuses_raises_the_service_message(perf):
    benchmark, flavor = BenchmarkFactory(json_schema=SCORE_SCHEMA), FlavorFactory()

    with pytest.raises(ApiError) as raised:
        perf.upload(
            {"result": {"score": "fast"}},
            benchmark_id=benchmark.id,
            flavor_id=flavor.id,
            execution_datetime=EXECUTED,
        )

    assert raised.value.status == 422
    assert "score" in str(raised.value.errors) + raised.value.message
    assert Result.query.count() == 0


def test_a_naive_datetime_is_refused_before_sending(perf):
    with pytest.raises(ValueError, match="no time zone"):
        perf.upload({}, benchmark_id="b", flavor_id="f", execution_datetime=datetime(2022, 1, 1))


def test_uploading_without_a_token_is_a_401_error(anonymous):
    benchmark, flavor = BenchmarkFactory(), FlavorFactory()

    with pytest.raises(ApiError) as raised:
        anonymous.upload(
            {}, benchmark_id=benchmark.id, flavor_id=flavor.id, execution_datetime=EXECUTED
        )

    assert raised.value.status == 401
    assert raised.value.message


def test_a_batch_upload_is_sent_in_batches_and_answers_every_id_in_order(perf):
    benchmark, flavor = BenchmarkFactory(json_schema=SCORE_SCHEMA), FlavorFactory()
    scores = [1.0, 2.0, 3.0, 4.0, 5.0]

    ids = perf.upload_batch(batch_items(benchmark, flavor, scores), batch_size=2)

    stored = {str(result.id): result.json["result"]["score"] for result in Result.query}
    assert [stored[id_] for id_ in ids] == scores


def test_a_refused_batch_names_the_item_in_the_whole_upload_and_what_was_stored(perf):
    benchmark, flavor = BenchmarkFactory(json_schema=SCORE_SCHEMA), FlavorFactory()
    items = batch_items(benchmark, flavor, [1.0, 2.0, 3.0, "bad", 5.0])

    with pytest.raises(BatchRejected) as raised:
        perf.upload_batch(items, batch_size=2)

    assert raised.value.status == 422
    assert set(raised.value.item_errors) == {3}
    assert raised.value.item_errors[3]["status"] == 422
    stored = {str(result.id): result.json["result"]["score"] for result in Result.query}
    assert [stored[id_] for id_ in raised.value.stored_ids] == [1.0, 2.0]
    assert len(stored) == 2


def test_the_token_comes_from_the_environment(service_url, user_token, user, monkeypatch):
    monkeypatch.delenv("PERF_TOKEN_FILE", raising=False)
    monkeypatch.setenv("PERF_TOKEN", user_token)

    assert Client(service_url, retry=QUICK_RETRIES).me()["sub"] == user.sub


def test_the_token_comes_from_a_file(service_url, user_token, user, monkeypatch, tmp_path):
    monkeypatch.delenv("PERF_TOKEN", raising=False)
    (tmp_path / "token").write_text(user_token + "\n")
    monkeypatch.setenv("PERF_TOKEN_FILE", str(tmp_path / "token"))

    assert Client(service_url, retry=QUICK_RETRIES).me()["sub"] == user.sub
