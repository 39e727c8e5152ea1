"""A page of results and its total, for /results, /results:search and /users/self/results.

On PostgreSQL the index tables beside the results may answer totals, numeric JSON filters
and JSON-sorted pages (``indexed``); the plain query of ``selection`` is always the
fallback, and SQLite always takes it. Public pages read outside a transaction
(``backend.single_statement_reads``): two round trips fewer.

Public pages on PostgreSQL are also kept, written out, per worker (``kept_page``) under
the state of the data they were read in: the benchmarks' result versions (which every
committed change to results or their tags moves, ``backend.models.result_index``) and
the catalogue's version. A page asked for again in the same state is exact without
reading it again; the first page of a list, or the frontend's usual filters, are asked
for by every visitor. Checking the state costs one small read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
from flask import current_app
from sqlalchemy import Select

from backend.extensions import db
from backend.lru_cache import LruCache
from backend.models import Result
from backend.queries import filter_upload, paginate
from backend.response_cache import catalogue_state
from backend.result_finding.indexed import (
    arguments_key,
    counted_total,
    json_sorted,
    numbers_total,
    result_versions,
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
        return kept_page("list", args, lambda: list_page(args, select_results(), from_index=True))


def own_page(args: Mapping[str, Any], uploader_id: Any) -> dict:
    """GET /users/self/results: a page of one uploader's results, hidden ones included."""
    stmt = select_results(include_hidden=True).where(Result.uploader_id == uploader_id)
    return list_page(args, stmt)


def search_page(args: Mapping[str, Any]) -> dict:
    """GET /results:search: a page of the visible results that match every term."""
    with read_outside_transaction():
        return kept_page("search", args, lambda: _search_page(args))


def _search_page(args: Mapping[str, Any]) -> dict:
    terms = [term for term in args["terms"] if term]
    stmt = filter_upload(select_results(), Result.upload_datetime, args)
    stmt = search_results(stmt, terms)
    stmt = sort_results(stmt, args.get("sort_by"), joined=False)
    total = None
    if dialect() == "postgresql":
        condition = all_terms_match(terms) if terms else None
        total = indexed_total(search_total(args, terms, condition))
    return paginate(stmt, args, total=total, load=page_loader(ordered_as(args.get("sort_by"))))


#: The largest written-out page ``kept_page`` keeps.
KEPT_PAGE_MAX_BYTES = 1 << 20


def kept_pages() -> LruCache[tuple, tuple[dict, orjson.Fragment]] | None:
    """This app's kept pages (None when RESULT_PAGE_CACHE_ENTRIES is 0)."""
    entries = current_app.config["RESULT_PAGE_CACHE_ENTRIES"]
    if entries <= 0:
        return None
    return current_app.extensions.setdefault("backend.result_pages", LruCache(entries))


def kept_page(kind: str, args: Mapping[str, Any], read: Callable[[], dict]) -> dict:
    """The page ``read`` gives, or the same page kept from an earlier request in the same
    state of the data (PostgreSQL; see the module's docstring). Its items come written
    out (an ``orjson.Fragment``): kept as bytes, a page of 100 results costs some 300 KB
    of a worker's memory rather than a megabyte of Python objects, and is not written
    out again. A page read while the data changed is not kept, nor one over
    ``KEPT_PAGE_MAX_BYTES`` or one orjson cannot write (integers beyond 64 bits)."""
    cache = kept_pages()
    if cache is None or dialect() != "postgresql" or current_app.debug:
        return read()
    state = catalogue_state()
    if state.version is None:
        return read()
    key = (kind, arguments_key(args), result_versions(), state.version, bytes(state.epoch))
    kept = cache.get(key)
    if kept is not None:
        return {**kept[0], "items": kept[1]}
    page = read()
    try:
        items = orjson.dumps(list(page["items"]), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return page
    after = catalogue_state()
    if (
        len(items) <= KEPT_PAGE_MAX_BYTES
        and (after.version, after.epoch) == (state.version, state.epoch)
        and result_versions() == key[2]
    ):
        fields = {name: value for name, value in page.items() if name != "items"}
        cache.put(key, (fields, orjson.Fragment(items)))
    return page
