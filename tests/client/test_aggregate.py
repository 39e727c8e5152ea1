"""Aggregates as a DataFrame: one row per group, the figures numpy gives for the same
numbers, and the results without a number counted apart."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from factories import BenchmarkFactory, FlavorFactory, ResultFactory
from perfclient import ApiError

SCORES = {("a", "a1"): [1.0, 2.0, 3.0, 10.0], ("a", "a2"): [5.0], ("b", "b1"): [7.0, 8.5]}


def arrange(benchmark):
    """Results of ``SCORES`` on flavors of two sites; the flavors by (site, flavor) name."""
    flavors = {}
    for (site, name), scores in SCORES.items():
        site_of = next((f.site for (s, _), f in flavors.items() if s == site), None)
        flavor = FlavorFactory(name=name, **({"site": site_of} if site_of else {}))
        flavors[(site, name)] = flavor
        for score in scores:
            ResultFactory(benchmark=benchmark, flavor=flavor, json={"result": {"score": score}})
    return flavors


def test_groups_carry_their_keys_and_numpys_figures(anonymous):
    benchmark = BenchmarkFactory()
    flavors = arrange(benchmark)
    one = flavors[("a", "a1")]
    ResultFactory(benchmark=benchmark, flavor=one, json={"result": {"score": "n/a"}})
    ResultFactory(benchmark=benchmark, flavor=one, json={"result": {}})
    ResultFactory(json={"result": {"score": 100.0}})  # another benchmark's

    frame = anonymous.aggregate(
        "json.result.score", ["site", "flavor"], sort_by="+p50", benchmark_id=benchmark.id
    )

    assert frame.attrs == {"metric": "json.result.score", "missing": 2}
    assert list(frame.columns) == [
        "site", "flavor", "site_id", "flavor_id",
        "count", "mean", "stddev", "min", "p50", "p90", "p99", "max",
    ]  # fmt: skip
    by_median = sorted(SCORES, key=lambda key: np.percentile(SCORES[key], 50))
    assert list(frame["flavor"]) == [name for _, name in by_median]
    for row in frame.to_dict("records"):
        flavor = next(f for f in flavors.values() if f.name == row["flavor"])
        scores = np.array(SCORES[(next(k for k in SCORES if k[1] == row["flavor"]))])
        assert (row["site"], row["site_id"], row["flavor_id"]) == (
            flavor.site.name, str(flavor.site.id), str(flavor.id)
        )  # fmt: skip
        assert row["count"] == len(scores)
        assert row["mean"] == pytest.approx(np.mean(scores))
        assert row["stddev"] == pytest.approx(np.std(scores))
        assert (row["min"], row["max"]) == (scores.min(), scores.max())
        for percentile in (50, 90, 99):
            assert row[f"p{percentile}"] == pytest.approx(np.percentile(scores, percentile))


def test_the_metric_may_omit_its_json_prefix_and_month_is_one_column(anonymous):
    benchmark = BenchmarkFactory()
    for day, score in ((1, 2.0), (2, 4.0)):
        ResultFactory(
            benchmark=benchmark,
            json={"result": {"score": score}},
            execution_datetime=datetime(2021, 3, day, tzinfo=UTC),
        )

    frame = anonymous.aggregate("result.score", "month", benchmark_id=benchmark.id)

    assert frame[["month", "count", "mean"]].to_dict("records") == [
        {"month": "2021-03", "count": 2, "mean": 3.0}
    ]


def test_a_bad_group_key_raises_the_service_message(anonymous):
    with pytest.raises(ApiError) as raised:
        anonymous.aggregate("json.result.score", ["site", "planet"])

    assert raised.value.status == 422
    assert "group_by" in raised.value.message
