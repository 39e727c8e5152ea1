"""Everything that differs between SQLite and PostgreSQL, in one place.

The rest of the code base is portable SQLAlchemy. Here: the JSON document column type
(JSONB on PostgreSQL, JSON text on SQLite) and the translation of result JSON filters and
JSON sort keys — jsonpath (``@?``, usable by a GIN index) on PostgreSQL, the JSON1
functions on SQLite. Both translations give the same answers: a document that lacks the
path, or holds a value of another type there, does not match and sorts last. And what the
bulk importer (``backend.bulk``) needs: how to write many rows fast, whether writers may
run concurrently, how a long read sees one snapshot.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Dialect,
    Numeric,
    Select,
    Table,
    Text,
    TypeDecorator,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    literal_column,
    null,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB, JSONPATH, aggregate_order_by
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import NullType

#: A JSON document column: JSONB on PostgreSQL, JSON text elsewhere.
JsonDocument = JSON().with_variant(JSONB(), "postgresql")

#: JSON filter operators and their SQL / jsonpath spelling.
OPERATORS = {"==": "==", ">": ">", "<": "<", ">=": ">=", "<=": "<="}


def json_value_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "text"


def _quoted_keys(path: Sequence[str]) -> str:
    """``."a"."b"``: the keys JSON-quoted, non-ASCII characters escaped. PostgreSQL's
    jsonpath reads JSON's string syntax; SQLite's JSON1 (3.40) reads a quoted key up to
    the next quote and compares it with the stored text as it is, which the default
    serialiser writes with the same escapes. Keys hold no quote, backslash or control
    character (``backend.schemas.common.json_path_keys``), so both read each key alike."""
    return "".join("." + json.dumps(key) for key in path)


def json_match(
    dialect: str, column: ColumnElement, path: Sequence[str], op: str, value: Any
) -> ColumnElement[bool]:
    """``column`` holds a value of ``value``'s type at ``path`` that compares true by ``op``.

    Booleans support only ``==`` (the filter parser enforces it).
    """
    if dialect == "postgresql":
        # Keys and the value are JSON-quoted, so the jsonpath is well formed for any input;
        # it travels as a bound parameter.
        jsonpath = f"strict ${_quoted_keys(path)} ? (@ {OPERATORS[op]} {json.dumps(value)})"
        return column.op("@?")(cast(literal(jsonpath), JSONPATH))
    sqlite_path = "$" + _quoted_keys(path)
    kind = func.json_type(column, sqlite_path)
    if isinstance(value, bool):
        return kind == ("true" if value else "false")
    extracted = func.json_extract(column, sqlite_path)
    comparison = {
        "==": extracted == value,
        ">": extracted > value,
        "<": extracted < value,
        ">=": extracted >= value,
        "<=": extracted <= value,
    }[op]
    same_kind = (
        kind.in_(["integer", "real"]) if json_value_kind(value) == "number" else kind == "text"
    )
    return and_(same_kind, comparison)


def json_sort_keys(
    dialect: str, column: ColumnElement, path: Sequence[str], descending: bool
) -> list[ColumnElement]:
    """ORDER BY keys for the value at ``path``: numbers, then text, then other JSON values,
    then documents without the path; numbers and text each in the requested direction."""
    if dialect == "postgresql":
        # One bound parameter per key: a text[] path literal ('{a,b}') would read commas,
        # braces and quotes in keys as its own syntax.
        document = type_coerce(column, JSONB)
        kind = func.jsonb_typeof(func.jsonb_extract_path(document, *path))
        text = func.jsonb_extract_path_text(document, *path)
        number = case((kind == "number", cast(text, Numeric())), else_=null())
        string = case((kind == "string", text.collate("C")), else_=null())
        rank = case((kind == "number", 1), (kind == "string", 2), (kind.is_(None), 4), else_=3)
    else:
        sqlite_path = "$" + _quoted_keys(path)
        kind = func.json_type(column, sqlite_path)
        extracted = func.json_extract(column, sqlite_path)
        number = case((kind.in_(["integer", "real"]), extracted), else_=null())
        string = case((kind == "text", extracted), else_=null())
        rank = case(
            (kind.in_(["integer", "real"]), 1), (kind == "text", 2), (kind.is_(None), 4), else_=3
        )
    if descending:
        return [rank.asc(), number.desc(), string.desc()]
    return [rank.asc(), number.asc(), string.asc()]


def snapshot_read_options(dialect: str) -> dict[str, str]:
    """Connection options under which a long read (an export) sees one consistent
    snapshot: REPEATABLE READ on PostgreSQL. SQLite, a development database, reads as is."""
    return {"isolation_level": "REPEATABLE READ"} if dialect == "postgresql" else {}


def sorted_list(column: ColumnElement, values: Select, dialect: str) -> ColumnElement:
    """The sorted values of ``column`` that a correlated select gives, as one list value
    per row (None where there are none): a row's tags read with the row, instead of
    another round trip per batch of rows (an export's tags cost 4 µs a row that way).
    An array on PostgreSQL; elsewhere JSON text, parsed and sorted as the row is read
    (SQLite's aggregates take no ORDER BY; its default collation orders as Python)."""
    if dialect == "postgresql":
        aggregate = func.array_agg(aggregate_order_by(column, column))
        # As psycopg2 returns it (a list of str): SQLAlchemy's ARRAY type would pass each
        # element through its item processor, a twelfth of an export's worker CPU.
        return type_coerce(values.with_only_columns(aggregate).scalar_subquery(), NullType())
    return type_coerce(
        values.with_only_columns(func.json_group_array(column)).scalar_subquery(), _SortedList()
    )


def joined_text(column: ColumnElement, values: Select, dialect: str) -> ColumnElement:
    """The values of ``column`` that a correlated select gives, as one text per row,
    comma-joined in no particular order (None where there are none). An export reads
    each result's tag ids this way: an index-only probe of ``results_tags``, half the
    cost of sorting the tags' names per row."""
    aggregate = (
        func.string_agg(cast(column, Text), literal_column("','"))
        if dialect == "postgresql"
        else func.group_concat(column, literal_column("','"))
    )
    return type_coerce(values.with_only_columns(aggregate).scalar_subquery(), NullType())


def iso_text(column: ColumnElement, dialect: str) -> ColumnElement:
    """A UTC timestamp as the text ``datetime.isoformat`` gives (microseconds only when
    there are some, then +00:00), made by the database for exports: ``to_char`` costs
    PostgreSQL half of its own ``timestamptz`` output, and the worker neither parses nor
    formats two datetimes per row."""
    if dialect == "postgresql":
        utc = column.op("AT TIME ZONE")(literal_column("'UTC'"))
        text = func.to_char(utc, literal_column("""'YYYY-MM-DD"T"HH24:MI:SS.US'"""))
    else:  # stored as naive UTC, 'YYYY-MM-DD HH:MM:SS.ffffff'
        text = func.replace(cast(column, Text), literal_column("' '"), literal_column("'T'"))
    iso = func.replace(text, literal_column("'.000000'"), literal_column("''"))
    return type_coerce(iso.concat(literal_column("'+00:00'")), NullType())


class _SortedList(TypeDecorator):
    """A JSON array of text, read as a sorted list."""

    impl = Text
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> list | None:
        return None if value is None else sorted(json.loads(value))


def concurrent_writers(dialect: str) -> int:
    """How many connections a bulk import writes with at once: two on PostgreSQL (see
    ``backend.bulk.writer.ResultWriter``); none besides the caller's on SQLite, which has one
    writer at a time (and whose in-memory databases are private to their connection)."""
    return 2 if dialect == "postgresql" else 0


def prepare_bulk_insert(
    dialect: Dialect, table: Table, rows: Sequence[Mapping[str, Any]]
) -> Callable[[Connection], None]:
    """Prepare the insert of ``rows`` (all with the same keys) in one statement; the
    returned function runs it on a connection.

    PostgreSQL with psycopg2: ``COPY ... FROM STDIN``, which costs the server a fraction of
    an INSERT's work per row and the client no SQL to build. The data is formatted here, so
    that a thread running the returned function holds Python's lock only briefly (psycopg2
    sends it without). Elsewhere: one executemany INSERT (SQLAlchemy's insertmanyvalues).
    Values go through the columns' own bind processing either way (type decorators, JSON
    serialisation), so both store the same.
    """
    if not rows:
        return lambda connection: None
    if dialect.name != "postgresql" or dialect.driver != "psycopg2":
        return lambda connection: connection.execute(insert(table), rows)
    names = list(rows[0])
    processors = [table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
    columns = list(zip(names, processors, strict=True))
    data = "".join(
        "\t".join(
            _copy_text(process(row[name]) if process else row[name]) for name, process in columns
        )
        + "\n"
        for row in rows
    )
    quote = dialect.identifier_preparer.quote
    statement = f"COPY {quote(table.name)} ({', '.join(map(quote, names))}) FROM STDIN"

    def copy(connection: Connection) -> None:
        cursor = connection.connection.cursor()
        try:
            cursor.copy_expert(statement, io.StringIO(data), size=1 << 20)
        finally:
            cursor.close()

    return copy


def _copy_text(value: Any) -> str:
    """A value in COPY's text format: NULL is ``\\N``; in text (strings, serialised JSON),
    backslash, tab and newlines are escaped; ids, times and numbers have none of them."""
    if isinstance(value, str):
        return (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    return value.isoformat() if isinstance(value, datetime) else str(value)


def read_one_value(engine: Engine, sql: str) -> Any:
    """The first column of the first row of ``sql``, in one round trip.

    Through a pooled connection outside any transaction: psycopg2 would otherwise send a
    BEGIN before the query and the pool a ROLLBACK after it, three round trips for a value
    that a cache hit needs on every request (sqlite3 starts no transaction for a SELECT).
    """
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        connection = engine.raw_connection()
    except dbapi_error as error:  # the server cannot be reached: 503, as for a session
        raise _database_error(engine, sql, error, connection_lost=False) from error
    try:
        driver_connection = connection.driver_connection
        autocommit = engine.dialect.name == "postgresql" and not driver_connection.autocommit
        if autocommit:
            driver_connection.autocommit = True
        try:
            cursor = connection.cursor()
            cursor.execute(sql)
            row = cursor.fetchone()
            cursor.close()
        except dbapi_error as error:
            lost = engine.dialect.is_disconnect(error, driver_connection, None)
            if lost:
                connection.invalidate(error)
            raise _database_error(engine, sql, error, connection_lost=lost) from error
        finally:
            if autocommit and not driver_connection.closed:
                driver_connection.autocommit = False
        return row[0] if row else None
    finally:
        connection.close()


def _database_error(
    engine: Engine, sql: str, error: Exception, *, connection_lost: bool
) -> DBAPIError:
    """A raw driver error wrapped as SQLAlchemy wraps those of its own statements, so that
    the error handlers tell an unavailable database (503) from a bug (500)."""
    return DBAPIError.instance(
        sql,
        None,
        error,
        engine.dialect.loaded_dbapi.Error,
        connection_invalidated=connection_lost,
        dialect=engine.dialect,
    )
