"""GET /experiments:aggregate: a job statistic's figures per group of experiments, the same
as numpy's over the jobs' values, the values themselves numpy's over the posted samples."""

import itertools
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import update

from backend.extensions import db
from backend.models import Experiment, Tag
from backend.schemas.experiments import JOB_METRICS
from factories import BenchmarkFactory, FlavorFactory, SiteFactory, TagFactory
from tests.api.test_errors import assert_error

rng = np.random.default_rng(20261203)
FIGURES = ["mean", "stddev", "min", "p50", "p90", "p99", "max"]


def aggregate(client, **query):
    return client.get("/experiments:aggregate", query_string=query)


def job_value(job, metric, method="linear"):
    """The job's ``metric`` as numpy computes it from what the test posted; None if the
    job has none."""
    if metric == "qps":
        return job["qps"]
    samples = job["samples"]
    if samples is None:
        return None
    statistic = metric.removeprefix("latency.")
    if statistic.startswith("p"):
        percent = float(statistic[1:])
        if method == "loadgen":
            ordered = np.sort(samples)
            return ordered[min(int(len(ordered) * (percent / 100)), len(ordered) - 1)]
        return np.percentile(samples, percent)
    if statistic == "mean" and method == "loadgen":
        return int(samples.sum()) // len(samples)  # whole nanoseconds: LoadGen's mean
    return {"count": len, "mean": np.mean, "stddev": np.std, "min": np.min, "max": np.max}[
        statistic
    ](samples)


def expected_groups(jobs, metric, group_by, method="linear"):
    """{key ids: the jobs' values}: a job in the group of each of its keys' values (an
    experiment with two tags puts its jobs in both tags' groups)."""
    groups = {}
    for job in jobs:
        value = job_value(job, metric, method)
        if value is None:
            continue
        for key in itertools.product(*(job["keys"][kind] for kind in group_by)):
            groups.setdefault(key, []).append(float(value))
    return groups


def assert_figures(group, values):
    array = np.array(values, dtype=np.float64)
    p50, p90, p99 = np.percentile(array, [50, 90, 99])
    expected = {
        "mean": np.mean(array),
        "stddev": np.std(array),
        "min": array.min(),
        "p50": p50,
        "p90": p90,
        "p99": p99,
        "max": array.max(),
    }
    assert group["count"] == len(values)
    assert {name: group[name] for name in FIGURES} == {n: float(v) for n, v in expected.items()}


def assert_answer(body, jobs, metric, group_by, method="linear"):
    expected = expected_groups(jobs, metric, group_by, method)
    answered = {tuple(g["keys"][kind]["id"] for kind in group_by): g for g in body["groups"]}
    assert set(answered) == set(expected)
    for key, values in expected.items():
        assert_figures(answered[key], values)


@pytest.fixture
def sweeps(client, user_headers):
    """Experiments in several contexts, their jobs posted through the API; the jobs as the
    test knows them, with each group key's values (ids as the API spells them)."""
    resnet = BenchmarkFactory(docker_image="mlperf/resnet50", docker_tag="v4")
    bert = BenchmarkFactory(docker_image="mlperf/bert", docker_tag="v4")
    small = FlavorFactory(name="small", site=SiteFactory(name="alpha"))
    large = FlavorFactory(name="large", site=SiteFactory(name="beta"))
    fast, gpu = TagFactory(name="fast"), TagFactory(name="gpu")
    plan = {  # experiment: (benchmark, flavor, tags, jobs: selector -> (has qps, has latencies))
        "sweep-a": (resnet, small, [fast], {f"a{i}": (True, True) for i in range(3)}),
        "sweep-b": (resnet, large, [fast, gpu], {f"b{i}": (True, True) for i in range(2)}),
        "sweep-c": (bert, small, [], {f"c{i}": (True, True) for i in range(4)}),
        "loose": (None, None, [], {"l0": (True, True), "l1": (True, True)}),
        "partial": (
            bert,
            large,
            [fast, gpu],
            {"whole": (True, True), "only-qps": (True, False), "only-latencies": (False, True)},
        ),
    }
    jobs = []
    for experiment_id, (benchmark, flavor, tags, selectors) in plan.items():
        for selector, (has_qps, has_latencies) in selectors.items():
            job = {"experiment_id": experiment_id, "qps": None, "samples": None}
            if has_qps:
                job["qps"] = float(rng.uniform(10, 5000))
                body = {"experiment_id": experiment_id, "selector": selector, "qps": job["qps"]}
                assert client.post("/qps", json=body, headers=user_headers).status_code == 201
            if has_latencies:
                size = int(rng.integers(1, 300))
                job["samples"] = rng.integers(100_000, 90_000_000, size).astype(float)
                body = {
                    "experiment_id": experiment_id,
                    "selector": selector,
                    "latencies": job["samples"].tolist(),
                }
                assert client.post("/latencies", json=body, headers=user_headers).status_code == 201
            jobs.append(job)
        context = {"tags_ids": [str(tag.id) for tag in tags]}
        if benchmark is not None:
            context |= {"benchmark_id": str(benchmark.id), "flavor_id": str(flavor.id)}
        response = client.patch(f"/experiments/{experiment_id}", json=context, headers=user_headers)
        assert response.status_code == 200, response.json
    # an experiment without jobs counts nowhere
    assert client.post("/config/empty", json={}, headers=user_headers).status_code == 201
    created = {
        "sweep-c": datetime(2025, 1, 15, tzinfo=UTC),
        "loose": datetime(2024, 12, 31, 23, 30, tzinfo=UTC),
    }
    for experiment_id, when in created.items():
        db.session.execute(
            update(Experiment).where(Experiment.experiment_id == experiment_id).values(created=when)
        )
    db.session.commit()
    for job in jobs:
        experiment = client.get(f"/experiments/{job['experiment_id']}").json
        job["keys"] = {
            "benchmark": [experiment["benchmark_id"]],
            "site": [experiment["site_id"]],
            "flavor": [experiment["flavor_id"]],
            "tag": [tag["id"] for tag in experiment["tags"]] or [None],
            "month": [experiment["created"][:7]],
        }
    return jobs


@pytest.mark.parametrize(
    "group_by",
    ["benchmark", "site", "flavor", "tag", "month", "site,flavor", "benchmark,tag,month"],
)
def test_groups_by_each_key_as_numpy_computes_them(client, sweeps, group_by):
    response = aggregate(client, metric="latency.p99", group_by=group_by)

    assert response.status_code == 200, response.json
    body = response.json
    assert body["metric"] == "latency.p99"
    assert body["method"] == "linear"
    assert body["group_by"] == group_by.split(",")
    assert body["missing"] == 1
    assert_answer(body, sweeps, "latency.p99", group_by.split(","))


def test_experiments_without_context_are_in_a_group_of_null_keys(client, sweeps):
    body = aggregate(client, metric="qps", group_by="benchmark,site").json

    loose = [g for g in body["groups"] if g["keys"]["benchmark"]["id"] is None]
    assert [g["keys"] for g in loose] == [
        {"benchmark": {"id": None, "name": None}, "site": {"id": None, "name": None}}
    ]
    assert_figures(loose[0], [job["qps"] for job in sweeps if job["experiment_id"] == "loose"])
    names = [(g["keys"]["benchmark"]["name"], g["keys"]["site"]["name"]) for g in body["groups"]]
    assert names == [
        ("mlperf/bert:v4", "alpha"),
        ("mlperf/bert:v4", "beta"),
        ("mlperf/resnet50:v4", "alpha"),
        ("mlperf/resnet50:v4", "beta"),
        (None, None),
    ]


def test_months_are_of_the_creation_in_utc(client, sweeps):
    body = aggregate(client, metric="qps", group_by="month").json

    months = [g["keys"]["month"] for g in body["groups"]]
    assert months[:2] == [
        {"id": "2024-12", "name": "2024-12"},
        {"id": "2025-01", "name": "2025-01"},
    ]
    assert len(months) == 3


@pytest.mark.parametrize("metric", JOB_METRICS)
def test_every_job_statistic(client, sweeps, metric):
    body = aggregate(client, metric=metric, group_by="flavor").json

    assert body["missing"] == 1  # "only-latencies" has no QPS, "only-qps" no latencies
    assert_answer(body, sweeps, metric, ["flavor"])


@pytest.mark.parametrize("metric", ["latency.p50", "latency.p99.9", "latency.mean"])
def test_loadgen_statistics(client, sweeps, metric):
    body = aggregate(client, metric=metric, method="loadgen", group_by="benchmark").json

    assert body["method"] == "loadgen"
    assert_answer(body, sweeps, metric, ["benchmark"], method="loadgen")


def test_a_job_without_the_metric_is_missing_once_whatever_its_tags(client, sweeps):
    body = aggregate(client, metric="qps", group_by="tag").json

    assert body["missing"] == 1  # "partial" has two tags
    assert_answer(body, sweeps, "qps", ["tag"])
    assert body["groups"][-1]["keys"]["tag"] == {"id": None, "name": None}


def test_a_group_of_one_has_no_spread(client, user_headers):
    body = {"experiment_id": "solo", "selector": "s", "qps": 42.5}
    assert client.post("/qps", json=body, headers=user_headers).status_code == 201

    [group] = aggregate(client, metric="qps", group_by="site").json["groups"]

    assert group["count"] == 1
    assert group["stddev"] == 0
    assert group["min"] == group["p50"] == group["p99"] == group["max"] == 42.5


def test_the_search_filters_select_the_experiments(client, sweeps, user):
    resnet = client.get("/experiments/sweep-a").json["benchmark_id"]
    gpu = db.session.query(Tag).filter_by(name="gpu").one()
    cases = [
        ({"benchmark_id": resnet}, {"sweep-a", "sweep-b"}),
        ({"tags_ids": str(gpu.id)}, {"sweep-b", "partial"}),
        ({"terms": "sweep"}, {"sweep-a", "sweep-b", "sweep-c"}),
        ({"created_before": "2025-02-01T00:00:00Z"}, {"sweep-c", "loose"}),
        ({"uploader_id": str(user.id)}, {job["experiment_id"] for job in sweeps}),
    ]
    for query, experiments in cases:
        response = aggregate(client, metric="latency.mean", group_by="site", **query)
        assert response.status_code == 200, response.json
        selected = [job for job in sweeps if job["experiment_id"] in experiments]
        assert_answer(response.json, selected, "latency.mean", ["site"])


def test_sorts_by_any_figure_or_key(client, sweeps):
    by_mean = aggregate(client, metric="qps", group_by="tag", sort_by="-mean")
    means = [g["mean"] for g in by_mean.json["groups"]]
    assert means == sorted(means, reverse=True)

    by_count = aggregate(
        client, metric="qps", group_by="site,benchmark", sort_by="+count,-site", terms="sweep"
    )
    keys = [(g["count"], g["keys"]["site"]["name"]) for g in by_count.json["groups"]]
    assert [count for count, _ in keys] == sorted(count for count, _ in keys)
    for (count, site), (next_count, next_site) in itertools.pairwise(keys):
        assert count < next_count or site >= next_site


def test_an_empty_selection_has_no_groups(client, sweeps):
    response = aggregate(client, metric="qps", group_by="site", terms="no-such-experiment")

    assert response.status_code == 200
    assert response.json["groups"] == []
    assert response.json["missing"] == 0


def test_more_than_1000_groups_is_refused_with_how_to_narrow(client, user_headers):
    tags = TagFactory.build_batch(1001)
    db.session.add_all(tags)
    db.session.commit()
    for experiment_id, some in (("many", tags[:1000]), ("one-more", tags[1000:])):
        body = {"experiment_id": experiment_id, "selector": "s", "qps": 1.0}
        assert client.post("/qps", json=body, headers=user_headers).status_code == 201
        changes = {"tags_ids": [str(tag.id) for tag in some]}
        assert client.patch(f"/experiments/{experiment_id}", json=changes, headers=user_headers)

    response = aggregate(client, metric="qps", group_by="tag")

    assert_error(response, 422)
    assert "1,001 groups" in response.json["message"]
    assert "Narrow it" in response.json["message"]
    assert "group_by" in response.json["errors"]["query"]
    narrowed = aggregate(client, metric="qps", group_by="tag", terms="many")
    assert narrowed.status_code == 200
    assert len(narrowed.json["groups"]) == 1000


@pytest.mark.parametrize(
    ("query", "field", "said"),
    [
        ({"group_by": "site"}, "metric", "required"),
        ({"metric": "latency.p42", "group_by": "site"}, "metric", "'latency.p42' is not a job"),
        ({"metric": "json.result.score", "group_by": "site"}, "metric", "latency.p99.9"),
        ({"metric": "qps"}, "group_by", "required"),
        ({"metric": "qps", "group_by": "selector"}, "group_by", "benchmark"),
        ({"metric": "qps", "group_by": "site,flavor,tag,month"}, "group_by", "3"),
        ({"metric": "qps", "group_by": "site,site"}, "group_by", "once"),
        ({"metric": "qps", "group_by": "site", "sort_by": "-median"}, "sort_by", "median"),
        ({"metric": "qps", "group_by": "site", "sort_by": "-flavor"}, "sort_by", "group_by"),
        ({"metric": "qps", "group_by": "site", "method": "exact"}, "method", "loadgen"),
        ({"metric": "qps", "group_by": "site", "page": "2"}, "page", "Unknown"),
    ],
)
def test_bad_arguments_say_what_to_fix(client, query, field, said):
    response = aggregate(client, **query)

    assert_error(response, 422)
    assert said in str(response.json["errors"]["query"][field]), response.json


def test_the_openapi_document_describes_the_route(client):
    spec = client.get("/api-spec.json").json
    operation = spec["paths"]["/experiments:aggregate"]["get"]

    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"metric", "method", "group_by", "sort_by", "benchmark_id", "terms"} <= names
    assert "page" not in names
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/ExperimentAggregate")
    assert operation["summary"].startswith("(Public)")
