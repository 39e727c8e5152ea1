"""Experiments (load tests of ML systems): their jobs' QPS, latencies as numpy arrays,
the service's exact statistics, and those of many experiments' jobs per group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from perfclient.exports import aggregate_frame
from perfclient.frames import items_frame
from perfclient.transport import Transport


class ExperimentCalls:
    """The client's experiment methods (mixed into :class:`perfclient.Client`)."""

    http: Transport

    def experiments(self, **search: Any) -> pd.DataFrame:
        """Experiments, one row each, filtered as ``GET /experiments:search`` filters them
        (``terms``, ``benchmark_id``, ``site_id``, ``flavor_id``, ``tags_ids``,
        ``uploader_id``, ``created_after``, ``created_before``, ``sort_by``)."""
        return items_frame(self.http.pages("/experiments:search", search))

    def experiment(self, experiment_id: str) -> dict[str, Any]:
        """One experiment: its ids, catalogue links and sample count."""
        return self.http.json("GET", f"/experiments/{experiment_id}")

    def qps(self, experiment_id: str) -> pd.Series:
        """Each job's queries per second, indexed by the job's selector."""
        jobs = self.http.json("GET", f"/qps/{experiment_id}")
        return pd.Series(
            [job["qps"] for job in jobs],
            index=pd.Index([job["selector"] for job in jobs], name="selector"),
            name="qps",
            dtype=float,
        )

    def latencies(self, experiment_id: str) -> dict[str, np.ndarray]:
        """Each job's latencies, in the job's order, by selector."""
        jobs = self.http.json("GET", f"/latencies/{experiment_id}", params={"format": "array"})
        return {job["selector"]: np.asarray(job["latencies"], dtype=float) for job in jobs}

    def experiment_stats(
        self,
        experiment_id: str,
        percentiles: Sequence[float] | None = None,
        method: str = "linear",
    ) -> pd.DataFrame:
        """The service's exact statistics, one row per job and a last row ``(all)`` over
        every sample: qps, count, min, max, mean, stddev and a ``p<percentile>`` column per
        percentile. ``method``: linear (numpy's) or loadgen (MLPerf LoadGen's)."""
        params = {"method": method}
        if percentiles is not None:
            params["percentiles"] = ",".join(f"{p:g}" for p in percentiles)
        body = self.http.json("GET", f"/experiments/{experiment_id}/stats", params=params)
        rows = [
            {"selector": job["selector"], "qps": job["qps"], **_summary(job["latencies"])}
            for job in body["jobs"]
        ]
        if body["all"] is not None:
            rows.append({"selector": "(all)", "qps": None, **_summary(body["all"])})
        return pd.DataFrame.from_records(rows).set_index("selector") if rows else pd.DataFrame()

    def aggregate_experiments(
        self,
        metric: str,
        group_by: str | list[str],
        *,
        method: str = "linear",
        sort_by: str | list[str] | None = None,
        **search: Any,
    ) -> pd.DataFrame:
        """Statistics of one figure of each job per group of experiments, e.g.
        ``aggregate_experiments("latency.p99", ["site", "flavor"], benchmark_id=B)``.

        ``metric``: ``qps``, or ``latency.`` and one of count, mean, stddev, min, max, p50,
        p90, p95, p99, p99.9 (``method``: linear or loadgen percentiles and mean). The
        experiments are filtered as :meth:`experiments` filters them; ``group_by``,
        ``sort_by`` and the frame are :meth:`aggregate`'s, a group's count being jobs.
        ``frame.attrs["missing"]`` counts the jobs left out for lacking the metric."""
        params = {**search, "metric": metric, "method": method, "group_by": _joined(group_by)}
        if sort_by is not None:
            params["sort_by"] = _joined(sort_by)
        body = self.http.json("GET", "/experiments:aggregate", params=params)
        frame = aggregate_frame(body)
        frame.attrs["method"] = body["method"]
        return frame

    def upload_qps(self, experiment_id: str, selector: str, qps: float) -> dict[str, Any]:
        """Store a job's QPS (the first write to an experiment makes it)."""
        body = {"experiment_id": experiment_id, "selector": selector, "qps": float(qps)}
        return self.http.json("POST", "/qps", json=body)

    def upload_latencies(
        self, experiment_id: str, selector: str, latencies: Sequence[float] | np.ndarray
    ) -> dict[str, Any]:
        """Store a job's latencies (one per sample, in order); the count stored."""
        body = {
            "experiment_id": experiment_id,
            "selector": selector,
            "latencies": np.asarray(latencies, dtype=float).tolist(),
        }
        return self.http.json("POST", "/latencies", json=body)


def _joined(names: str | list[str]) -> str:
    return names if isinstance(names, str) else ",".join(names)


def _summary(summary: dict[str, Any] | None) -> dict[str, Any]:
    if not summary:
        return {}
    flat = {name: value for name, value in summary.items() if name != "percentiles"}
    flat.update({f"p{p}": value for p, value in summary.get("percentiles", {}).items()})
    return flat
