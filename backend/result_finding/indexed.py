"""Result-list answers from the index tables (PostgreSQL), exact or not at all.

Each function here either gives exactly what the plain query would give, or ``None`` so
that the caller runs the plain query (``selection`` always has one). What the
tables are and how triggers keep them exact: ``backend.models.result_index``. SQLite never
takes these paths: it has no triggers, and small installs do not need them.

- Totals of lists filtered only by benchmark, site, flavor (any boolean combination of
  them, as search terms produce) and at most one tag: a sum over ``result_counts``.
- Numeric JSON filters on a path the benchmark tracks: a lookup in ``result_numbers``
  (whose statistics let the planner walk the list's index) instead of jsonpath on every
  document; and their total, a range count on its (benchmark, path, value) index, kept
  until the benchmark's results change (``numbers_total``).
- Pages of one benchmark's results sorted by one tracked JSON number: the top of the
  (benchmark, path, value) index. All numbers sort before text, other values and missing
  paths, so a *full* page from that index is the exact page; a short one is not, and the
  caller falls back.
- Answers that read every selected result (aggregates, the leaf paths of an export) kept
  per state of the data: ``result_versions``.
"""

from __future__ import annotations

import json
import math
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    select,
)

from backend.extensions import db
from backend.models import Result, Tag
from backend.models.result_index import (
    ALL_TAGS,
    benchmark_number_paths,
    benchmark_result_versions,
    result_counts,
    result_numbers,
)

#: Builds the condition on (benchmark_id, site_id, flavor_id) columns of some table.
CatalogueCondition = Callable[[ColumnElement, ColumnElement, ColumnElement], ColumnElement[bool]]

#: Arguments that restrict results in ways the counters do not know.
UNCOUNTED_ARGUMENTS = ("upload_before", "upload_after", "execution_before", "execution_after")


def tracked_path(path: Sequence[str]) -> str:
    """A JSON path as ``benchmark_number_paths.path`` spells it (keys quoted like
    PostgreSQL's ``to_json``, which keeps non-ASCII characters as they are)."""
    return "$" + "".join("." + json.dumps(key, ensure_ascii=False) for key in path)


def counted_total(
    args: Mapping[str, Any], condition: CatalogueCondition | None = None
) -> Select | None:
    """A one-row statement giving the exact total of visible results that match ``args``
    (benchmark_id, site_id, flavor_id, tags_ids) and ``condition``, or ``None`` when the
    counters cannot answer (JSON filters: ``numbers_total``). The statement's value may be
    NULL when the counters turn out not to apply after all (``search_total``)."""
    if any(args.get(name) is not None for name in UNCOUNTED_ARGUMENTS):
        return None
    tags = list(dict.fromkeys(args.get("tags_ids") or []))
    if args.get("filters") or len(tags) > 1:
        return None
    c = result_counts.c
    conditions = [c.tag_id == (tags[0] if tags else ALL_TAGS)]
    for name in ("benchmark_id", "site_id", "flavor_id"):
        if args.get(name) is not None:
            conditions.append(c[name] == args[name])
    if condition is not None:
        conditions.append(condition(c.benchmark_id, c.site_id, c.flavor_id))
    return select(func.coalesce(func.sum(c.n), 0)).where(*conditions)


def search_total(
    args: Mapping[str, Any], terms: list[str], condition: CatalogueCondition | None
) -> Select | None:
    """The total of a search, from the counters, unless a term names a tag (a result
    matching through its tags cannot be counted per catalogue item): then NULL."""
    counted = counted_total(args, condition)
    if counted is None:
        return None
    named_tag = exists().where(Tag.name.in_(terms)) if terms else literal(False)
    return select(case((named_tag, None), else_=counted.scalar_subquery()))


def tracked_paths(benchmark_id: uuid.UUID) -> Select:
    """The JSON paths whose numbers ``result_numbers`` holds for the benchmark's results."""
    paths = benchmark_number_paths.c
    return select(paths.path).where(paths.benchmark_id == benchmark_id)


#: Range totals on ``result_numbers`` by (benchmark, path, ranges) and benchmark version;
#: the oldest entry goes first when full (entries of past versions are never asked again).
_number_totals: dict[tuple, int] = {}
_number_totals_lock = threading.Lock()
NUMBER_TOTALS_KEPT = 4096


def numbers_total(args: Mapping[str, Any], tracked: frozenset[str]) -> int | None:
    """The total of one benchmark's results under numeric JSON filters on one tracked path,
    or None when that does not apply.

    A range count on the (benchmark, path, value) index still reads every match (some
    50-100 ms for 120,000 of them), so totals are kept per benchmark version: the version
    read first names the state of the data, and a total computed together with its
    version in one snapshot is exact for that version. Any change to the benchmark's
    results commits a new version, after which the total is counted again.
    """
    filters = args.get("filters") or []
    benchmark_id = args.get("benchmark_id")
    if benchmark_id is None or args.get("site_id") or args.get("flavor_id"):
        return None
    if args.get("tags_ids") or any(args.get(name) is not None for name in UNCOUNTED_ARGUMENTS):
        return None
    paths = {tracked_path(path) for path, _, _ in filters}
    if len(paths) != 1 or not paths <= tracked:
        return None
    if not all(numeric(value) is not None for _, _, value in filters):
        return None
    path = paths.pop()
    ranges = tuple(sorted((op, numeric(value)) for _, op, value in filters))
    v = benchmark_result_versions.c
    version = select(func.coalesce(func.max(v.version), 0)).where(v.benchmark_id == benchmark_id)
    key = (benchmark_id, path, ranges)
    current = db.session.execute(version).scalar_one()
    with _number_totals_lock:
        total = _number_totals.get((key, current))
    if total is not None:
        return total
    n = result_numbers.c
    count = (
        select(func.count())
        .select_from(result_numbers)
        .where(
            n.benchmark_id == benchmark_id,
            n.path == path,
            *(compare(n.value, op, value) for op, value in ranges),
        )
    )
    counted_version, total = db.session.execute(
        select(version.scalar_subquery(), count.scalar_subquery())
    ).one()
    with _number_totals_lock:
        if len(_number_totals) >= NUMBER_TOTALS_KEPT:
            del _number_totals[next(iter(_number_totals))]
        _number_totals[(key, counted_version)] = total
    return total


def number_match(
    result_id: ColumnElement, path: Sequence[str], comparisons: Sequence[tuple[str, Decimal]]
) -> ColumnElement[bool]:
    """Numeric JSON filters on one tracked path (``(op, numeric(value))`` pairs, all of
    them to hold) as one lookup in ``result_numbers`` (an index the planner has
    statistics for, unlike jsonpath on documents): a range such as ``> 4`` and ``< 20``
    probes each result once, not twice. Exact for visible results of a benchmark that
    tracks ``path``."""
    n = result_numbers.c
    return exists().where(
        n.result_id == result_id,
        n.path == tracked_path(path),
        *(compare(n.value, op, number) for op, number in comparisons),
    )


def numeric(value: Any) -> Decimal | None:
    """A filter value as the exact number jsonpath compares with, or None if not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return Decimal(json.dumps(value))


def compare(column: ColumnElement, op: str, value: Decimal) -> ColumnElement[bool]:
    return {
        "==": column == value,
        ">": column > value,
        "<": column < value,
        ">=": column >= value,
        "<=": column <= value,
    }[op]


def json_sorted(
    stmt: Select, args: Mapping[str, Any], sort_by: list[tuple[str, bool]] | None
) -> Select | None:
    """``stmt`` (already filtered) ordered through ``result_numbers`` when the only sort key
    is ``json.<path>`` and a benchmark is given; ``None`` otherwise. Exact for any page it
    fills: the caller falls back to the plain order on a short page."""
    benchmark_id = args.get("benchmark_id")
    if benchmark_id is None or not sort_by or len(sort_by) != 1:
        return None
    name, descending = sort_by[0]
    if not name.startswith("json."):
        return None
    n = result_numbers.c
    stmt = stmt.join(
        result_numbers,
        and_(
            n.result_id == Result.id,
            n.benchmark_id == benchmark_id,
            n.path == tracked_path(name.split(".")[1:]),
        ),
    )
    return stmt.order_by(n.value.desc() if descending else n.value.asc(), Result.id.asc())


def result_versions(connection: Connection | None = None) -> tuple:
    """Every benchmark's result version: a name for the state of all visible results and
    their tags (the index triggers bump a benchmark's version at the commit of any change
    to them). An answer computed in a snapshot whose versions were these is exact for as
    long as they stay these, which is how aggregates and export columns are kept."""
    v = benchmark_result_versions.c
    rows = (connection or db.session).execute(select(v.benchmark_id, v.version))
    return tuple(sorted(tuple(row) for row in rows))


def arguments_key(args: Mapping[str, Any], *left_out: str) -> tuple:
    """Parsed request arguments as a key for answers kept per data state."""
    kept = ((name, repr(value)) for name, value in args.items() if name not in left_out)
    return tuple(sorted(kept))
