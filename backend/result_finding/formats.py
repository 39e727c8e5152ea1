"""The export formats (GET /results:export): each writer turns an ``Export``'s batches of
rows into chunks of bytes, as they are read (``backend.result_finding.streams``).

CSV and Parquet both go through Arrow: a batch's columns become Arrow arrays, which
Arrow's writers format in C++. The csv module took 11 µs per 74-column row, mostly
formatting numbers; Arrow's CSV writer formats the same batch in about a tenth of that.
JSON Lines is written by orjson, a row at a time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from backend.result_finding.flatten import Converter, Inline

if TYPE_CHECKING:
    from backend.result_finding.streams import Export


def csv_field(value: Any) -> str | None:
    """A value of a column of mixed kinds as CSV text: numbers as Python writes them,
    booleans as JSON does, arrays and objects as JSON text."""
    if value is None or type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode()
    return str(value)


#: Conversions inlined in the rows (``flatten.Inline``; ``D`` is orjson.dumps).
AS_JSON_TEXT = Inline("(None if {0} is None else D({0}).decode())")
AS_DOUBLE = Inline("(None if {0} is None else float({0}))")


def csv_column(column: str, kinds: Mapping[str, set[str]]) -> tuple[Any, Converter]:
    """The Arrow type of a CSV column and how its values become that type's. Text where
    kinds are mixed (``csv_field``), so that integers beside decimals keep every digit."""
    import pyarrow as pa

    if column == "tags":
        return pa.string(), AS_JSON_TEXT
    if not column.startswith("json."):
        return pa.string(), None
    if column not in kinds:
        return pa.string(), csv_field
    found = kinds[column] - {"null"}
    simple = {"integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_()}
    if len(found) == 1 and (kind := next(iter(found))) in simple:
        return simple[kind], None
    if found <= {"text"}:
        return pa.string(), None
    return pa.string(), AS_JSON_TEXT if found == {"json"} else csv_field


def parquet_column(column: str, kinds: Mapping[str, set[str]]) -> tuple[Any, Converter]:
    """The Arrow type of a Parquet column and how its values become that type's: numbers
    to doubles in a double column; JSON text in a text column of other or mixed kinds
    (arrays, objects, text beside numbers), so that the text "7" and the number 7 stay
    apart."""
    import pyarrow as pa

    if column in {"execution_datetime", "upload_datetime"}:
        return pa.timestamp("us", tz="UTC"), None
    if column == "tags":
        return pa.list_(pa.string()), None
    if not column.startswith("json."):
        return pa.string(), None
    found = kinds.get(column, set()) - {"null"}
    if found == {"integer"}:
        return pa.int64(), None
    if found and found <= {"integer", "number"}:
        return pa.float64(), AS_DOUBLE
    if found == {"boolean"}:
        return pa.bool_(), None
    return pa.string(), None if found <= {"text"} else AS_JSON_TEXT


def arrow_batches(
    export: Export, column_of: Callable[[str, Mapping[str, set[str]]], tuple[Any, Converter]]
) -> tuple[Any, Iterator[Any]]:
    """The Arrow schema of the export's columns, and its batches as Arrow record batches.
    An integer too large for a 64-bit column (JSON's integers have no limit) makes its
    column text (``csv_field``) for its batch: CSV writes the same digits; Parquet, whose
    schema is fixed, cannot take that batch and the export stops (a known limit)."""
    import pyarrow as pa

    types = [column_of(column, export.kinds) for column in export.columns]
    schema = pa.schema([pa.field(c, t) for c, (t, _) in zip(export.columns, types, strict=True)])
    converters = dict(zip(export.columns, (convert for _, convert in types), strict=True))

    def batches() -> Iterator[Any]:
        for batch in export.rows(converters.get):
            columns = zip(*batch, strict=True) if batch else [()] * len(types)
            arrays = [arrow_array(c, t) for c, (t, _) in zip(columns, types, strict=True)]
            yield pa.record_batch(arrays, names=export.columns)

    return schema, batches()


def arrow_array(values: Sequence[Any], arrow_type: Any) -> Any:
    """Values as an Arrow array of the type; timestamps come as ISO text."""
    import pyarrow as pa

    if pa.types.is_timestamp(arrow_type):
        return pa.array(values, type=pa.string()).cast(arrow_type)
    try:
        return pa.array(values, type=arrow_type)
    except OverflowError:
        if arrow_type != pa.int64():
            raise
        return pa.array([csv_field(v) for v in values], type=pa.string())


def write_csv(export: Export) -> Iterator[bytes]:
    """The header as the csv module writes it, then each batch as Arrow's CSV writer
    does (text quoted, nulls empty)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(export.columns)
    yield header.getvalue().encode()
    options = pacsv.WriteOptions(include_header=False)
    _, batches = arrow_batches(export, csv_column)
    for batch in batches:
        sink = pa.BufferOutputStream()
        pacsv.write_csv(batch, sink, write_options=options)
        yield sink.getvalue().to_pybytes()


def write_jsonl(export: Export) -> Iterator[bytes]:
    columns = export.columns
    options = orjson.OPT_NAIVE_UTC | orjson.OPT_APPEND_NEWLINE
    for batch in export.rows():
        yield b"".join(
            orjson.dumps(dict(zip(columns, row, strict=True)), option=options) for row in batch
        )


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
    """One row group per ``ROW_GROUP_BATCHES`` batches. Text columns (and lists of text)
    are dictionary-encoded and have no min/max statistics; other columns have statistics
    and no dictionary. Text statistics cost a quarter of the writer's time and prune
    little (an export's row groups follow its sort, and ids, names and text leaves spread
    over all of them); dictionaries of doubles made the file larger. Measured on 110,000
    c-ray and tf-cnn rows: 2.75 against 1.84 µs a row, the file 3% smaller."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema, batches = arrow_batches(export, parquet_column)
    text = [
        field.name
        for field in schema
        if pa.types.is_string(field.type) or pa.types.is_list(field.type)
    ]
    others = [field.name for field in schema if field.name not in set(text)]
    sink = ChunkSink()
    group: list = []
    with pq.ParquetWriter(
        pa.PythonFile(sink, mode="w"), schema, use_dictionary=text, write_statistics=others
    ) as writer:
        for batch in batches:
            group.append(batch)
            if len(group) == ROW_GROUP_BATCHES:
                writer.write_table(pa.Table.from_batches(group, schema=schema))
                group.clear()
                yield sink.take()
        if group:
            writer.write_table(pa.Table.from_batches(group, schema=schema))
    yield sink.take()


#: format: (media type, file extension, writer)
FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv", write_csv),
    "jsonl": ("application/x-ndjson", "jsonl", write_jsonl),
    "parquet": ("application/vnd.apache.parquet", "parquet", write_parquet),
}
