"""Statistics equal numpy's, per job and over all samples, on random and adversarial data.

count, min, max and percentiles exactly; the mean and the standard deviation (ddof=0) to
the last bits of floating-point summation (a job's mean bit for bit: numpy's own sum).
``method=loadgen`` is the sample at index floor(n*p).
"""

import math
import threading

import numpy as np
import pytest

from backend import create_app
from backend.extensions import db
from backend.latency_stats import CHUNK, streamed_percentiles, summarize
from backend.models import Experiment

DEFAULTS = [50, 90, 95, 99, 99.9]
rng = np.random.default_rng(20261202)

DATA_SETS = {
    "lognormal": rng.lognormal(0, 1, 5000),
    "ties": np.repeat([1.0, 2.0, 2.0, 3.0], 1000),
    "one sample": np.array([4.25]),
    "two samples": np.array([7.0, 1.0]),
    "huge and tiny": np.array([1e150, 5e-324, 1e-300, 1e140, 0.0, 2.5, 1e-10]),
    "near the largest double": np.array([1e308, 1.7e308, 5e-324, 1.0, 1.7976931348623157e308]),
    "all equal": np.full(1001, 0.1),
    "integers (ns)": rng.integers(500_000, 10_000_000, 3333).astype(float),
}


def numpy_mean_and_std(samples):
    """numpy's figures; where its sums overflow (inf), numpy's on the samples scaled by a
    power of two, scaled back, as the service computes them then."""
    with np.errstate(over="ignore"):
        mean, std = np.mean(samples), np.std(samples)
    scale = 2.0 ** -math.frexp(samples.max())[1]
    if not math.isfinite(mean):
        mean = np.mean(samples * scale) / scale
    if not math.isfinite(std):
        std = np.std(samples * scale) / scale
    return mean, std


def loadgen_percentile(samples, percent):
    ordered = np.sort(samples)
    return ordered[min(int(len(ordered) * (percent / 100)), len(ordered) - 1)]


def assert_stats_equal_numpy(answer, samples, method="linear", percents=DEFAULTS):
    assert answer["count"] == len(samples)
    assert answer["min"] == samples.min()
    assert answer["max"] == samples.max()
    mean, std = numpy_mean_and_std(samples)
    if method == "linear":
        assert answer["mean"] == pytest.approx(mean, rel=1e-14)
    assert answer["stddev"] == pytest.approx(std, rel=1e-12)
    for percent in percents:
        key = f"{percent:g}"
        expected = (
            np.percentile(samples, percent)
            if method == "linear"
            else loadgen_percentile(samples, percent)
        )
        assert answer["percentiles"][key] == expected, (key, method)


def post_latencies(client, headers, experiment_id, selector, samples):
    response = client.post(
        "/latencies",
        json={"experiment_id": experiment_id, "selector": selector, "latencies": samples.tolist()},
        headers=headers,
    )
    assert response.status_code == 201, response.json


@pytest.mark.parametrize("name", DATA_SETS)
def test_job_and_experiment_stats_equal_numpy(client, user_headers, name):
    samples = DATA_SETS[name]
    post_latencies(client, user_headers, "e", "s", samples)

    for method in ("linear", "loadgen"):
        answer = client.get(f"/experiments/e/stats?method={method}").json

        assert_stats_equal_numpy(answer["jobs"][0]["latencies"], samples, method)
        assert_stats_equal_numpy(answer["all"], samples, method)


def test_merged_stats_are_over_all_samples_of_all_jobs(client, user_headers):
    jobs = {
        "a": rng.exponential(2.0, 4000),
        "b": np.repeat([5.0, 0.5], 1500),
        "c": np.array([1e9]),
    }
    for selector, samples in jobs.items():
        post_latencies(client, user_headers, "e", selector, samples)
    merged = np.concatenate(list(jobs.values()))

    for method in ("linear", "loadgen"):
        answer = client.get(f"/experiments/e/stats?method={method}").json

        assert_stats_equal_numpy(answer["all"], merged, method)
        for job in answer["jobs"]:
            assert_stats_equal_numpy(job["latencies"], jobs[job["selector"]], method)


def test_other_percentiles_are_computed_on_demand(client, user_headers):
    samples = rng.gamma(2.0, 1.0, 7777)
    post_latencies(client, user_headers, "e", "s", samples)
    percents = [0, 12.5, 50, 99.99, 100]

    for method in ("linear", "loadgen"):
        answer = client.get(
            f"/experiments/e/stats?method={method}&percentiles=0,12.5,50,99.99,100"
        ).json

        assert_stats_equal_numpy(answer["all"], samples, method, percents)
        assert set(answer["all"]["percentiles"]) == {"0", "12.5", "50", "99.99", "100"}


def test_a_subset_of_the_default_percentiles_is_answered_from_the_stored_ones(client, user_headers):
    samples = rng.normal(10, 1, 100).clip(0)
    post_latencies(client, user_headers, "e", "s", samples)

    answer = client.get("/experiments/e/stats?percentiles=99.9,50").json

    assert answer["all"]["percentiles"] == {
        "99.9": np.percentile(samples, 99.9),
        "50": np.percentile(samples, 50),
    }


def test_stats_name_each_jobs_qps_and_jobs_without_latencies(client, user_headers):
    client.post(
        "/qps", json={"experiment_id": "e", "selector": "s", "qps": 12.5}, headers=user_headers
    )

    answer = client.get("/experiments/e/stats").json

    assert answer == {
        "experiment_id": "e",
        "method": "linear",
        "jobs": [{"selector": "s", "qps": 12.5, "latencies": None}],
        "all": None,
    }


def test_loadgen_mean_is_the_truncated_integer_mean_of_whole_nanoseconds(client, user_headers):
    samples = np.array([3.0, 4.0, 4.0])  # mean 3.666...
    post_latencies(client, user_headers, "e", "s", samples)

    answer = client.get("/experiments/e/stats?method=loadgen").json

    assert answer["all"]["mean"] == 3
    assert client.get("/experiments/e/stats").json["all"]["mean"] == np.mean(samples)


def test_summaries_over_several_chunks_equal_numpy():
    """The standard deviation is summed chunk by chunk (no second copy of the samples)."""
    samples = rng.lognormal(3, 2, CHUNK * 2 + 123)

    stats = summarize(samples.copy())

    assert stats["mean"] == np.mean(samples)
    assert stats["stddev"] == pytest.approx(np.std(samples), rel=1e-12)
    assert stats["percentiles"]["linear"]["99.9"] == np.percentile(samples, 99.9)
    assert stats["loadgen_mean"] == math.trunc(np.mean(samples))


def test_histogram_counts_every_sample_in_linear_and_log_bins(client, user_headers):
    samples = rng.lognormal(0, 2, 3000)
    post_latencies(client, user_headers, "e", "s", samples)

    linear = client.get("/experiments/e/histogram?selector=s&bins=20").json
    logarithmic = client.get("/experiments/e/histogram?bins=10&log=true").json

    counts, edges = np.histogram(samples, bins=20)
    assert linear["counts"] == counts.tolist()
    assert linear["edges"] == edges.tolist()
    assert sum(logarithmic["counts"]) == len(samples)
    assert logarithmic["edges"][0] == samples.min()
    assert logarithmic["edges"][-1] == samples.max()
    ratios = np.diff(np.log(logarithmic["edges"]))
    assert ratios == pytest.approx(np.full(10, ratios[0]))


def test_log_histogram_of_a_zero_latency_is_422(client, user_headers):
    post_latencies(client, user_headers, "e", "s", np.array([0.0, 1.0]))

    response = client.get("/experiments/e/histogram?selector=s&log=true")

    assert response.status_code == 422
    assert "> 0" in response.json["message"]


def test_histogram_of_an_unknown_job_is_404(client, user_headers):
    post_latencies(client, user_headers, "e", "s", np.array([1.0]))

    response = client.get("/experiments/e/histogram?selector=other")

    assert response.status_code == 404
    assert "other" in response.json["message"]


def test_merged_percentiles_not_stored_yet_are_computed_from_the_samples(client, user_headers):
    """Just after a write, before the merged percentiles are stored, a reader gets them
    computed from the samples: the same numbers."""
    jobs = [rng.exponential(1.0, 2000), rng.exponential(3.0, 1000)]
    for index, samples in enumerate(jobs):
        post_latencies(client, user_headers, "e", f"job-{index}", samples)
    experiment = db.session.query(Experiment).one()
    experiment.stats = {**experiment.stats, "percentiles": None}
    db.session.commit()

    answer = client.get("/experiments/e/stats").json

    assert_stats_equal_numpy(answer["all"], np.concatenate(jobs))


def test_merged_percentiles_are_completed_after_the_write_in_a_thread(app_settings, user_headers):
    """Outside TESTING the write answers first; a thread of the worker then reads every
    sample and stores the merged percentiles."""
    app = create_app(**{**app_settings, "TESTING": False})
    client = app.test_client()
    jobs = [rng.exponential(2.0, 3000), rng.exponential(0.5, 2000)]
    for index, samples in enumerate(jobs):
        post_latencies(client, user_headers, "e", f"job-{index}", samples)
    for thread in threading.enumerate():
        if thread.name.startswith("merged-stats-"):
            thread.join(timeout=30)

    stored = db.session.query(Experiment).one().stats

    merged = np.concatenate(jobs)
    assert stored["percentiles"]["linear"]["99.9"] == np.percentile(merged, 99.9)
    assert stored["percentiles"]["loadgen"]["50"] == loadgen_percentile(merged, 50)


@pytest.mark.parametrize("name", DATA_SETS)
def test_percentiles_read_chunk_by_chunk_equal_numpy(name):
    """Two passes over chunks (bins of the top 16 bits, then a selection in the few bins
    holding a wanted rank), as for the merged percentiles, never all samples at once."""
    samples = DATA_SETS[name]
    percents = [0, 12.5, 50, 90, 95, 99, 99.9, 99.99, 100]

    def chunks():
        return (samples[start : start + 100] for start in range(0, samples.size, 100))

    found = streamed_percentiles(chunks, samples.size, [f"{p:g}" for p in percents])

    for percent in percents:
        key = f"{percent:g}"
        assert found["linear"][key] == np.percentile(samples, percent), key
        assert found["loadgen"][key] == loadgen_percentile(samples, percent), key
