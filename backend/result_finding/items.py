"""A page of results, read and written out without building an ORM object per result.

Measured on a page of 100 results: loading them as ORM objects (with their benchmark,
site, flavor and tags) and dumping them field by field with marshmallow took about 65 ms
of Python; this module does the same job in a fraction of that. It reads the page's
columns, with the names of each result's tags, in one Core query; each catalogue item of
the page (a handful of benchmarks, sites and flavors, the tags by name) comes dumped from
the catalogue cache (``backend.response_cache``, valid while the catalogue is unchanged),
or is read once and kept there: three statements and their ORM loading (about a third
of a warm page's worker CPU) saved on every page but a worker's first. ``GET
/results/{id}`` shares that cache (``catalogue_key``). The
catalogue items are dumped after their own marshmallow schemas' fields, the result fields
the way ``backend.schemas.results.Result`` dumps them (``tests/results/test_pages.py``
holds the two to the same output).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from marshmallow import fields
from sqlalchemy import Row, Select, String, Uuid, cast, select
from sqlalchemy.orm import lazyload

from backend.dialects import sorted_list
from backend.extensions import db
from backend.models import Benchmark, Flavor, Result, Site, Tag, results_tags
from backend.response_cache import CatalogueState, catalogue_state
from backend.result_finding.selection import dialect
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
        elif type(field) in (fields.String, fields.Email, fields.Url, fields.Dict, fields.Raw):
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

#: The catalogue items a result shows, by the name of its field for them, with the column
#: a page finds them by: tags by name (a page's row lists the names of its result's tags).
CATALOGUE_PARTS: dict[str, tuple[type, Any]] = {
    "benchmark": (Benchmark, Benchmark.id),
    "site": (Site, Site.id),
    "flavor": (Flavor, Flavor.id),
    "tag": (Tag, Tag.name),
}


def ids_as_text(columns: Iterable[Any], dialect: str) -> tuple[Any, ...]:
    """``columns`` with the UUID ones read as their text on PostgreSQL (the same text as
    ``str(uuid)``): a page reads some 700 ids, and making each a ``uuid.UUID`` (the
    driver's typecaster), hashing and comparing them as dictionary keys, then writing
    them out again took about a fifth of its worker CPU. Elsewhere (SQLite keeps them as
    32 hex digits) the columns stay as they are; ``text_keys`` makes either kind a key."""
    if dialect != "postgresql":
        return tuple(columns)
    return tuple(
        cast(column, String).label(column.key) if isinstance(column.type, Uuid) else column
        for column in columns
    )


def text_keys(ids: Iterable[Any]) -> set[str]:
    """Ids (text or ``uuid.UUID``) as the text keys items are found under."""
    return {str(item_id) for item_id in ids}


def page_loader(order: Callable[[Select], Select]) -> Callable[[Select], DumpedItems]:
    """For ``paginate(load=...)``: the page statement (LIMIT/OFFSET applied) picks ids
    only, so a deep page (page=500 skips 49,900 results) walks index entries rather than
    documents; then the columns of those ids alone are read and put in ``order`` again."""

    def load(page: Select) -> DumpedItems:
        state = catalogue_state()  # before anything it may keep is read
        ids = page.with_only_columns(Result.id).subquery("page")
        name = dialect()
        tag_names = sorted_list(Tag.name, _TAG_NAMES, name).label("tag_names")
        columns = ids_as_text(ITEM_COLUMNS, name)
        stmt = order(select(*columns, tag_names).join(ids, ids.c.id == Result.id))
        return dump_results(db.session.connection().execute(stmt).all(), state)

    return load


#: The names of a result's tags (correlated to ``results``), read with its row: a
#: statement of their own, with the page's ids as its parameters, cost about a tenth of
#: a page's worker CPU.
_TAG_NAMES = (
    select(Tag.name)
    .join(results_tags, results_tags.c.tag_id == Tag.id)
    .where(results_tags.c.result_id == Result.id)
)


def dump_results(rows: list[Row], state: CatalogueState) -> DumpedItems:
    """The items of a page (rows of ``ITEM_COLUMNS`` and their ``tag_names``, in order),
    as ``backend.schemas.results.Result`` would dump them."""
    benchmarks = dumped_catalogue(state, "benchmark", text_keys(row.benchmark_id for row in rows))
    sites = dumped_catalogue(state, "site", text_keys(row.site_id for row in rows))
    flavors = dumped_catalogue(state, "flavor", text_keys(row.flavor_id for row in rows))
    tags = dumped_catalogue(state, "tag", {name for row in rows for name in row.tag_names or ()})
    return DumpedItems(
        {
            "id": str(row.id),
            "execution_datetime": iso(row.execution_datetime),
            "upload_datetime": iso(row.upload_datetime),
            "benchmark": benchmarks[str(row.benchmark_id)],
            "site": sites[str(row.site_id)],
            "flavor": flavors[str(row.flavor_id)],
            "tags": [tags[name] for name in row.tag_names or ()],
            "json": row.json,
        }
        for row in rows
    )


def catalogue_key(name: str, item_id: uuid.UUID | str) -> str:
    """Where the catalogue cache keeps a dumped catalogue item (``name``: a
    ``CATALOGUE_PARTS`` key)."""
    return f"{name}:{item_id}"


def dumped_catalogue(state: CatalogueState, name: str, keys: Iterable[str]) -> dict[str, dict]:
    """The dumped ``name`` items of these keys (ids as text, or tag names): from the
    catalogue cache while it holds them, the others read in one statement and kept there."""
    found: dict[str, dict] = {}
    missing = []
    for key in keys:
        dumped = state.recall(catalogue_key(name, key))
        if dumped is None:
            missing.append(key)
        else:
            found[key] = dumped
    for key, dumped in dumped_by_key(*CATALOGUE_PARTS[name], missing).items():
        state.remember(catalogue_key(name, key), dumped)
        found[key] = dumped
    return found


def dumped_by_key(model: type, column: Any, keys: Iterable[str]) -> dict[str, dict]:
    """Each catalogue item whose ``column`` holds one of these keys (ids as text, or
    names), dumped once by its own schema, by its key."""
    convert = uuid.UUID if isinstance(column.type, Uuid) else str
    wanted = [convert(key) for key in keys]
    if not wanted:
        return {}
    items = db.session.scalars(select(model).options(lazyload("*")).where(column.in_(wanted)))
    dump = _DUMPERS[model]
    return {str(getattr(item, column.key)): dump(item) for item in items}
