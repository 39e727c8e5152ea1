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

Where the catalogue's answers are replayed below Flask (``response_cache.CatalogueFront``:
no CORS, no metrics, no replica, so Flask's hooks add only the request id and the security
headers), ``SingleResultFront`` answers ``GET /results/{id}`` there too: Flask's request
and session machinery (routing, contexts, hooks, the ORM session) cost about a third of
the request's worker CPU. Anything it does not answer itself (a 404, a malformed id, a
request with a body, a database error) goes on to Flask, which answers as before; when
the database was unavailable, Flask raises the front's error at once (503) rather than
waiting for a frozen server a second time.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, request
from sqlalchemy import Connection, Select, bindparam, inspect, select
from sqlalchemy.engine import Row

from backend.errors import database_unavailable
from backend.extensions import db
from backend.models import Benchmark, Flavor, Result, Site, Tag, results_tags
from backend.observability import REQUEST_ID_HEADER, chosen_request_id
from backend.response_cache import CatalogueState, catalogue_state
from backend.result_finding.items import (
    ITEM_COLUMNS,
    catalogue_key,
    ids_as_text,
    iso,
    plain_dumper,
)
from backend.schemas.benchmarks import Benchmark as BenchmarkSchema
from backend.schemas.sites import Flavor as FlavorSchema
from backend.schemas.sites import Site as SiteSchema
from backend.schemas.tags import Tag as TagSchema
from backend.single_statement_reads import connection_outside_transaction, read_outside_transaction

#: The catalogue items a result shows: its name for them, their model and dumper.
_CATALOGUE = {
    "benchmark": (Benchmark, Result.benchmark_id, plain_dumper(BenchmarkSchema())),
    "site": (Site, Result.site_id, plain_dumper(SiteSchema())),
    "flavor": (Flavor, Result.flavor_id, plain_dumper(FlavorSchema())),
}
_dump_tag = plain_dumper(TagSchema())


def _labelled(model: type, prefix: str, dialect: str) -> list[Any]:
    """The model's columns labelled ``<prefix>__<attribute>``, ids as text on PostgreSQL
    (``ids_as_text``: making a ``uuid.UUID`` of each took 5% of a request's CPU)."""
    return [
        column.label(f"{prefix}__{prop.key}")
        for prop in inspect(model).column_attrs
        for column in ids_as_text([prop.columns[0]], dialect)
    ]


class _Prefixed:
    """One model's columns of a joined row, under the attribute names its dumper reads."""

    __slots__ = ("prefix", "row")

    def __init__(self, row: Row, prefix: str) -> None:
        self.row = row
        self.prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, f"{self.prefix}__{name}")


#: Built once per dialect: constructing the select cost about a tenth of the request's
#: Python time. The result and its tags; and with its catalogue items too.
_STATEMENTS: dict[str, tuple[Select, Select]] = {}


def _statements(dialect: str) -> tuple[Select, Select]:
    built = _STATEMENTS.get(dialect)
    if built is None:
        with_tags = (
            select(*ids_as_text(ITEM_COLUMNS, dialect), *_labelled(Tag, "tag", dialect))
            .outerjoin(results_tags, results_tags.c.result_id == Result.id)
            .outerjoin(Tag, Tag.id == results_tags.c.tag_id)
            .where(Result.id == bindparam("result_id"))
            .order_by(Tag.name)
        )
        everything = with_tags.add_columns(
            *(
                column
                for name, (model, _, _) in _CATALOGUE.items()
                for column in _labelled(model, name, dialect)
            )
        )
        for model, reference, _ in _CATALOGUE.values():
            everything = everything.join(model, model.id == reference)
        built = _STATEMENTS[dialect] = (with_tags, everything)
    return built


def dumped_result(
    result_id: uuid.UUID, connection: Connection | None = None
) -> dict[str, Any] | None:
    """The result as ``backend.schemas.results.Result`` dumps it; None if there is none.
    Read on ``connection``, by default the session's (outside a transaction)."""
    if connection is None:
        with read_outside_transaction() as connection:
            return dumped_result(result_id, connection)
    state = catalogue_state(connection.engine)
    with_tags, everything = _statements(connection.dialect.name)
    rows, catalogue = _with_cached_catalogue(connection, with_tags, state, result_id)
    if rows is None:
        rows = connection.execute(everything, {"result_id": result_id}).all()
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


class SingleResultFront:
    """WSGI layer answering ``GET /results/{id}`` of an existing result below Flask, with
    the body and headers Flask's view and hooks give it (a test compares the two)."""

    _PREFIX = "/results/"

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]], app: Flask) -> None:
        from backend.middleware import SECURITY_HEADERS  # it imports extensions' api

        self.wsgi_app = wsgi_app
        self.app = app
        content_type = app.response_class(mimetype=app.json.mimetype).content_type
        self._static_headers = [("Content-Type", content_type), *SECURITY_HEADERS.items()]
        app.before_request(_raise_unavailable_seen_below)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        result_id = self._result_id(environ)
        body = None if result_id is None else self._answer(result_id, environ)
        if body is None:
            return self.wsgi_app(environ, start_response)
        request_id = chosen_request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        start_response(
            "200 OK",
            [
                ("Content-Length", str(len(body))),
                *self._static_headers,
                (REQUEST_ID_HEADER, request_id),
            ],
        )
        return [body]

    def _result_id(self, environ: dict[str, Any]) -> uuid.UUID | None:
        """The id of a bodiless ``GET /results/{id}``, else None (Flask's to answer)."""
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "GET" or not path.startswith(self._PREFIX):
            return None
        if environ.get("CONTENT_LENGTH", "0") not in ("", "0") or environ.get(
            "HTTP_TRANSFER_ENCODING"
        ):
            return None
        segment = path[len(self._PREFIX) :]
        if not segment or "/" in segment or ":" in segment:
            return None
        try:
            return uuid.UUID(segment)
        except ValueError:
            return None

    def _answer(self, result_id: uuid.UUID, environ: dict[str, Any]) -> bytes | None:
        """The body Flask's view would send, None when Flask is to answer."""
        try:
            with (
                self.app.app_context(),
                connection_outside_transaction(db.engine) as connection,
            ):
                dumped = dumped_result(result_id, connection)
        except Exception as error:  # Flask answers it (503 or 500) and logs it
            if database_unavailable(error):
                environ[_UNAVAILABLE] = error
            return None
        return None if dumped is None else self.app.json.response(dumped).get_data()


#: Where ``SingleResultFront`` leaves, for Flask, the error of a database that could not
#: answer it.
_UNAVAILABLE = "backend.single_result.unavailable"


def _raise_unavailable_seen_below() -> None:
    """Flask's answer to a request the front found the database unavailable for: that
    error, as Flask answers database errors (a frozen server would make Flask's own
    attempt wait for the statement timeout or the connection watch again)."""
    error = request.environ.get(_UNAVAILABLE)
    if error is not None:
        raise error


def _catalogue_ids(row: Row) -> tuple[uuid.UUID | str, ...]:
    return (row.benchmark_id, row.site_id, row.flavor_id)


def _with_cached_catalogue(
    connection: Connection, with_tags: Select, state: CatalogueState, result_id: uuid.UUID
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
    rows = connection.execute(with_tags, {"result_id": result_id}).all()
    if rows and _catalogue_ids(rows[0]) != ids:
        return None, {}
    return rows, catalogue


def _remember(state: CatalogueState, row: Row, catalogue: dict[str, dict]) -> None:
    ids = _catalogue_ids(row)
    for (name, item), item_id in zip(catalogue.items(), ids, strict=True):
        state.remember(catalogue_key(name, item_id), item)
    state.remember(f"result:{row.id}", ids)
