"""Results as a DataFrame: one row per result, JSON leaves as ``json.<path>`` columns,
every /results filter, and every page of a selection."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from factories import BenchmarkFactory, FlavorFactory, ResultFactory, TagFactory
from perfclient import ApiError


def test_a_result_is_a_row_with_its_json_leaves_as_columns(anonymous):
    tag = TagFactory(name="cpu")
    result = ResultFactory(
        json={"result": {"score": 2270.9}, "machine": {"cpu": {"count": 8, "flags": ["avx"]}}},
        execution_datetime=datetime(2021, 3, 1, 9, tzinfo=UTC),
        tags=[tag],
    )

    frame = anonymous.results()

    row = frame.iloc[0].to_dict()
    assert len(frame) == 1
    assert row["id"] == str(result.id)
    assert row["benchmark"] == f"{result.benchmark.docker_image}:{result.benchmark.docker_tag}"
    assert (row["site"], row["flavor"]) == (result.flavor.site.name, result.flavor.name)
    assert list(row["tags"]) == ["cpu"]
    assert row["execution_datetime"] == pd.Timestamp("2021-03-01T09:00:00Z")
    assert row["json.result.score"] == 2270.9
    assert row["json.machine.cpu.count"] == 8
    assert list(row["json.machine.cpu.flags"]) == ["avx"]


def test_every_page_of_a_selection_is_read(anonymous):
    benchmark = BenchmarkFactory()
    flavor = FlavorFactory()
    ResultFactory.create_batch(
        130, benchmark=benchmark, flavor=flavor, json={"result": {"score": 1.5}}
    )

    frame = anonymous.results(benchmark_id=benchmark.id)

    assert len(frame) == 130
    assert frame["id"].is_unique
    assert (frame["json.result.score"] == 1.5).all()


def test_filters_select_as_the_service_does(anonymous):
    flavor = FlavorFactory()
    ResultFactory(flavor=flavor, json={"machine": {"cpu": {"count": 4}}})
    eight = ResultFactory(flavor=flavor, json={"machine": {"cpu": {"count": 8}}})
    ResultFactory(json={"machine": {"cpu": {"count": 16}}})

    frame = anonymous.results(
        flavor_id=flavor.id, filters="machine.cpu.count > 4", sort_by="-json.machine.cpu.count"
    )

    assert list(frame["id"]) == [str(eight.id)]


def test_sort_by_takes_a_list_of_keys(anonymous):
    low, high = ResultFactory(json={"s": 1}), ResultFactory(json={"s": 2})

    frame = anonymous.results(sort_by=["-json.s", "+id"])

    assert list(frame["id"]) == [str(high.id), str(low.id)]


def test_an_empty_selection_is_an_empty_frame_with_the_columns(anonymous):
    frame = anonymous.results()

    assert frame.empty
    assert {"id", "benchmark", "site", "flavor", "execution_datetime"} <= set(frame.columns)


def test_a_misspelled_filter_is_refused_before_any_request(anonymous):
    with pytest.raises(TypeError, match=r"Unknown filter.*'benchmark'"):
        anonymous.results(benchmark="c-ray")


def test_a_bad_filter_raises_the_service_message(anonymous):
    with pytest.raises(ApiError) as raised:
        anonymous.results(filters="machine.cpu.count ~ 4")

    assert raised.value.status == 422
    assert "filters" in raised.value.message
    assert raised.value.errors


def test_one_result_as_the_service_answers_it(anonymous):
    result = ResultFactory(json={"result": {"score": 3.0}})

    assert anonymous.result(result.id)["json"] == {"result": {"score": 3.0}}


def test_an_unknown_result_is_a_404_error(anonymous):
    with pytest.raises(ApiError) as raised:
        anonymous.result("00000000-0000-4000-8000-000000000000")

    assert raised.value.status == 404
    assert raised.value.message


def test_my_results_are_those_i_uploaded(perf, user):
    mine = ResultFactory(uploader=user)
    ResultFactory()

    frame = perf.my_results()

    assert list(frame["id"]) == [str(mine.id)]
