"""The results a request selects, as a ``select()``: its filters, search terms and order.

Every result route builds its rows from here (lists, search, the caller's own results,
aggregates and exports), so that a filter means the same thing in each of them. The
functions are plain steps on a statement, called in sequence by ``pages``, ``streams``
and ``aggregates``; ``tracked`` numeric filters are answered by ``indexed`` (PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, select

from backend.dialects import json_match, json_sort_keys
from backend.extensions import db
from backend.models import Benchmark, Flavor, Result, Site, Tag, results_tags
from backend.queries import contains, filter_equal, filter_range, filter_upload
from backend.response_cache import catalogue_state
from backend.result_finding.indexed import CatalogueCondition, number_match, numeric, tracked_path

#: Columns results sort by; *_name keys need the catalogue tables joined.
SORT_COLUMNS = {
    "execution_datetime": [Result.execution_datetime],
    "upload_datetime": [Result.upload_datetime],
    "id": [Result.id],
    "benchmark_id": [Result.benchmark_id],
    "benchmark_name": [Benchmark.docker_image, Benchmark.docker_tag],
    "site_id": [Result.site_id],
    "site_name": [Site.name],
    "site_address": [Site.address],
    "flavor_id": [Result.flavor_id],
    "flavor_name": [Flavor.name],
}
DEFAULT_SORT = [("execution_datetime", False)]


def dialect() -> str:
    return db.session.get_bind().dialect.name


def select_results(*, include_hidden: bool = False) -> Select:
    """The results a list starts from: the visible ones, or all of them."""
    stmt = select(Result)
    return stmt if include_hidden else stmt.where(~Result.hidden)


def ordered_as(sort_by: list[tuple[str, bool]] | None) -> Callable[[Select], Select]:
    """The list order as a function, for loading a page's rows (``items``)."""
    return lambda stmt: sort_results(stmt, sort_by, joined=False)


def join_catalogue(stmt: Select) -> Select:
    return (
        stmt.join(Benchmark, Benchmark.id == Result.benchmark_id)
        .join(Site, Site.id == Result.site_id)
        .join(Flavor, Flavor.id == Result.flavor_id)
    )


def filter_results(
    stmt: Select, args: Mapping[str, Any], tracked: frozenset[str] = frozenset()
) -> Select:
    """Apply the /results filters: ids, dates, tags (all required) and JSON filters.

    ``tracked``: JSON paths whose numeric filters may be answered by ``result_numbers``
    (only for visible results of the benchmark in ``args``; see ``pages.list_page``).
    """
    if implied_site(args):
        args = {**args, "site_id": None}
    stmt = filter_equal(
        stmt,
        args,
        {
            "benchmark_id": Result.benchmark_id,
            "site_id": Result.site_id,
            "flavor_id": Result.flavor_id,
        },
    )
    stmt = filter_upload(stmt, Result.upload_datetime, args)
    stmt = filter_range(
        stmt, Result.execution_datetime, args.get("execution_after"), args.get("execution_before")
    )
    for tag_id in dict.fromkeys(args.get("tags_ids") or []):
        stmt = stmt.where(
            exists().where(results_tags.c.result_id == Result.id, results_tags.c.tag_id == tag_id)
        )
    by_number: dict[str, tuple[Sequence[str], list[tuple[str, Decimal]]]] = {}
    for path, op, value in args.get("filters") or []:
        number = numeric(value) if tracked_path(path) in tracked else None
        if number is None:
            stmt = stmt.where(json_match(dialect(), Result.json, path, op, value))
        else:
            by_number.setdefault(tracked_path(path), (path, []))[1].append((op, number))
    for path, comparisons in by_number.values():
        stmt = stmt.where(number_match(Result.id, path, comparisons))
    return stmt


def implied_site(args: Mapping[str, Any]) -> bool:
    """Whether ``args`` name a flavor and its own site: a result's site is its flavor's
    (``Result.__init__``, the v1 import), so the site condition adds nothing. Left in, it
    makes PostgreSQL combine the site and flavor indexes and sort what they find (7 ms
    for a site of 10,000 results at 100,000) instead of reading the first page of the
    flavor's index in order (0.5 ms). The flavor's site is kept in the catalogue cache."""
    site_id, flavor_id = args.get("site_id"), args.get("flavor_id")
    if site_id is None or flavor_id is None:
        return False
    state = catalogue_state()
    key = f"flavor-site:{flavor_id}"
    flavor_site = state.recall(key)
    if flavor_site is None:
        flavor_site = db.session.scalar(select(Flavor.site_id).where(Flavor.id == flavor_id))
        if flavor_site is None:
            return False
        state.remember(key, flavor_site)
    return flavor_site == site_id


def catalogue_match(term: str) -> CatalogueCondition:
    """The part of a search term's condition that depends only on a result's benchmark,
    site and flavor ids, for ``results`` and for ``result_counts`` alike: the term is a
    substring of the benchmark name, the site name or address, or the flavor name. The
    catalogue is small, so its matches are found once rather than per result."""

    def condition(benchmark_id, site_id, flavor_id) -> ColumnElement[bool]:
        benchmark_name = Benchmark.docker_image + ":" + Benchmark.docker_tag
        return (
            benchmark_id.in_(select(Benchmark.id).where(contains(benchmark_name, term)))
            | site_id.in_(
                select(Site.id).where(contains(Site.name, term) | contains(Site.address, term))
            )
            | flavor_id.in_(select(Flavor.id).where(contains(Flavor.name, term)))
        )

    return condition


def all_terms_match(terms: list[str]) -> CatalogueCondition:
    def condition(benchmark_id, site_id, flavor_id) -> ColumnElement[bool]:
        return and_(*(catalogue_match(term)(benchmark_id, site_id, flavor_id) for term in terms))

    return condition


def search_results(stmt: Select, terms: list[str]) -> Select:
    """Each term is a substring of the benchmark name, site name or address, or flavor
    name, or exactly one of the result's tag names."""
    for term in terms:
        tagged = exists().where(
            results_tags.c.result_id == Result.id,
            results_tags.c.tag_id == Tag.id,
            Tag.name == term,
        )
        matches = catalogue_match(term)(Result.benchmark_id, Result.site_id, Result.flavor_id)
        stmt = stmt.where(matches | tagged)
    return stmt


def sort_results(stmt: Select, sort_by: list[tuple[str, bool]] | None, joined: bool) -> Select:
    """Order by the requested keys (``json.<path>`` included), then by id."""
    keys = list(sort_by or DEFAULT_SORT)
    needs_join = any(
        name in {"benchmark_name", "site_name", "site_address", "flavor_name"} for name, _ in keys
    )
    if needs_join and not joined:
        stmt = join_catalogue(stmt)
    order = []
    for name, descending in keys:
        if name.startswith("json."):
            order.extend(json_sort_keys(dialect(), Result.json, name.split(".")[1:], descending))
        else:
            for column in SORT_COLUMNS[name]:
                order.append((column.desc() if descending else column.asc()).nulls_last())
    if not any(name == "id" for name, _ in keys):
        order.append(Result.id.asc())
    return stmt.order_by(*order)


def selected_results(args: Mapping[str, Any], stmt: Select | None = None) -> Select:
    """``stmt`` (visible results by default) under the /results filters, unordered: what
    aggregates and exports read."""
    return filter_results(select_results() if stmt is None else stmt, args)
