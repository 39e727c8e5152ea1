"""Filtering, sorting and pagination as plain functions on a ``select()``.

A list view calls them in sequence, top to bottom:

    stmt = select(Site)
    stmt = filter_upload(stmt, Site.upload_datetime, args)
    stmt = search(stmt, args["terms"], [Site.name, Site.address, Site.description])
    stmt = sort(stmt, args.get("sort_by"), SITE_SORT_FIELDS, default=Site.name, id_column=Site.id)
    return paginate(stmt, args)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import lazyload

from backend.errors import DomainError
from backend.extensions import db


class PageOutOfRange(DomainError):
    status_code = 422


def select_own_columns(model: type) -> Select:
    """``select(model)`` loading the model's own columns only, without the relationships
    it eagerly loads by default (uploaders, a flavor's site): catalogue schemas show none
    of them, and those joins cost more than the rest of a small list."""
    return select(model).options(lazyload("*"))


#: ``get_or_404`` options for the same purpose.
OWN_COLUMNS = [lazyload("*")]


def filter_upload(stmt: Select, column: ColumnElement, args: Mapping[str, Any]) -> Select:
    """Apply ``upload_before`` / ``upload_after`` to ``column``."""
    return filter_range(stmt, column, args.get("upload_after"), args.get("upload_before"))


def filter_range(stmt: Select, column: ColumnElement, after: Any, before: Any) -> Select:
    if after is not None:
        stmt = stmt.where(column > after)
    if before is not None:
        stmt = stmt.where(column < before)
    return stmt


def filter_equal(stmt: Select, args: Mapping[str, Any], columns: Mapping[str, Any]) -> Select:
    """``column == args[name]`` for each given argument name."""
    for name, column in columns.items():
        if args.get(name) is not None:
            stmt = stmt.where(column == args[name])
    return stmt


def contains(column: ColumnElement, term: str) -> ColumnElement[bool]:
    """Case-insensitive substring match that treats % and _ in the term literally."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


def search(stmt: Select, terms: Iterable[str], columns: Sequence[ColumnElement]) -> Select:
    """Every term must appear in at least one of the columns (an empty term matches all)."""
    conditions = [or_(*(contains(c, term) for c in columns)) for term in terms if term]
    return stmt.where(and_(*conditions)) if conditions else stmt


def sort(
    stmt: Select,
    sort_by: Sequence[tuple[str, bool]] | None,
    fields: Mapping[str, ColumnElement],
    *,
    default: Sequence[tuple[str, bool]],
    id_column: ColumnElement,
) -> Select:
    """Order by the requested keys, then by id so that pages never repeat or skip items."""
    keys = list(sort_by or default)
    order = []
    for name, descending in keys:
        column = fields[name]
        order.append((column.desc() if descending else column.asc()).nulls_last())
    if not any(name == "id" for name, _ in keys):
        order.append(id_column.asc())
    return stmt.order_by(*order)


def count(stmt: Select) -> int:
    counted = stmt.order_by(None).with_only_columns(func.count(), maintain_column_froms=True)
    return db.session.execute(counted).scalar_one()


def paginate(
    stmt: Select,
    args: Mapping[str, Any],
    *,
    total: int | None = None,
    rows: bool = False,
    first_try: Select | None = None,
    load: Callable[[Select], list[Any]] | None = None,
) -> dict[str, Any]:
    """One page of ``stmt`` plus the v1 pagination fields.

    ``rows=True`` returns rows rather than the first column's objects (for multi-column
    selects). A page past the last one is an error (422) rather than an empty page, so that a client
    with a wrong page number learns it; the first page of an empty list is fine.
    ``first_try`` is a cheaper statement that gives the same page as ``stmt`` whenever it
    gives a full page (an index that covers the head of the order); on a short page
    ``stmt`` answers. ``load`` turns the page statement (LIMIT/OFFSET applied) into the
    page's items, for lists that read their rows their own way (backend.result_finding.items).
    A plain list of objects is counted in its page's own statement (``count(*) OVER ()``):
    one round trip instead of two for the catalogue's small tables.
    """
    page, per_page = args["page"], args["per_page"]

    def limited(statement: Select) -> Select:
        return statement.limit(per_page).offset((page - 1) * per_page)

    def fetch(statement: Select) -> list[Any]:
        if load is not None:
            return load(limited(statement))
        result = db.session.execute(limited(statement))
        return result.all() if rows else result.unique().scalars().all()

    items: list[Any] | None = None
    if total is None and load is None and first_try is None and not rows:
        counted = db.session.execute(limited(stmt.add_columns(func.count().over())))
        found = counted.unique().all()
        items = [row[0] for row in found]
        total = found[0][1] if found else (count(stmt) if page > 1 else 0)
    elif total is None:
        total = count(stmt)
    pages = math.ceil(total / per_page) if total else 0
    if page > max(pages, 1):
        raise PageOutOfRange(
            f"Page {page} is past the last page ({max(pages, 1)}) for per_page={per_page}.",
            errors={"query": {"page": [f"Must be between 1 and {max(pages, 1)}."]}},
        )
    if items is None:
        items = fetch(first_try) if first_try is not None else []
        if first_try is None or len(items) < per_page:
            items = fetch(stmt)
    return {
        "items": items,
        "total": total,
        "page": page,
        "pages": pages,
        "per_page": per_page,
        "has_next": page < pages,
        "has_prev": page > 1,
        "next_num": page + 1 if page < pages else None,
        "prev_num": page - 1 if page > 1 else None,
    }
