"""A page of results and its total, for /results, /results:search and /users/self/results.

On PostgreSQL the index tables beside the results may answer totals, numeric JSON filters
and JSON-sorted pages (``indexed``); the plain query of ``selection`` is always the
fallback, and SQLite always takes it. Public pages read outside a transaction
(``backend.single_statement_reads``): two round trips fewer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select

from backend.extensions import db
from backend.models import Result
from backend.queries import filter_upload, paginate
from backend.result_finding.indexed import (
    counted_total,
    json_sorted,
    numbers_total,
    search_total,
    tracked_paths,
)
from backend.result_finding.items import page_loader
from backend.result_finding.selection import (
    all_terms_match,
    dialect,
    filter_results,
    ordered_as,
    search_results,
    select_results,
    sort_results,
)
from backend.single_statement_reads import read_outside_transaction


def indexed_total(statement: Select | None) -> int | None:
    """Run a total from ``indexed`` (None: it does not apply)."""
    if statement is None:
        return None
    return db.session.execute(statement).scalar_one()


def list_page(args: Mapping[str, Any], stmt: Select, *, from_index: bool = False) -> dict:
    """A page of ``stmt`` (from ``select_results``) under the /results filters and sort.

    ``from_index``: ``stmt`` is exactly the visible results, so on PostgreSQL the index
    tables beside them may answer totals, numeric JSON filters and JSON-sorted pages.
    """
    sort_by = args.get("sort_by")
    if not from_index or dialect() != "postgresql":
        stmt = filter_results(stmt, args)
        ordered = sort_results(stmt, sort_by, joined=False)
        return paginate(ordered, args, load=page_loader(ordered_as(sort_by)))
    tracked: frozenset[str] = frozenset()
    if args.get("benchmark_id") is not None and args.get("filters"):
        tracked = frozenset(db.session.scalars(tracked_paths(args["benchmark_id"])))
    stmt = filter_results(stmt, args, tracked)
    total = numbers_total(args, tracked)
    if total is None:
        total = indexed_total(counted_total(args))
    return paginate(
        sort_results(stmt, sort_by, joined=False),
        args,
        total=total,
        first_try=json_sorted(stmt, args, sort_by),
        load=page_loader(ordered_as(sort_by)),
    )


def visible_page(args: Mapping[str, Any]) -> dict:
    """GET /results: a page of the visible results."""
    with read_outside_transaction():
        return list_page(args, select_results(), from_index=True)


def own_page(args: Mapping[str, Any], uploader_id: Any) -> dict:
    """GET /users/self/results: a page of one uploader's results, hidden ones included."""
    stmt = select_results(include_hidden=True).where(Result.uploader_id == uploader_id)
    return list_page(args, stmt)


def search_page(args: Mapping[str, Any]) -> dict:
    """GET /results:search: a page of the visible results that match every term."""
    with read_outside_transaction():
        terms = [term for term in args["terms"] if term]
        stmt = filter_upload(select_results(), Result.upload_datetime, args)
        stmt = search_results(stmt, terms)
        stmt = sort_results(stmt, args.get("sort_by"), joined=False)
        total = None
        if dialect() == "postgresql":
            condition = all_terms_match(terms) if terms else None
            total = indexed_total(search_total(args, terms, condition))
        return paginate(stmt, args, total=total, load=page_loader(ordered_as(args.get("sort_by"))))
