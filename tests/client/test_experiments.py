"""Experiments with the client: QPS as a Series, latencies as numpy arrays, and the
service's statistics, which are numpy's for the same samples."""

from __future__ import annotations

import numpy as np
import pytest

from perfclient import ApiError

LATENCIES = {"job-1": [0.5, 1.25, 3.0, 0.75], "job-2": [2.0, 2.5]}


def test_qps_and_latencies_read_back_as_they_were_stored(perf):
    for selector, latencies in LATENCIES.items():
        perf.upload_qps("sweep-1", selector, 100.0 * len(latencies))
        stored = perf.upload_latencies("sweep-1", selector, np.array(latencies))
        assert stored["count"] == len(latencies)

    qps = perf.qps("sweep-1")
    latencies = perf.latencies("sweep-1")

    assert qps.to_dict() == {"job-1": 400.0, "job-2": 200.0}
    assert set(latencies) == set(LATENCIES)
    for selector, values in LATENCIES.items():
        np.testing.assert_array_equal(latencies[selector], values)
        assert latencies[selector].dtype == np.float64


def test_stats_are_numpys_per_job_and_over_all_samples(perf):
    for selector, latencies in LATENCIES.items():
        perf.upload_latencies("sweep-2", selector, latencies)

    stats = perf.experiment_stats("sweep-2", percentiles=[50, 99.9])

    assert list(stats.index) == [*LATENCIES, "(all)"]
    everything = [value for values in LATENCIES.values() for value in values]
    for selector, samples in [*LATENCIES.items(), ("(all)", everything)]:
        row = stats.loc[selector]
        assert row["count"] == len(samples)
        assert row["mean"] == pytest.approx(np.mean(samples))
        assert row["stddev"] == pytest.approx(np.std(samples))
        assert row["p50"] == pytest.approx(np.percentile(samples, 50))
        assert row["p99.9"] == pytest.approx(np.percentile(samples, 99.9))


def test_experiments_are_a_frame(perf):
    perf.upload_qps("sweep-3", "job-1", 1.0)

    frame = perf.experiments()

    assert frame["experiment_id"].tolist() == ["sweep-3"]
    assert perf.experiment("sweep-3")["experiment_id"] == "sweep-3"


def test_jobs_aggregate_per_group_as_numpy_computes_it(perf):
    for selector, latencies in LATENCIES.items():
        perf.upload_latencies("sweep-5", selector, latencies)
    perf.upload_qps("sweep-5", "job-1", 10.0)  # job-2 has none

    frame = perf.aggregate_experiments("latency.p99", "site", terms="sweep-5")
    qps = perf.aggregate_experiments("qps", ["month"], sort_by="-count")

    assert frame.attrs == {"metric": "latency.p99", "missing": 0, "method": "linear"}
    [row] = frame.to_dict("records")
    assert row["site"] is None and row["site_id"] is None  # not linked to the catalogue
    values = [np.percentile(samples, 99) for samples in LATENCIES.values()]
    assert row["count"] == 2
    assert (row["min"], row["max"]) == (min(values), max(values))
    assert row["mean"] == pytest.approx(np.mean(values))
    assert row["stddev"] == pytest.approx(np.std(values))
    assert qps.attrs["missing"] == 1
    assert qps[["count", "mean"]].to_dict("records") == [{"count": 1, "mean": 10.0}]


def test_negative_latencies_are_refused_with_the_service_message(perf):
    with pytest.raises(ApiError) as raised:
        perf.upload_latencies("sweep-4", "job-1", [1.0, -2.0])

    assert raised.value.status == 422
    assert "latencies" in raised.value.message
