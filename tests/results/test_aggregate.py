"""GET /results:aggregate: a JSON number's figures per group, the same as numpy's."""

from datetime import UTC, datetime

import numpy as np
import pytest

from backend.extensions import db
from factories import (
    BenchmarkFactory,
    ClaimFactory,
    FlavorFactory,
    ResultFactory,
    SiteFactory,
    TagFactory,
)
from tests.api.test_errors import assert_error


def expected_figures(values):
    array = np.array(values, dtype=np.float64)
    p50, p90, p99 = np.percentile(array, [50, 90, 99])
    return {
        "count": len(values),
        "mean": float(np.mean(array)),
        "stddev": float(np.std(array)),
        "min": float(array.min()),
        "p50": float(p50),
        "p90": float(p90),
        "p99": float(p99),
        "max": float(array.max()),
    }


def assert_figures(group, values):
    """numpy's figures: exactly on SQLite (numpy computes them), within rounding on
    PostgreSQL (its avg, stddev_pop and percentile_cont sum in another order)."""
    expected = expected_figures(values)
    assert group["count"] == expected.pop("count")
    for name, value in expected.items():
        assert group[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


def aggregate(client, **query):
    return client.get("/results:aggregate", query_string=query)


def score(value):
    return {"result": {"score": value}}


#: A JSON Schema declaring result.score a number: PostgreSQL then tracks the path
#: (``result_numbers``) and aggregates of the benchmark read the numbers from there.
SCORE_SCHEMA = {
    "type": "object",
    "properties": {
        "result": {"type": "object", "properties": {"score": {"type": "number"}}},
    },
}


@pytest.fixture(params=["untracked", "tracked"])
def two_sites(request):
    """A benchmark on two sites of two flavors each, with scores per (site, flavor); its
    schema declares the score a number or says nothing of it."""
    benchmark = BenchmarkFactory(
        docker_image="example/c-ray",
        docker_tag="1.0",
        json_schema=SCORE_SCHEMA if request.param == "tracked" else {},
    )
    scores = {
        ("alpha", "small"): [3.5, 1.25, 9.0, 4.0, 4.0],
        ("alpha", "large"): [10.0],
        ("beta", "small"): [2.0, 2.0, 2.0],
        ("beta", "large"): [0.1, 0.7, 0.2, 123456.789, -5.5, 1e-3, 42],
    }
    flavors = {}
    for site_name in ("alpha", "beta"):
        site = SiteFactory(name=site_name)
        for flavor_name in ("small", "large"):
            flavors[site_name, flavor_name] = FlavorFactory(site=site, name=flavor_name)
    for key, values in scores.items():
        for value in values:
            ResultFactory(benchmark=benchmark, flavor=flavors[key], json=score(value))
    return benchmark, flavors, scores


def test_groups_by_site_and_flavor_as_numpy_computes_them(client, two_sites):
    benchmark, flavors, scores = two_sites
    response = aggregate(
        client, benchmark_id=str(benchmark.id), metric="json.result.score", group_by="site,flavor"
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["metric"] == "json.result.score"
    assert body["group_by"] == ["site", "flavor"]
    assert body["missing"] == 0
    names = [(g["keys"]["site"]["name"], g["keys"]["flavor"]["name"]) for g in body["groups"]]
    assert names == [("alpha", "large"), ("alpha", "small"), ("beta", "large"), ("beta", "small")]
    for group in body["groups"]:
        site, flavor = group["keys"]["site"]["name"], group["keys"]["flavor"]["name"]
        assert group["keys"]["flavor"]["id"] == str(flavors[site, flavor].id)
        assert group["keys"]["site"]["id"] == str(flavors[site, flavor].site_id)
        assert_figures(group, scores[site, flavor])


def test_a_group_of_one_has_no_spread(client, two_sites):
    _, flavors, _ = two_sites
    response = aggregate(
        client,
        flavor_id=str(flavors["alpha", "large"].id),
        metric="json.result.score",
        group_by="flavor",
    )
    [group] = response.json["groups"]
    assert group["count"] == 1
    assert group["stddev"] == 0
    assert group["min"] == group["p50"] == group["p99"] == group["max"] == 10.0


def test_results_without_a_number_are_counted_missing(client, two_sites):
    benchmark, flavors, scores = two_sites
    flavor = flavors["beta", "small"]
    for document in [
        {"result": {"score": "fast"}},
        {"result": {"score": True}},
        {"result": {"score": None}},
        {"result": {"score": [1, 2]}},
        {"result": {"score": {"value": 3}}},
        {"result": {}},
        {"other": 1},
    ]:
        ResultFactory(benchmark=benchmark, flavor=flavor, json=document)
    response = aggregate(
        client, benchmark_id=str(benchmark.id), metric="json.result.score", group_by="flavor,site"
    )
    assert response.json["missing"] == 7
    [beta_small] = [
        g
        for g in response.json["groups"]
        if g["keys"]["site"]["name"] == "beta" and g["keys"]["flavor"]["name"] == "small"
    ]
    assert_figures(beta_small, scores["beta", "small"])


def test_a_group_whose_results_all_lack_the_number_is_left_out(client, two_sites):
    benchmark, _, _ = two_sites
    response = aggregate(
        client, benchmark_id=str(benchmark.id), metric="json.result.missing", group_by="site"
    )
    assert response.json["groups"] == []
    assert response.json["missing"] == 16


def test_integers_and_doubles_mix(client):
    benchmark = BenchmarkFactory()
    values = [1, 2, 3, 4.5, 10**15, -7]
    for value in values:
        ResultFactory(benchmark=benchmark, json={"n": value})
    response = aggregate(client, metric="json.n", group_by="benchmark")
    [group] = response.json["groups"]
    assert_figures(group, values)


def test_groups_by_benchmark_with_its_image_and_tag(client, two_sites):
    benchmark, _, scores = two_sites
    other = BenchmarkFactory(docker_image="example/other", docker_tag="2.0")
    ResultFactory(benchmark=other, json=score(5))
    response = aggregate(client, metric="json.result.score", group_by="benchmark")
    assert [g["keys"]["benchmark"] for g in response.json["groups"]] == [
        {"id": str(benchmark.id), "name": "example/c-ray:1.0"},
        {"id": str(other.id), "name": "example/other:2.0"},
    ]
    assert_figures(response.json["groups"][0], [v for vs in scores.values() for v in vs])
    assert_figures(response.json["groups"][1], [5])


@pytest.mark.parametrize("schema", [{}, SCORE_SCHEMA], ids=["untracked", "tracked"])
def test_groups_by_tag_count_a_result_once_per_tag(client, schema):
    benchmark = BenchmarkFactory(json_schema=schema)
    fast, slow = TagFactory(name="fast"), TagFactory(name="slow")
    ResultFactory(benchmark=benchmark, json=score(1), tags=[fast])
    ResultFactory(benchmark=benchmark, json=score(2), tags=[fast, slow])
    ResultFactory(benchmark=benchmark, json=score(4))
    ResultFactory(benchmark=benchmark, json={"none": 1}, tags=[fast, slow])
    response = aggregate(
        client, benchmark_id=str(benchmark.id), metric="json.result.score", group_by="tag"
    )
    groups = {g["keys"]["tag"]["name"]: g for g in response.json["groups"]}
    assert list(groups) == ["fast", "slow", None]
    assert groups["fast"]["keys"]["tag"]["id"] == str(fast.id)
    assert_figures(groups["fast"], [1, 2])
    assert_figures(groups["slow"], [2])
    assert groups[None]["keys"]["tag"] == {"id": None, "name": None}
    assert_figures(groups[None], [4])
    assert response.json["missing"] == 1


def test_groups_by_month_of_execution_in_utc(client):
    benchmark = BenchmarkFactory()
    runs = [
        (datetime(2024, 1, 31, 23, 30, tzinfo=UTC), 1),
        (datetime(2024, 1, 1, 0, 0, tzinfo=UTC), 2),
        (datetime(2024, 2, 1, 0, 0, tzinfo=UTC), 8),
        (datetime(2023, 12, 31, 23, 59, tzinfo=UTC), 16),
    ]
    for executed, value in runs:
        ResultFactory(benchmark=benchmark, execution_datetime=executed, json=score(value))
    response = aggregate(
        client, benchmark_id=str(benchmark.id), metric="json.result.score", group_by="month"
    )
    assert [(g["keys"]["month"], g["count"], g["mean"]) for g in response.json["groups"]] == [
        ({"id": "2023-12", "name": "2023-12"}, 1, 16.0),
        ({"id": "2024-01", "name": "2024-01"}, 2, 1.5),
        ({"id": "2024-02", "name": "2024-02"}, 1, 8.0),
    ]


def test_three_keys(client, two_sites):
    _, _, scores = two_sites
    response = aggregate(client, metric="json.result.score", group_by="benchmark,site,flavor")
    assert len(response.json["groups"]) == 4
    for group in response.json["groups"]:
        assert set(group["keys"]) == {"benchmark", "site", "flavor"}
        key = (group["keys"]["site"]["name"], group["keys"]["flavor"]["name"])
        assert_figures(group, scores[key])


@pytest.mark.parametrize(
    "statistic", ["count", "mean", "stddev", "min", "p50", "p90", "p99", "max"]
)
@pytest.mark.parametrize("direction", ["+", "-"])
def test_sorts_by_any_figure(client, two_sites, statistic, direction):
    response = aggregate(
        client,
        metric="json.result.score",
        group_by="site,flavor",
        sort_by=f"{direction}{statistic}",
    )
    figures = [g[statistic] for g in response.json["groups"]]
    assert figures == sorted(figures, reverse=direction == "-")


def test_sorts_by_a_key_name(client, two_sites):
    response = aggregate(
        client, metric="json.result.score", group_by="site,flavor", sort_by="-flavor,-site"
    )
    names = [
        (g["keys"]["flavor"]["name"], g["keys"]["site"]["name"]) for g in response.json["groups"]
    ]
    assert names == [("small", "beta"), ("small", "alpha"), ("large", "beta"), ("large", "alpha")]


def test_takes_every_results_filter(client, two_sites):
    benchmark, flavors, scores = two_sites
    flavor = flavors["beta", "large"]
    tag = TagFactory()
    ResultFactory(benchmark=benchmark, flavor=flavor, json=score(1000), tags=[tag])
    ResultFactory(benchmark=benchmark, flavor=flavor, json=score(2000), tags=[tag])
    ClaimFactory(resource=ResultFactory(benchmark=benchmark, flavor=flavor, json=score(3000)))
    response = aggregate(
        client,
        metric="json.result.score",
        group_by="flavor",
        filters="result.score >= 0.5",
        site_id=str(flavor.site_id),
    )
    [large, small] = response.json["groups"]
    assert_figures(large, [v for v in scores["beta", "large"] if v >= 0.5] + [1000, 2000])
    assert_figures(small, scores["beta", "small"])
    tagged = aggregate(client, metric="json.result.score", group_by="site", tags_ids=str(tag.id))
    [group] = tagged.json["groups"]
    assert_figures(group, [1000, 2000])


def test_answers_change_with_the_results(client, two_sites):
    benchmark, flavors, scores = two_sites
    query = {
        "metric": "json.result.score",
        "group_by": "flavor",
        "site_id": str(flavors["alpha", "large"].site_id),
    }
    before = aggregate(client, **query).json["groups"][0]
    assert_figures(before, scores["alpha", "large"])
    added = ResultFactory(benchmark=benchmark, flavor=flavors["alpha", "large"], json=score(20))
    assert_figures(aggregate(client, **query).json["groups"][0], [10.0, 20])
    ClaimFactory(resource=added)
    assert_figures(aggregate(client, **query).json["groups"][0], [10.0])


def test_more_than_1000_groups_is_refused_with_how_to_narrow(client):
    benchmark = BenchmarkFactory()
    flavor = FlavorFactory()
    uploader = ResultFactory(
        benchmark=benchmark,
        flavor=flavor,
        json=score(0),
        execution_datetime=datetime(1900, 1, 1, tzinfo=UTC),
    ).uploader
    for month in range(1, 1001):
        executed = datetime(1900 + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        db.session.add(
            ResultFactory.build(
                benchmark=benchmark,
                flavor=flavor,
                uploader=uploader,
                execution_datetime=executed,
                json=score(month),
            )
        )
    db.session.commit()
    query = {"metric": "json.result.score", "group_by": "month"}
    response = aggregate(client, **query)
    assert_error(response, 422)
    assert "1,001 groups" in response.json["message"]
    assert "Narrow it" in response.json["message"]
    narrowed = aggregate(client, execution_after="1900-01-02T00:00:00Z", **query)
    assert narrowed.status_code == 200
    assert len(narrowed.json["groups"]) == 1000


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"group_by": "site"}, "metric"),
        ({"metric": "json.result.score"}, "group_by"),
        ({"metric": "result.score", "group_by": "site"}, "metric"),
        ({"metric": "json.a..b", "group_by": "site"}, "metric"),
        ({"metric": "json.x", "group_by": "uploader"}, "group_by"),
        ({"metric": "json.x", "group_by": "site,flavor,tag,month"}, "group_by"),
        ({"metric": "json.x", "group_by": "site,site"}, "group_by"),
        ({"metric": "json.x", "group_by": "site", "sort_by": "-median"}, "sort_by"),
        ({"metric": "json.x", "group_by": "site", "sort_by": "-flavor"}, "sort_by"),
        ({"metric": "json.x", "group_by": "site", "page": "2"}, "page"),
    ],
)
def test_bad_arguments_say_what_to_fix(client, query, field):
    response = aggregate(client, **query)
    assert_error(response, 422)
    assert field in response.json["errors"]["query"], response.json
