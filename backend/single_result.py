"""``GET /results/{id}`` in one small statement, with its catalogue items from the cache.

Loading a result with its benchmark, site, flavor and tags in one five-table join made
PostgreSQL plan that join on every request (about 0.45 ms warm, 1.6 ms on a new
connection) for 0.1 ms of execution, inside a transaction (BEGIN and ROLLBACK: two more
round trips). Once a worker has shown a result, it knows the result's benchmark, site and
flavor and keeps them dumped in the catalogue cache (``backend.response_cache``, valid
while the catalogue is unchanged, under the keys pages of results use too:
``backend.result_finding.items.dumped_catalogue``); the next time one statement reads
the result and its tags alone (a three-table plan, about 0.1 ms) outside any transaction
(``backend.single_statement_reads``), and the catalogue items come from the cache if the
result still names the same ones. The first time, or when the cache does not hold them,
the five-table statement reads everything at once, so a request never costs more than
one statement but in that rare case (the catalogue changed between the two).

The answer is dumped as ``backend.result_finding.items`` dumps a page's items, which
``tests/results/test_pages.py`` holds to the Result schema's dump.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.engine import Row

from backend.extensions import db
from backend.models import Benchmark, Flavor, Result, Site, Tag, results_tags
from backend.response_cache import CatalogueState, catalogue_state
from backend.result_finding.items import ITEM_COLUMNS, catalogue_key, iso, plain_dumper
from backend.schemas.benchmarks import Benchmark as BenchmarkSchema
from backend.schemas.sites import Flavor as FlavorSchema
from backend.schemas.sites import Site as SiteSchema
from backend.schemas.tags import Tag as TagSchema
from backend.single_statement_reads import read_in_one_statement

#: The catalogue items a result shows: its name for them, their model and dumper.
_CATALOGUE = {
    "benchmark": (Benchmark, Result.benchmark_id, plain_dumper(BenchmarkSchema())),
    "site": (Site, Result.site_id, plain_dumper(SiteSchema())),
    "flavor": (Flavor, Result.flavor_id, plain_dumper(FlavorSchema())),
}
_dump_tag = plain_dumper(TagSchema())


def _labelled(model: type, prefix: str) -> list[Any]:
    return [prop.columns[0].label(f"{prefix}__{prop.key}") for prop in inspect(model).column_attrs]


class _Prefixed:
    """One model's columns of a joined row, under the attribute names its dumper reads."""

    __slots__ = ("prefix", "row")

    def __init__(self, row: Row, prefix: str) -> None:
        self.row = row
        self.prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, f"{self.prefix}__{name}")


#: Built once: constructing the select cost about a tenth of the request's Python time.
_RESULT_WITH_TAGS = (
    select(*ITEM_COLUMNS, *_labelled(Tag, "tag"))
    .outerjoin(results_tags, results_tags.c.result_id == Result.id)
    .outerjoin(Tag, Tag.id == results_tags.c.tag_id)
    .where(Result.id == bindparam("result_id"))
    .order_by(Tag.name)
)
_RESULT_WITH_EVERYTHING = _RESULT_WITH_TAGS.add_columns(
    *(column for name, (model, _, _) in _CATALOGUE.items() for column in _labelled(model, name))
)
for _model, _reference, _ in _CATALOGUE.values():
    _RESULT_WITH_EVERYTHING = _RESULT_WITH_EVERYTHING.join(_model, _model.id == _reference)


def dumped_result(result_id: uuid.UUID) -> dict[str, Any] | None:
    """The result as ``backend.schemas.results.Result`` dumps it; None if there is none."""
    read_in_one_statement()
    state = catalogue_state()
    rows, catalogue = _with_cached_catalogue(state, result_id)
    if rows is None:
        rows = db.session.execute(_RESULT_WITH_EVERYTHING, {"result_id": result_id}).all()
        if not rows:
            return None
        catalogue = {
            name: dump(_Prefixed(rows[0], name)) for name, (_, _, dump) in _CATALOGUE.items()
        }
        _remember(state, rows[0], catalogue)
    if not rows:
        return None
    row = rows[0]
    return {
        "id": str(row.id),
        "execution_datetime": iso(row.execution_datetime),
        "upload_datetime": iso(row.upload_datetime),
        **catalogue,
        "tags": [_dump_tag(_Prefixed(tag, "tag")) for tag in rows if tag.tag__id is not None],
        "json": row.json,
    }


def _catalogue_ids(row: Row) -> tuple[uuid.UUID, ...]:
    return (row.benchmark_id, row.site_id, row.flavor_id)


def _with_cached_catalogue(
    state: CatalogueState, result_id: uuid.UUID
) -> tuple[list[Row] | None, dict[str, dict]]:
    """The result's rows (read by the small statement) and its dumped catalogue items, if
    the cache holds them; (None, {}) when the big statement must read them."""
    ids = state.recall(f"result:{result_id}")
    if ids is None:
        return None, {}
    catalogue = {
        name: state.recall(catalogue_key(name, item_id))
        for name, item_id in zip(_CATALOGUE, ids, strict=True)
    }
    if any(item is None for item in catalogue.values()):
        return None, {}
    rows = db.session.execute(_RESULT_WITH_TAGS, {"result_id": result_id}).all()
    if rows and _catalogue_ids(rows[0]) != ids:
        return None, {}
    return rows, catalogue


def _remember(state: CatalogueState, row: Row, catalogue: dict[str, dict]) -> None:
    ids = _catalogue_ids(row)
    for (name, item), item_id in zip(catalogue.items(), ids, strict=True):
        state.remember(catalogue_key(name, item_id), item)
    state.remember(f"result:{row.id}", ids)
