"""Every selected result as rows of columns, read in batches and written as it is read
(GET /results:export): CSV, JSON Lines or Parquet, in constant memory.

Rows are read through one connection in one snapshot (``dialects.snapshot_read_options``:
REPEATABLE READ on PostgreSQL), ``BATCH`` at a time (a server-side cursor on PostgreSQL,
``yield_per`` elsewhere); each batch is written and handed to the response before the
next is read (measured: 1,000 per batch keeps a worker's growth near 25 MB, 5,000
about 100 MB). Documents travel as JSON text and are parsed by orjson.

The default columns include every JSON leaf of the selection as a ``json.<path>`` column,
and a CSV header or a Parquet schema must name them before the first row. So a first
pass, in the same snapshot, reads the selected documents alone and collects their leaf
paths (with each path's kinds of values, which give Parquet its column types); it is
complete, hence exact, and costs about as much as parsing the documents once more (on
PostgreSQL its answer is kept per data state, ``kept_leaf_kinds``). A
leaf is a value that is not an object with keys: numbers, text, booleans, null, arrays
(written as JSON text in CSV and Parquet) and empty objects. JSON Lines needs no header,
yet takes the same pass so that every line has the same keys. Asking for ``columns=``
skips the pass, except for the types of Parquet's JSON columns.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Select, Text, cast, select

from backend.dialects import snapshot_read_options
from backend.extensions import db
from backend.lru_cache import LruCache
from backend.models import Benchmark, Flavor, Result, Site, Tag, results_tags
from backend.result_finding.indexed import arguments_key, result_versions
from backend.result_finding.selection import selected_results, sort_results
from backend.schemas.results import EXPORT_COLUMNS

#: Rows read and written per round trip.
BATCH = 1000

#: The columns exported by default before the JSON leaves.
DEFAULT_PLAIN_COLUMNS = EXPORT_COLUMNS[:7]


@contextmanager
def snapshot() -> Iterator[Connection]:
    """A connection of its own that reads one snapshot until the export ends."""
    with db.engine.connect() as connection:
        connection = connection.execution_options(**snapshot_read_options(connection.dialect.name))
        with connection.begin():
            yield connection


def batches(connection: Connection, stmt: Select) -> Iterator[Sequence[Any]]:
    result = connection.execution_options(stream_results=True, yield_per=BATCH).execute(stmt)
    yield from result.partitions(BATCH)


def leaves(document: Any, prefix: str = "json") -> list[tuple[str, Any]]:
    """(``json.<path>``, value) of each leaf of a document."""
    found: list[tuple[str, Any]] = []
    stack = [(prefix, document)]
    while stack:
        path, value = stack.pop()
        if type(value) is dict and value:
            stack.extend((f"{path}.{key}", item) for key, item in value.items())
        else:
            found.append((path, value))
    return found


#: The kind of each type of JSON value orjson gives.
KINDS = {bool: "boolean", int: "integer", float: "number", str: "text", type(None): "null"}


def kind_of(value: Any) -> str:
    return KINDS.get(type(value), "json")


def leaf_kinds(
    connection: Connection, stmt: Select, wanted: list[str] | None = None
) -> dict[str, set[str]]:
    """The first pass: each leaf path of the selected documents with the kinds of value
    found there; or the kinds at the ``wanted`` paths (absent counts as null)."""
    types: dict[str, set[type]] = defaultdict(set)
    paths = [(path, path.split(".")[1:]) for path in wanted or []]
    documents = stmt.with_only_columns(cast(Result.json, Text), maintain_column_froms=True)
    for batch in batches(connection, documents.order_by(None)):
        for (text,) in batch:
            document = orjson.loads(text)
            if wanted is None:
                for path, value in leaves(document):
                    types[path].add(type(value))
            else:
                for path, keys in paths:
                    types[path].add(type(value_at(document, keys)))
    return {path: {KINDS.get(t, "json") for t in found} for path, found in types.items()}


#: ``leaf_kinds`` by (selection, wanted paths, result versions); PostgreSQL only.
_kept_kinds: LruCache[tuple, dict[str, set[str]]] = LruCache(64)


def kept_leaf_kinds(
    connection: Connection, stmt: Select, args: Mapping[str, Any], wanted: list[str] | None
) -> dict[str, set[str]]:
    """``leaf_kinds``, kept on PostgreSQL for as long as the data does not change: the
    versions are read in the export's own snapshot, so they name exactly what it reads
    (``indexed.result_versions``). A repeated export skips the first pass."""
    if connection.dialect.name != "postgresql":
        return leaf_kinds(connection, stmt, wanted)
    key = (
        arguments_key(args, "format", "columns", "sort_by"),
        tuple(wanted or ()),
        result_versions(connection),
    )
    kinds = _kept_kinds.get(key)
    if kinds is None:
        kinds = leaf_kinds(connection, stmt, wanted)
        _kept_kinds.put(key, kinds)
    return kinds


def value_at(document: Any, keys: Sequence[str]) -> Any:
    for key in keys:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


class Export:
    """An export's plan: its statement, columns and JSON leaves' kinds; ``rows`` gives
    each batch's rows as lists of plain values in column order."""

    def __init__(
        self, connection: Connection, args: Mapping[str, Any], columns: list[str] | None, *,
        kinds_needed: bool,
    ) -> None:  # fmt: skip
        stmt = selected_results(args)
        self.connection = connection
        self.stmt = sort_results(stmt, args.get("sort_by"), joined=False)
        if columns is None:
            self.kinds = kept_leaf_kinds(connection, stmt, args, None)
            self.columns = DEFAULT_PLAIN_COLUMNS + sorted(self.kinds)
        else:
            json_columns = [c for c in columns if c.startswith("json.")]
            self.kinds = (
                kept_leaf_kinds(connection, stmt, args, json_columns)
                if kinds_needed and json_columns
                else {}
            )
            self.columns = columns
        #: The default columns hold the leaves alone: {"a": {"b": 1}} has no json.a value.
        self.leaf_columns = columns is None
        self.names = catalogue_names(connection)

    def rows(self) -> Iterator[list[list[Any]]]:
        """Batches of rows: plain values (text, numbers, booleans, None, lists of tag
        names, datetimes, and JSON values as parsed)."""
        needs_json = any(c.startswith("json.") for c in self.columns)
        stmt = self.stmt.with_only_columns(
            Result.id,
            Result.benchmark_id,
            Result.site_id,
            Result.flavor_id,
            Result.execution_datetime,
            Result.upload_datetime,
            cast(Result.json, Text) if needs_json else Result.id,
            maintain_column_froms=True,
        )
        getters = [self.getter(column) for column in self.columns]
        needs_tags = "tags" in self.columns
        for batch in batches(self.connection, stmt):
            tags = self.tags_of([row[0] for row in batch]) if needs_tags else {}
            out = []
            for row in batch:
                document = orjson.loads(row[6]) if needs_json else None
                flat = dict(leaves(document)) if needs_json and self.leaf_columns else None
                out.append([get(row, document, flat, tags) for get in getters])
            yield out

    def getter(self, column: str) -> Callable[..., Any]:
        """The value of ``column`` from (row, document, its leaves by path, tags)."""
        names = self.names
        if column.startswith("json."):
            if self.leaf_columns:
                return lambda row, document, flat, tags: flat.get(column)
            keys = column.split(".")[1:]
            return lambda row, document, flat, tags: value_at(document, keys)
        plain = {
            "id": lambda row, document, flat, tags: str(row[0]),
            "benchmark": lambda row, document, flat, tags: names[row[1]],
            "site": lambda row, document, flat, tags: names[row[2]],
            "flavor": lambda row, document, flat, tags: names[row[3]],
            "tags": lambda row, document, flat, tags: tags.get(row[0], []),
            "execution_datetime": lambda row, document, flat, tags: row[4],
            "upload_datetime": lambda row, document, flat, tags: row[5],
            "benchmark_id": lambda row, document, flat, tags: str(row[1]),
            "site_id": lambda row, document, flat, tags: str(row[2]),
            "flavor_id": lambda row, document, flat, tags: str(row[3]),
        }
        return plain[column]

    def tags_of(self, result_ids: list) -> dict[Any, list[str]]:
        stmt = (
            select(results_tags.c.result_id, Tag.name)
            .join(Tag, Tag.id == results_tags.c.tag_id)
            .where(results_tags.c.result_id.in_(result_ids))
            .order_by(Tag.name)
        )
        tags: dict[Any, list[str]] = defaultdict(list)
        for result_id, name in self.connection.execute(stmt):
            tags[result_id].append(name)
        return tags


def catalogue_names(connection: Connection) -> dict[Any, str]:
    """Every benchmark's image:tag, site's and flavor's name by id (a small catalogue)."""
    names = {
        row[0]: row[1]
        for row in connection.execute(
            select(Benchmark.id, Benchmark.docker_image + ":" + Benchmark.docker_tag)
        )
    }
    for model in (Site, Flavor):
        names.update({row[0]: row[1] for row in connection.execute(select(model.id, model.name))})
    return names


# Writers: each turns batches of rows into chunks of bytes. ---------------------------------

#: What the csv module writes as it should.
PLAIN = {str, int, float}


def csv_text(value: Any) -> Any:
    if type(value) in PLAIN:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode()
    return value


def write_csv(export: Export) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(export.columns)
    for batch in export.rows():
        writer.writerows([csv_text(v) for v in row] for row in batch)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue().encode()


def write_jsonl(export: Export) -> Iterator[bytes]:
    columns = export.columns
    options = orjson.OPT_NAIVE_UTC | orjson.OPT_APPEND_NEWLINE
    for batch in export.rows():
        yield b"".join(
            orjson.dumps(dict(zip(columns, row, strict=True)), option=options) for row in batch
        )


def parquet_type(column: str, kinds: Mapping[str, set[str]]):
    import pyarrow as pa

    if column in {"execution_datetime", "upload_datetime"}:
        return pa.timestamp("us", tz="UTC")
    if column == "tags":
        return pa.list_(pa.string())
    found = kinds.get(column, set()) - {"null"}
    if found == {"integer"}:
        return pa.int64()
    if found and found <= {"integer", "number"}:
        return pa.float64()
    if found == {"boolean"}:
        return pa.bool_()
    return pa.string()


def json_converter(kinds: set[str], arrow_type: Any) -> Callable[[Any], Any] | None:
    """How a JSON column's values become its Parquet type's: numbers to doubles in a
    double column; JSON text in a text column of other or mixed kinds (arrays, objects,
    text beside numbers), so that the text "7" and the number 7 stay apart."""
    import pyarrow as pa

    if arrow_type == pa.float64():
        return lambda value: None if value is None else float(value)
    if arrow_type == pa.string() and kinds - {"null"} not in ({"text"}, set()):
        return lambda value: None if value is None else orjson.dumps(value).decode()
    return None


class ChunkSink:
    """Where ParquetWriter writes: keeps what was written until ``take``, and counts every
    byte so that the offsets the writer records in the file stay right."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


#: Batches per Parquet row group. The writer keeps every row group's metadata until the
#: footer: with one row group per 1,000-row batch a worker grew by 205 MB over 1,000,000
#: results, with 10,000-row groups by 107 MB (5,000-row groups: 108 MB, so the rest is
#: not the groups' buffer; see docs/analysis.md).
ROW_GROUP_BATCHES = 10


def write_parquet(export: Export) -> Iterator[bytes]:
    """One row group per ``ROW_GROUP_BATCHES`` batches. pyarrow is imported on the first
    Parquet export, so that workers that never write one do not carry it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = [parquet_type(column, export.kinds) for column in export.columns]
    schema = pa.schema([pa.field(c, t) for c, t in zip(export.columns, types, strict=True)])
    converts = [
        (i, convert)
        for i, (c, t) in enumerate(zip(export.columns, types, strict=True))
        if c.startswith("json.") and (convert := json_converter(export.kinds.get(c, set()), t))
    ]
    sink = ChunkSink()
    group: list = []
    with pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema) as writer:
        for batch in export.rows():
            for row in batch:
                for i, convert in converts:
                    row[i] = convert(row[i])
            columns = list(zip(*batch, strict=True)) if batch else [()] * len(types)
            arrays = [pa.array(list(c), type=t) for c, t in zip(columns, types, strict=True)]
            group.append(pa.Table.from_arrays(arrays, schema=schema))
            if len(group) == ROW_GROUP_BATCHES:
                writer.write_table(pa.concat_tables(group))
                group.clear()
                yield sink.take()
        if group:
            writer.write_table(pa.concat_tables(group))
    yield sink.take()


#: format: (media type, file extension, writer)
FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv", write_csv),
    "jsonl": ("application/x-ndjson", "jsonl", write_jsonl),
    "parquet": ("application/vnd.apache.parquet", "parquet", write_parquet),
}


def export_chunks(args: Mapping[str, Any]) -> Iterable[bytes]:
    """The export's bytes, chunk by chunk, read and written as the client takes them."""
    _, _, write = FORMATS[args["format"]]
    with snapshot() as connection:
        export = Export(
            connection, args, args.get("columns"), kinds_needed=args["format"] == "parquet"
        )
        yield from write(export)
