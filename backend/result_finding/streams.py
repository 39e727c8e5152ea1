"""Every selected result as rows of columns, read in batches and written as it is read
(GET /results:export): CSV, JSON Lines or Parquet (the writers: ``formats``), in
constant memory.

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

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Connection, Select, Text, cast, func, select

from backend.dialects import iso_text, joined_text, snapshot_read_options
from backend.extensions import db
from backend.lru_cache import LruCache
from backend.models import Benchmark, Flavor, Result, Site, Tag, results_tags
from backend.result_finding.flatten import (
    KINDS,
    Converter,
    LeafKinds,
    converter_function,
    row_reader,
    value_reader,
)
from backend.result_finding.formats import FORMATS
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
    """The statement's rows, ``BATCH`` at a time, the next batch read while the caller
    writes this one. A server-side cursor makes PostgreSQL produce rows only when asked:
    read in turn, the server's time and the writer's added up (an export of 100,000
    results: 12 + 18 µs a row); read ahead by a thread (psycopg2 waits without Python's
    lock), the slower of the two sets the pace. The thread alone uses the connection
    until it has ended; closing this generator early ends it first."""
    result = connection.execution_options(stream_results=True, yield_per=BATCH).execute(stmt)
    ahead: queue.Queue = queue.Queue(maxsize=1)
    stopped = threading.Event()

    def hand_over(item: Any) -> bool:
        while not stopped.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for batch in result.partitions(BATCH):
                if not hand_over(batch):
                    return
            hand_over(_END)
        except BaseException as error:  # handed to the caller, raised there
            hand_over(error)

    reader = threading.Thread(target=read, name="export-read-ahead", daemon=True)
    reader.start()
    try:
        while (item := ahead.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stopped.set()
        reader.join()


#: What ``batches``' reading thread hands over after the last batch.
_END = object()


def leaf_kinds(
    connection: Connection, stmt: Select, wanted: list[str] | None = None
) -> dict[str, set[str]]:
    """The first pass: each leaf path of the selected documents with the kinds of value
    found there; or the kinds at the ``wanted`` paths (absent counts as null). Read from
    one document of each shape (``representative_documents``)."""
    texts = representative_documents(connection, stmt)
    if wanted is None:
        found = LeafKinds()
        for text in texts:
            found.add(orjson.loads(text))
        types = {"json." + ".".join(path): kinds for path, kinds in found.types.items()}
    else:
        read = value_reader([json_path(c) for c in wanted])
        sets: list[set[type]] = [set() for _ in wanted]
        for text in texts:
            for kinds, value in zip(sets, read(orjson.loads(text)), strict=True):
                kinds.add(type(value))
        types = dict(zip(wanted, sets, strict=True))
    return {path: {KINDS.get(t, "json") for t in found} for path, found in types.items()}


def representative_documents(connection: Connection, stmt: Select) -> Iterator[str]:
    """The JSON text of one selected document of each ``json_shape``, and of every
    selected document stored without one: all the first pass needs, since documents of
    one shape have the same leaves with the same kinds (and so the same kind at any
    path). One grouping statement over the selection, then the few documents by id."""
    selection = stmt.order_by(None)
    some_id = func.min(
        cast(Result.id, Text) if connection.dialect.name == "postgresql" else Result.id
    )
    shapes = (
        selection.with_only_columns(some_id, maintain_column_froms=True)
        .where(Result.json_shape.is_not(None))
        .group_by(Result.json_shape)
    )
    ids = [row[0] for row in connection.execute(shapes)]
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        documents = select(cast(Result.json, Text)).where(Result.id.in_(chunk))
        yield from connection.execute(documents).scalars()
    unshaped = selection.with_only_columns(
        cast(Result.json, Text), maintain_column_froms=True
    ).where(Result.json_shape.is_(None))
    yield from (row[0] for batch in batches(connection, unshaped) for row in batch)


def json_path(column: str) -> tuple[str, ...]:
    """("a", "b") of the column ``json.a.b``."""
    return tuple(column.split(".")[1:])


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
        self.tags = tag_catalogue(connection) if "tags" in self.columns else {}

    def rows(
        self, converter: Callable[[str], Converter] | None = None
    ) -> Iterator[list[list[Any]]]:
        """Batches of rows: plain values (text, numbers, booleans, None, lists of tag
        names, datetimes as ISO text, and JSON values as parsed), each passed through the
        ``converter`` of its column if that gives one."""
        text_id = ids_as_read(self.connection)
        needs_json = any(c.startswith("json.") for c in self.columns)
        stmt = self.stmt.with_only_columns(
            text_id(Result.id),
            text_id(Result.benchmark_id),
            text_id(Result.site_id),
            text_id(Result.flavor_id),
            iso_text(Result.execution_datetime, self.connection.dialect.name),
            iso_text(Result.upload_datetime, self.connection.dialect.name),
            cast(Result.json, Text) if needs_json else Result.id,
            joined_text(
                results_tags.c.tag_id,
                select(results_tags.c.tag_id).where(results_tags.c.result_id == Result.id),
                self.connection.dialect.name,
            )
            if "tags" in self.columns
            else Result.id,
            maintain_column_froms=True,
        )
        columns = [
            json_path(c) if c.startswith("json.") else PLAIN_COLUMNS[c] for c in self.columns
        ]
        names = {"N": self.names, "D": orjson.dumps}
        converters = [converter(c) for c in self.columns] if converter else None
        tag_converter = None
        if converters is not None and "tags" in self.columns:
            # converted once per set of tags (``TagLists``), not in each row
            at = self.columns.index("tags")
            tag_converter, converters[at] = converter_function(converters[at], **names), None
        read = row_reader(
            columns,
            leaves_only=self.leaf_columns,
            converters=converters,
            T=TagLists(self.tags, tag_converter),
            **names,
        )
        loads = orjson.loads
        for batch in batches(self.connection, stmt):
            if needs_json:
                yield [read(row, loads(row[6])) for row in batch]
            else:
                yield [read(row, None) for row in batch]


def catalogue_names(connection: Connection) -> dict[Any, str]:
    """Every benchmark's image:tag, site's and flavor's name by id (a small catalogue),
    the ids as ``ids_as_read`` reads them."""
    text_id = ids_as_read(connection)
    names = {
        row[0]: row[1]
        for row in connection.execute(
            select(text_id(Benchmark.id), Benchmark.docker_image + ":" + Benchmark.docker_tag)
        )
    }
    for model in (Site, Flavor):
        names.update(
            {row[0]: row[1] for row in connection.execute(select(text_id(model.id), model.name))}
        )
    return names


def tag_catalogue(connection: Connection) -> dict[str, tuple[int, str]]:
    """Every tag's (rank, name) by its id as ``joined_text`` reads it, ranked in the order
    the database sorts names (its collation), which is the order of an export's tags."""
    rows = connection.execute(select(cast(Tag.id, Text), Tag.name).order_by(Tag.name, Tag.id))
    return {row[0]: (rank, row[1]) for rank, row in enumerate(rows)}


class TagLists(dict):
    """A result's tag names, by its tag ids as one joined text (None: no tags), converted
    for the column once per set of tags: results share a few sets, so most rows take a
    lookup. Keeps at most ``MAX_TAG_SETS`` of them (results whose tags are all distinct
    would otherwise keep one per result)."""

    MAX_TAG_SETS = 10_000

    def __init__(
        self, tags: Mapping[str, tuple[int, str]], convert: Callable[[Any], Any] | None
    ) -> None:
        super().__init__()
        self.tags = tags
        self.convert = convert

    def __missing__(self, joined: str | None) -> Any:
        names = (
            [] if joined is None else [n for _, n in sorted(map(self.tags.get, joined.split(",")))]
        )
        value = names if self.convert is None else self.convert(names)
        if len(self) >= self.MAX_TAG_SETS:
            self.clear()
        self[joined] = value
        return value


def ids_as_read(connection: Connection) -> Callable[[Any], Any]:
    """How exports select ids: as text on PostgreSQL, where making a UUID object of each
    of a row's four ids took a tenth of an export's time; as stored elsewhere (SQLite's
    text form of a UUID has no dashes, and its UUID objects are what ``str`` needs)."""
    if connection.dialect.name == "postgresql":
        return lambda column: cast(column, Text)
    return lambda column: column


#: Each plain column as an expression of an export's row ``r`` (id, benchmark, site and
#: flavor ids, execution and upload datetimes, the document, the tags' ids joined).
PLAIN_COLUMNS = {
    "id": "str(r[0])",
    "benchmark": "N[r[1]]",
    "site": "N[r[2]]",
    "flavor": "N[r[3]]",
    "tags": "T[r[7]]",
    "execution_datetime": "r[4]",
    "upload_datetime": "r[5]",
    "benchmark_id": "str(r[1])",
    "site_id": "str(r[2])",
    "flavor_id": "str(r[3])",
}


def export_chunks(args: Mapping[str, Any]) -> Iterable[bytes]:
    """The export's bytes, chunk by chunk, read and written as the client takes them."""
    _, _, write = FORMATS[args["format"]]
    with snapshot() as connection:
        export = Export(
            connection, args, args.get("columns"), kinds_needed=args["format"] == "parquet"
        )
        yield from write(export)
