"""Finding experiments: the selection ``GET /experiments:search`` lists, and the
statistics of its jobs per group (``GET /experiments:aggregate``).

The aggregate is the experiments' counterpart of ``/results:aggregate`` and shares its
code (``backend.result_finding.aggregates``): the same groups, figures, sorting and
1,000-group limit. The numbers are statistics each job already has (its QPS, and the
latency statistics stored when its latencies were written), so a group's figures are
over jobs, not samples. An experiment holds a handful of jobs, far fewer rows than the
results' aggregate reads: both databases stream (keys, number) in job order and numpy
computes the figures, so they are numpy's exactly on both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Select, select

from backend.extensions import db
from backend.models import Experiment
from backend.models.experiment import Job, experiments_tags
from backend.queries import filter_equal, filter_range, search
from backend.result_finding.aggregates import BATCH, answered_groups, metric_number, rows_statistics


def selected_experiments(args: Mapping[str, Any]) -> Select:
    """The experiments that parsed ``ExperimentSelectionArgs`` select, unordered."""
    stmt = filter_equal(
        select(Experiment),
        args,
        {
            "benchmark_id": Experiment.benchmark_id,
            "site_id": Experiment.site_id,
            "flavor_id": Experiment.flavor_id,
            "uploader_id": Experiment.uploader_id,
        },
    )
    stmt = filter_range(
        stmt, Experiment.created, args.get("created_after"), args.get("created_before")
    )
    for tag_id in dict.fromkeys(args.get("tags_ids") or []):
        tagged = select(experiments_tags.c.experiment_pk).where(experiments_tags.c.tag_id == tag_id)
        stmt = stmt.where(Experiment.id.in_(tagged))
    return search(stmt, args.get("terms") or [], [Experiment.experiment_id])


def aggregate_jobs(args: Mapping[str, Any]) -> dict[str, Any]:
    """The aggregate answer for parsed ``ExperimentAggregateArgs``: the groups of the
    selected experiments' jobs (at most ``MAX_GROUPS``, sorted) and how many of those jobs
    lack the metric."""
    group_by: list[str] = list(dict.fromkeys(args["group_by"]))
    metric, method = args["metric"], args["method"]
    columns = [Job.id, *key_columns(group_by), job_number(metric, method)]
    stmt = selected_experiments(args).with_only_columns(*columns, maintain_column_froms=True)
    # In job order: numpy's sums depend on the order of the values, and the answer should
    # not depend on the plan the database chose.
    stmt = stmt.join(Job, Job.experiment_pk == Experiment.id).order_by(Job.id)
    if "tag" in group_by:  # an experiment with n tags is in n groups; untagged ones in one
        stmt = stmt.outerjoin(experiments_tags, experiments_tags.c.experiment_pk == Experiment.id)
    rows = db.session.execute(stmt, execution_options={"yield_per": BATCH})
    groups, missing = rows_statistics(rows, group_by)
    narrowing = "benchmark_id, site_id, flavor_id, tags_ids, uploader_id, creation dates or terms"
    return {
        "metric": metric,
        "method": method,
        **answered_groups(groups, missing, group_by, args.get("sort_by"), narrowing),
    }


def key_columns(group_by: list[str]) -> list[ColumnElement]:
    """One column per group key, of the job's experiment (``month``: its creation time,
    cut to the month in UTC by ``rows_statistics``)."""
    columns = {
        "benchmark": Experiment.benchmark_id,
        "site": Experiment.site_id,
        "flavor": Experiment.flavor_id,
        "tag": experiments_tags.c.tag_id,
        "month": Experiment.created,
    }
    return [columns[name].label(name) for name in group_by]


def job_number(metric: str, method: str) -> ColumnElement:
    """A job's ``metric`` (``JOB_METRICS``), NULL where it has none: ``qps``, or a
    ``latency.<statistic>`` read from the statistics stored with its latencies, the mean
    and percentiles of ``method``."""
    if metric == "qps":
        return Job.qps
    statistic = metric.removeprefix("latency.")
    if statistic.startswith("p"):
        path: tuple[str, ...] = ("percentiles", method, statistic[1:])
    elif statistic == "mean" and method == "loadgen":
        path = ("loadgen_mean",)
    else:
        path = (statistic,)
    return metric_number(path, Job.stats)
