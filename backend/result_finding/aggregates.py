"""Statistics of one JSON number of the selected results, per group (GET /results:aggregate).

Figures are numpy's: ``mean``, ``stddev`` as ``numpy.std`` with its default ``ddof=0``
(the population standard deviation, 0 for a group of one), percentiles as
``numpy.percentile``'s default linear interpolation. PostgreSQL computes them in one
grouped statement (``avg``, ``stddev_pop``, ``percentile_cont``, all over double
precision, the same definitions); SQLite streams the values and numpy computes them.

On PostgreSQL a cold aggregate over ~400,000 results reads that many rows (a few hundred
ms of one core), so answers are kept per state of the data, as ``indexed.numbers_total``
keeps totals: the benchmarks' result versions are read before and after the statement,
and an answer is kept only when they did not move meanwhile, so it is exact for exactly
that state; any change to visible results or their tags commits new versions.

The experiments' aggregate (``backend.experiment_finding``) shares the part that does not
depend on where the numbers come from: numpy's figures of streamed rows
(``rows_statistics``) and naming, sorting and the 1,000-group limit (``answered_groups``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Float, Select, and_, cast, func, select

from backend.dialects import json_sort_keys
from backend.errors import InvalidArguments
from backend.extensions import db
from backend.lru_cache import LruCache
from backend.models import Benchmark, Flavor, Result, Site, Tag, results_tags
from backend.models.result_index import benchmark_number_paths, result_numbers
from backend.result_finding.indexed import arguments_key, result_versions, tracked_path
from backend.result_finding.selection import dialect, selected_results
from backend.schemas.results import AGGREGATE_STATISTICS

STATISTICS = AGGREGATE_STATISTICS
PERCENTILES = (50, 90, 99)
MAX_GROUPS = 1000
#: Rows read per round trip when SQLite streams the values.
BATCH = 10_000


class TooManyGroups(InvalidArguments):
    pass


def aggregate(args: Mapping[str, Any]) -> dict[str, Any]:
    """The aggregate answer for parsed ``ResultAggregateArgs``: its groups (at most
    ``MAX_GROUPS``, sorted) and how many selected results had no number at ``metric``."""
    group_by: list[str] = list(dict.fromkeys(args["group_by"]))
    path: tuple[str, ...] = args["metric"]
    if dialect() == "postgresql":
        groups, missing = kept_statistics(args, group_by, path)
    else:
        groups, missing = streamed_statistics(args, group_by, path)
    narrowing = "benchmark_id, site_id, flavor_id, tags_ids or execution dates"
    return {
        "metric": "json." + ".".join(path),
        **answered_groups(groups, missing, group_by, args.get("sort_by"), narrowing),
    }


def metric_number(path: Sequence[str], document: ColumnElement = Result.json):
    """The number at ``path`` of ``document`` (NULL when it holds none there), as a double:
    the numeric sort key of ``dialects.json_sort_keys`` without its direction."""
    number = json_sort_keys(dialect(), document, path, descending=False)[1].element
    return cast(number, Float) if dialect() == "postgresql" else number


def key_columns(group_by: Sequence[str]) -> list:
    """One column per group key; ``month`` on PostgreSQL as 'YYYY-MM' in UTC (SQLite's
    times are read and cut to months in Python)."""
    columns = {
        "benchmark": Result.benchmark_id,
        "site": Result.site_id,
        "flavor": Result.flavor_id,
        "tag": results_tags.c.tag_id,
        "month": func.to_char(func.timezone("UTC", Result.execution_datetime), "YYYY-MM")
        if dialect() == "postgresql"
        else Result.execution_datetime,
    }
    return [columns[name].label(name) for name in group_by]


def grouped(args: Mapping[str, Any], group_by: Sequence[str], columns: list) -> Select:
    stmt = selected_results(args).with_only_columns(*columns, maintain_column_froms=True)
    if "tag" in group_by:  # a result with n tags is in n groups; untagged ones in one
        stmt = stmt.outerjoin(results_tags, results_tags.c.result_id == Result.id)
    return stmt


# PostgreSQL ------------------------------------------------------------------------------

#: Answers by (arguments, result versions); thread-safe itself.
_kept: LruCache[tuple, tuple[list[dict], int]] = LruCache(256)


def kept_statistics(
    args: Mapping[str, Any], group_by: list[str], path: tuple[str, ...]
) -> tuple[list[dict], int]:
    """``sql_statistics``, kept per data state (see the module's docstring)."""
    key = arguments_key(args, "sort_by")
    before = result_versions()
    kept = _kept.get((key, before))
    if kept is not None:
        return kept
    answer = sql_statistics(args, group_by, path)
    if result_versions() == before:
        _kept.put((key, before), answer)
    return answer


def sql_statistics(
    args: Mapping[str, Any], group_by: list[str], path: tuple[str, ...]
) -> tuple[list[dict], int]:
    # The numbers are taken out first, so that the sort for the percentiles moves keys and
    # a double per result rather than whole documents (measured at 400,000 results: 3.4 s
    # instead of 5.3 s, cold).
    tracked = tracked_metric(args, path)
    if tracked is None:
        value = metric_number(path)
        numbers = grouped(args, group_by, [*key_columns(group_by), value.label("v")])
    else:
        n = result_numbers.alias("metric")
        value = cast(n.c.value, Float)
        numbers = grouped(args, group_by, [*key_columns(group_by), value.label("v")]).outerjoin(
            n, and_(n.c.result_id == Result.id, n.c.path == tracked)
        )
    numbers = numbers.subquery("numbers")
    keys = [numbers.c[name] for name in group_by]
    value = numbers.c.v
    statistics = [
        func.count(value),
        func.count(),
        func.avg(value),
        func.stddev_pop(value),
        func.min(value),
        func.percentile_cont([p / 100 for p in PERCENTILES]).within_group(value),
        func.max(value),
    ]
    stmt = select(*keys, *statistics).group_by(*keys)
    groups, missing = [], 0
    for row in db.session.execute(stmt):
        key_values = row[: len(keys)]
        count, rows, mean, stddev, low, percentiles, high = row[len(keys) :]
        missing += rows - count
        if count == 0:
            continue
        groups.append(
            {
                "key": tuple(key_values),
                "count": count,
                "mean": mean,
                "stddev": stddev,
                "min": low,
                **{f"p{p}": v for p, v in zip(PERCENTILES, percentiles, strict=True)},
                "max": high,
            }
        )
    if "tag" in group_by:
        missing = count_missing(args, path)
    return groups, missing


def tracked_metric(args: Mapping[str, Any], path: tuple[str, ...]) -> str | None:
    """The metric's path as ``result_numbers`` spells it, when that table holds the metric
    of every selected result: the selection is of one benchmark, which tracks the path.
    Its numbers then come from there rather than from each document (400,000 c-ray
    results by site and flavor, cold: 0.8 s against 2.3 s); they are the same numbers,
    and a result without a number there has no row (missing), as it has no number."""
    if args.get("benchmark_id") is None:
        return None
    paths = benchmark_number_paths.c
    spelled = tracked_path(path)
    found = db.session.scalar(
        select(paths.path).where(paths.benchmark_id == args["benchmark_id"], paths.path == spelled)
    )
    return spelled if found is not None else None


def count_missing(args: Mapping[str, Any], path: tuple[str, ...]) -> int:
    """Selected results without a number at ``path``, each once (a tag grouping repeats
    a result in each of its tags' groups)."""
    stmt = selected_results(args).where(metric_number(path).is_(None))
    counted = stmt.with_only_columns(func.count(), maintain_column_froms=True)
    return db.session.execute(counted).scalar_one()


# SQLite ----------------------------------------------------------------------------------


def streamed_statistics(
    args: Mapping[str, Any], group_by: list[str], path: tuple[str, ...]
) -> tuple[list[dict], int]:
    """Read (keys, number) in batches, then compute each group's figures with numpy."""
    value = metric_number(path)
    stmt = grouped(args, group_by, [Result.id, *key_columns(group_by), value])
    return rows_statistics(
        db.session.execute(stmt, execution_options={"yield_per": BATCH}), group_by
    )


# Both ------------------------------------------------------------------------------------


def rows_statistics(rows: Iterable[Sequence], group_by: Sequence[str]) -> tuple[list[dict], int]:
    """Each group's figures (numpy's) from rows of (item id, *group keys, number or None),
    ``month`` keys as datetimes; and how many items had no number, each once (a tag
    grouping repeats an item in each of its tags' groups)."""
    values: dict[tuple, list[float]] = defaultdict(list)
    without_number: set[Any] = set()
    month = group_by.index("month") if "month" in group_by else None
    for row in rows:
        number = row[-1]
        if number is None:
            without_number.add(row[0])
            continue
        key = list(row[1:-1])
        if month is not None:
            key[month] = month_of(key[month])
        values[tuple(key)].append(float(number))
    groups = [numpy_statistics(key, numbers) for key, numbers in values.items()]
    return groups, len(without_number)


def month_of(value: datetime) -> str:
    return value.strftime("%Y-%m")


def numpy_statistics(key: tuple, numbers: Iterable[float]) -> dict[str, Any]:
    array = np.fromiter(numbers, dtype=np.float64)
    percentiles = np.percentile(array, PERCENTILES)
    return {
        "key": key,
        "count": int(array.size),
        "mean": float(np.mean(array)),
        "stddev": float(np.std(array)),
        "min": float(array.min()),
        **{f"p{p}": float(v) for p, v in zip(PERCENTILES, percentiles, strict=True)},
        "max": float(array.max()),
    }


def answered_groups(
    groups: list[dict],
    missing: int,
    group_by: list[str],
    sort_by: list[tuple[str, bool]] | None,
    narrowing: str,
) -> dict[str, Any]:
    """An aggregate's ``group_by``, ``missing`` and ``groups`` from the groups (``key``
    tuples of ids, with their figures): named and sorted; TooManyGroups past
    ``MAX_GROUPS``, suggesting the filters ``narrowing`` names."""
    if len(groups) > MAX_GROUPS:
        raise TooManyGroups(
            f"The selection falls into {len(groups):,} groups; at most {MAX_GROUPS:,} are "
            f"answered. Narrow it: filter by {narrowing}, or group by fewer keys.",
            errors={"query": {"group_by": [f"More than {MAX_GROUPS} groups."]}},
        )
    return {
        "group_by": group_by,
        "missing": missing,
        "groups": sorted_groups(name_keys(groups, group_by), sort_by, group_by),
    }


def name_keys(groups: list[dict], group_by: list[str]) -> list[dict]:
    """Each group with ``keys``: {name: {id, name}} for its group keys, looked up once per
    request (names may change without the results changing)."""
    names: dict[str, dict] = {}
    for position, kind in enumerate(group_by):
        ids = {group["key"][position] for group in groups} - {None}
        names[kind] = catalogue_names(kind, ids)
    named = []
    for group in groups:
        keys = {}
        for position, kind in enumerate(group_by):
            key_id = group["key"][position]
            keys[kind] = {
                "id": None if key_id is None else str(key_id),
                "name": names[kind].get(key_id),
            }
        named.append({"keys": keys, **{s: group[s] for s in STATISTICS}})
    return named


def catalogue_names(kind: str, ids: set) -> dict[Any, str]:
    if kind == "month":
        return {month: month for month in ids}
    if not ids:
        return {}
    if kind == "benchmark":
        stmt = select(Benchmark.id, Benchmark.docker_image + ":" + Benchmark.docker_tag)
        stmt = stmt.where(Benchmark.id.in_(ids))
    else:
        model = {"site": Site, "flavor": Flavor, "tag": Tag}[kind]
        stmt = select(model.id, model.name).where(model.id.in_(ids))
    return {row[0]: row[1] for row in db.session.execute(stmt)}


def sorted_groups(
    groups: list[dict], sort_by: list[tuple[str, bool]] | None, group_by: list[str]
) -> list[dict]:
    """By the ``sort_by`` keys (statistics or group keys, by name), then by the group keys
    in ``group_by`` order; a missing key name (untagged) sorts last."""

    def key_name(group: dict, kind: str) -> tuple:
        name = group["keys"][kind]["name"]
        return (name is None, name or "")

    ordered = sorted(groups, key=lambda g: tuple(key_name(g, kind) for kind in group_by))
    for name, descending in reversed(sort_by or []):
        if name in STATISTICS:
            ordered.sort(key=lambda g, name=name: g[name], reverse=descending)
        else:
            ordered.sort(key=lambda g, name=name: key_name(g, name), reverse=descending)
    return ordered
