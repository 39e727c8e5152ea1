"""A page of results, read and written out without building an ORM object per result.

Measured on a page of 100 results: loading them as ORM objects (with their benchmark,
site, flavor and tags) and dumping them field by field with marshmallow took about 65 ms
of Python; this module does the same job in a fraction of that. It reads the page's
columns with one Core query and the tags of the page with one more; each catalogue item of
the page (a handful) comes dumped from the catalogue cache (``backend.response_cache``,
valid while the catalogue is unchanged), or is read once and kept there: three statements
and their ORM loading (about a third of a warm page's worker CPU) saved on every page but
a worker's first. ``GET /results/{id}`` shares that cache (``dumped_catalogue``). The
catalogue items are dumped after their own marshmallow schemas' fields, the result fields
the way ``backend.schemas.results.Result`` dumps them (``tests/results/test_pages.py``
holds the two to the same output).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from marshmallow import fields
from sqlalchemy import Row, Select, select
from sqlalchemy.orm import lazyload

from backend.extensions import db
from backend.models import Benchmark, Flavor, Result, Site, Tag, results_tags
from backend.response_cache import CatalogueState, catalogue_state
from backend.schemas.benchmarks import Benchmark as BenchmarkSchema
from backend.schemas.common import AwareDateTime
from backend.schemas.results import DumpedItems
from backend.schemas.sites import Flavor as FlavorSchema
from backend.schemas.sites import Site as SiteSchema
from backend.schemas.tags import Tag as TagSchema

#: The columns of a result an item shows (its catalogue items come by id).
ITEM_COLUMNS = (
    Result.id,
    Result.execution_datetime,
    Result.upload_datetime,
    Result.json,
    Result.benchmark_id,
    Result.site_id,
    Result.flavor_id,
)


def iso(value: datetime) -> str:
    """As ``AwareDateTime`` dumps it."""
    return value.astimezone(UTC).isoformat()


def plain_dumper(schema: ma.Schema) -> Callable[[Any], dict]:
    """``schema.dump`` for schemas of plain fields (text, URLs, dicts, UUIDs, dates), done
    without marshmallow's per-field machinery: a page dumps some 80 catalogue items.
    A schema with any other kind of field is dumped by marshmallow itself."""
    plan: list[tuple[str, str, Callable[[Any], Any] | None]] = []
    for name, field in schema.dump_fields.items():
        if isinstance(field, fields.UUID):
            convert: Callable[[Any], Any] | None = str
        elif isinstance(field, AwareDateTime):
            convert = iso
        elif type(field) in (fields.String, fields.Url, fields.Dict, fields.Raw):
            convert = None
        else:
            return schema.dump
        plan.append((name, field.attribute or name, convert))

    def dump(item: Any) -> dict:
        dumped = {}
        for name, attribute, convert in plan:
            value = getattr(item, attribute)
            dumped[name] = convert(value) if convert is not None and value is not None else value
        return dumped

    return dump


_DUMPERS: dict[type, Callable[[Any], dict]] = {
    Benchmark: plain_dumper(BenchmarkSchema()),
    Site: plain_dumper(SiteSchema()),
    Flavor: plain_dumper(FlavorSchema()),
    Tag: plain_dumper(TagSchema()),
}

#: The catalogue items a result shows, by the name of its field for them.
CATALOGUE_PARTS: dict[str, type] = {"benchmark": Benchmark, "site": Site, "flavor": Flavor}


def page_loader(order: Callable[[Select], Select]) -> Callable[[Select], DumpedItems]:
    """For ``paginate(load=...)``: the page statement (LIMIT/OFFSET applied) picks ids
    only, so a deep page (page=500 skips 49,900 results) walks index entries rather than
    documents; then the columns of those ids alone are read and put in ``order`` again."""

    def load(page: Select) -> DumpedItems:
        state = catalogue_state()  # before anything it may keep is read
        ids = page.with_only_columns(Result.id).subquery("page")
        stmt = order(select(*ITEM_COLUMNS).join(ids, ids.c.id == Result.id))
        return dump_results(db.session.execute(stmt).all(), state)

    return load


def dump_results(rows: list[Row], state: CatalogueState) -> DumpedItems:
    """The items of a page, as ``backend.schemas.results.Result`` would dump them."""
    tags = tags_of([row.id for row in rows])
    benchmarks = dumped_catalogue(state, "benchmark", {row.benchmark_id for row in rows})
    sites = dumped_catalogue(state, "site", {row.site_id for row in rows})
    flavors = dumped_catalogue(state, "flavor", {row.flavor_id for row in rows})
    return DumpedItems(
        {
            "id": str(row.id),
            "execution_datetime": iso(row.execution_datetime),
            "upload_datetime": iso(row.upload_datetime),
            "benchmark": benchmarks[row.benchmark_id],
            "site": sites[row.site_id],
            "flavor": flavors[row.flavor_id],
            "tags": tags.get(row.id, []),
            "json": row.json,
        }
        for row in rows
    )


def catalogue_key(name: str, item_id: uuid.UUID) -> str:
    """Where the catalogue cache keeps a dumped catalogue item (``name``: a
    ``CATALOGUE_PARTS`` key)."""
    return f"{name}:{item_id}"


def dumped_catalogue(
    state: CatalogueState, name: str, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, dict]:
    """The dumped ``name`` items of these ids: from the catalogue cache while it holds
    them, the others read in one statement and kept there."""
    found: dict[uuid.UUID, dict] = {}
    missing = []
    for item_id in ids:
        dumped = state.recall(catalogue_key(name, item_id))
        if dumped is None:
            missing.append(item_id)
        else:
            found[item_id] = dumped
    for item_id, dumped in dumped_by_id(CATALOGUE_PARTS[name], missing).items():
        state.remember(catalogue_key(name, item_id), dumped)
        found[item_id] = dumped
    return found


def dumped_by_id(model: type, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, dict]:
    """Each catalogue item of these ids, dumped once by its own schema."""
    wanted = list(ids)
    if not wanted:
        return {}
    items = db.session.scalars(select(model).options(lazyload("*")).where(model.id.in_(wanted)))
    dump = _DUMPERS[model]
    return {item.id: dump(item) for item in items}


def tags_of(result_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[dict]]:
    """The dumped tags of each result, by name (as ``Result.tags`` orders them)."""
    if not result_ids:
        return {}
    stmt = (
        select(results_tags.c.result_id, Tag.id, Tag.name, Tag.description, Tag.upload_datetime)
        .join(Tag, Tag.id == results_tags.c.tag_id)
        .where(results_tags.c.result_id.in_(result_ids))
        .order_by(Tag.name)
    )
    dumped: dict[uuid.UUID, dict] = {}
    tags: dict[uuid.UUID, list[dict]] = defaultdict(list)
    for row in db.session.execute(stmt):
        if row.id not in dumped:
            dumped[row.id] = _DUMPERS[Tag](row)
        tags[row.result_id].append(dumped[row.id])
    return tags
