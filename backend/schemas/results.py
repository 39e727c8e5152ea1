"""Result bodies, responses and query arguments, including the JSON ``filters`` language."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import marshmallow as ma
import orjson
from marshmallow import fields, validate
from webargs.fields import DelimitedList

from backend.schemas.benchmarks import Benchmark
from backend.schemas.common import (
    AwareDateTime,
    Page,
    PaginationArgs,
    Schema,
    SearchArgs,
    SortBy,
    UploadFilterArgs,
    json_path_keys,
)
from backend.schemas.sites import Flavor, Site
from backend.schemas.tags import Tag

RESULT_SORT_FIELDS = [
    "execution_datetime",
    "upload_datetime",
    "id",
    "benchmark_id",
    "benchmark_name",
    "site_id",
    "site_name",
    "site_address",
    "flavor_id",
    "flavor_name",
]

#: How far in the future an execution time may be, for clocks that are a little off.
CLOCK_SKEW = timedelta(minutes=5)

_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")
_FILTER_HINT = (
    "A filter is '<path.separated.by.dots> <operator> <value>', separated by spaces "
    "(%20 or + in URLs), with operator one of ==, >, <, >=, <=; "
    "e.g. filters=machine.cpu.count > 4"
)


class JsonFilter(NamedTuple):
    path: tuple[str, ...]
    op: str
    value: Any


class JsonFilterField(fields.String):
    """``machine.cpu.count > 4``: numbers compare as numbers, true/false as booleans,
    anything else as text."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "metadata", {"description": _FILTER_HINT, "example": "machine.cpu.count > 4"}
        )
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr, data, **kwargs) -> JsonFilter:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        parts = text.split(" ", 2)
        if len(parts) != 3 or not all(parts):
            raise ma.ValidationError(f"Malformed filter '{text}'. {_FILTER_HINT}.")
        path, op, raw = parts
        if op not in {"==", ">", "<", ">=", "<="}:
            raise ma.ValidationError(f"Unknown operator '{op}' in '{text}'. {_FILTER_HINT}.")
        try:
            keys = json_path_keys(path.removeprefix("json."))
        except ma.ValidationError as error:
            raise ma.ValidationError(f"{error.messages[0]} {_FILTER_HINT}.") from None
        raw = raw.strip()
        parsed: Any
        if _NUMBER.fullmatch(raw):
            parsed = filter_number(raw)
        elif raw in {"true", "false"}:
            parsed = raw == "true"
            if op != "==":
                raise ma.ValidationError(f"Booleans support only '==' (in '{text}').")
        else:
            parsed = raw
        return JsonFilter(keys, op, parsed)


def filter_number(text: str) -> int | float:
    """A number of a filter, as both databases compare it: an integer that fits in 64 bits
    (SQLite binds no larger one) or a finite double (jsonpath has no infinity, and a
    number that overflows to infinity or underflows to zero would not compare as written).
    """
    if not any(c in text for c in ".eE"):
        if len(text.lstrip("-")) <= 19 and -(2**63) <= int(text) < 2**63:
            return int(text)
        raise ma.ValidationError(
            f"The integer {text[:40]} is outside the 64-bit range (-9223372036854775808 to "
            "9223372036854775807); write it with an exponent (e.g. 1e20) to compare it as a "
            "double."
        )
    value = float(text)
    mantissa = text.lower().split("e")[0]
    if math.isinf(value) or (value == 0 and mantissa.strip("-0.")):
        raise ma.ValidationError(
            f"The number {text[:40]} is not a finite double: doubles reach about "
            "1.8e308, and the smallest above zero is about 4.9e-324."
        )
    return value


class Result(Schema):
    id = fields.UUID(dump_only=True)
    execution_datetime = AwareDateTime(dump_only=True)
    upload_datetime = AwareDateTime(dump_only=True)
    benchmark = fields.Nested(Benchmark, dump_only=True)
    site = fields.Nested(Site, dump_only=True)
    flavor = fields.Nested(Flavor, dump_only=True)
    tags = fields.List(fields.Nested(Tag), dump_only=True)
    json = fields.Raw(dump_only=True, metadata={"description": "The result document."})


class DumpedItems(list):
    """Result items already dumped (``backend.result_finding.items``): the page schema passes them
    through as they are, so that a page is not dumped twice."""


class ResultItems(fields.List):
    """``items`` of a results page: documented as a list of ``Result``; dumped items
    (``DumpedItems``) pass through, as do items already written out (a kept page's
    ``orjson.Fragment``); anything else is dumped by ``Result``."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, orjson.Fragment):
            return value
        if isinstance(value, DumpedItems):
            return list(value)
        return super()._serialize(value, attr, obj, **kwargs)


class Results(Page):
    items = ResultItems(fields.Nested(Result), required=True)


class ResultSelectionArgs(UploadFilterArgs):
    """The /results filters, shared by lists, aggregates and exports."""

    benchmark_id = fields.UUID()
    site_id = fields.UUID()
    flavor_id = fields.UUID()
    tags_ids = fields.List(
        fields.UUID(), load_default=list, metadata={"description": "Results carrying all these."}
    )
    execution_before = AwareDateTime()
    execution_after = AwareDateTime()
    filters = fields.List(JsonFilterField(), load_default=list)


class ResultFilterArgs(PaginationArgs, ResultSelectionArgs):
    sort_by = SortBy(RESULT_SORT_FIELDS, allow_json=True)


class ResultSearchArgs(PaginationArgs, UploadFilterArgs, SearchArgs):
    sort_by = SortBy(RESULT_SORT_FIELDS, allow_json=True)


class ExecutionDateTime(AwareDateTime):
    """When a benchmark ran: ISO 8601 with its time zone, and not in the future."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(require_timezone=True, **kwargs)

    def _deserialize(self, value: Any, attr, data, **kwargs) -> datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed > datetime.now(UTC) + CLOCK_SKEW:
            raise ma.ValidationError("The execution datetime is in the future.")
        return parsed


class ResultContextArgs(Schema):
    """Where and when the uploaded result was produced."""

    execution_datetime = ExecutionDateTime(required=True)
    benchmark_id = fields.UUID(required=True)
    flavor_id = fields.UUID(required=True)
    tags_ids = fields.List(fields.UUID(), load_default=list)


class ResultDocument(Schema):
    """Any JSON object: the benchmark's own JSON Schema decides what is valid."""

    class Meta:
        unknown = ma.INCLUDE


class BatchItem(ResultContextArgs):
    json = fields.Dict(required=True, metadata={"description": "The result document."})


class BatchCreated(Schema):
    ids = fields.List(fields.UUID(), required=True)


#: What ``/results:aggregate`` may group by, and the figures of each group.
AGGREGATE_GROUP_KEYS = ["benchmark", "site", "flavor", "tag", "month"]
AGGREGATE_STATISTICS = ["count", "mean", "stddev", "min", "p50", "p90", "p99", "max"]
_METRIC_HINT = "A metric is 'json.<path.separated.by.dots>', e.g. metric=json.result.score"


class MetricField(fields.String):
    """``json.result.score``: loads to the path's keys."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "metadata",
            {
                "description": "The JSON number to aggregate, as json.<dotted.path>. Results "
                "without a number there (absent, text, boolean, ...) are left out and counted "
                "in `missing`.",
                "example": "json.result.score",
            },
        )
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr, data, **kwargs) -> tuple[str, ...]:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text.startswith("json."):
            raise ma.ValidationError(f"'{text}' is not a JSON path. {_METRIC_HINT}.")
        try:
            return json_path_keys(text.removeprefix("json."))
        except ma.ValidationError as error:
            raise ma.ValidationError(f"{error.messages[0]} {_METRIC_HINT}.") from None


def group_by_field(keys: str) -> DelimitedList:
    """The ``group_by`` argument of an aggregate; ``keys`` tells what each key means."""
    return DelimitedList(
        fields.String(validate=validate.OneOf(AGGREGATE_GROUP_KEYS)),
        required=True,
        validate=validate.Length(min=1, max=3),
        metadata={
            "description": "One to three comma-separated group keys, each once, of: "
            + ", ".join(AGGREGATE_GROUP_KEYS)
            + ". "
            + keys,
            "example": "site,flavor",
        },
    )


def aggregate_sort_by() -> SortBy:
    return SortBy(AGGREGATE_STATISTICS + AGGREGATE_GROUP_KEYS)


class GroupingArgs(Schema):
    """What every aggregate's ``group_by`` and ``sort_by`` must agree on (no fields of its
    own: each aggregate declares them with its own description)."""

    @ma.validates_schema
    def keys_are_grouped(self, data: dict, **kwargs: Any) -> None:
        group_by = data.get("group_by") or []
        if len(set(group_by)) != len(group_by):
            raise ma.ValidationError("Name each group key once.", "group_by")
        for name, _ in data.get("sort_by") or []:
            if name in AGGREGATE_GROUP_KEYS and name not in group_by:
                raise ma.ValidationError(
                    f"'{name}' sorts only when it is one of group_by ({', '.join(group_by)}).",
                    "sort_by",
                )


class ResultAggregateArgs(ResultSelectionArgs, GroupingArgs):
    metric = MetricField(required=True)
    group_by = group_by_field(
        "`tag`: a result with several tags counts in each of their groups, untagged "
        "results in a group whose tag id and name are null. `month`: of the execution "
        "datetime, in UTC, as YYYY-MM."
    )
    sort_by = aggregate_sort_by()


class AggregateKey(Schema):
    id = fields.String(
        allow_none=True,
        metadata={"description": "The benchmark, site, flavor or tag id; the month (YYYY-MM)."},
    )
    name = fields.String(
        allow_none=True,
        metadata={"description": "benchmark: image:tag; site, flavor, tag: name; month: YYYY-MM."},
    )


class AggregateKeys(Schema):
    """A group's value of each ``group_by`` key (only those keys are present)."""

    benchmark = fields.Nested(AggregateKey)
    site = fields.Nested(AggregateKey)
    flavor = fields.Nested(AggregateKey)
    tag = fields.Nested(AggregateKey)
    month = fields.Nested(AggregateKey)


class AggregateGroup(Schema):
    """The figures of one group's numbers, as numpy computes them."""

    keys = fields.Nested(AggregateKeys, required=True)
    count = fields.Integer(
        required=True,
        metadata={"description": "Results with a number (jobs, in /experiments:aggregate)."},
    )
    mean = fields.Float(required=True)
    stddev = fields.Float(
        required=True,
        metadata={
            "description": "Population standard deviation: numpy.std with its default ddof=0 "
            "(PostgreSQL's stddev_pop); 0 for a group of one."
        },
    )
    min = fields.Float(required=True)
    p50 = fields.Float(
        required=True,
        metadata={
            "description": "Percentiles p50, p90, p99: numpy.percentile's default (linear "
            "interpolation between the closest ranks; PostgreSQL's percentile_cont)."
        },
    )
    p90 = fields.Float(required=True)
    p99 = fields.Float(required=True)
    max = fields.Float(required=True)


class Aggregate(Schema):
    metric = fields.String(required=True, metadata={"example": "json.result.score"})
    group_by = fields.List(fields.String(), required=True)
    missing = fields.Integer(
        required=True,
        metadata={"description": "Selected results without a number at the metric, each once."},
    )
    groups = fields.List(
        fields.Nested(AggregateGroup),
        required=True,
        metadata={"description": "At most 1,000; by sort_by, then by the keys' names."},
    )


#: Columns of an export besides ``json.<path>`` ones (``backend.result_finding.streams``).
EXPORT_COLUMNS = [
    "id",
    "benchmark",
    "site",
    "flavor",
    "tags",
    "execution_datetime",
    "upload_datetime",
    "benchmark_id",
    "site_id",
    "flavor_id",
]


class ExportColumn(fields.String):
    def _deserialize(self, value: Any, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text.startswith("json."):
            json_path_keys(text.removeprefix("json."))
        elif text not in EXPORT_COLUMNS:
            raise ma.ValidationError(
                f"Unknown column '{text}'; columns are json.<path> and: "
                + ", ".join(EXPORT_COLUMNS)
                + "."
            )
        return text


class ResultExportArgs(ResultSelectionArgs):
    format = fields.String(
        required=True,
        validate=validate.OneOf(["csv", "jsonl", "parquet"]),
        metadata={
            "description": "csv (text/csv), jsonl (application/x-ndjson: one JSON object "
            "per line) or parquet (application/vnd.apache.parquet)."
        },
    )
    columns = DelimitedList(
        ExportColumn(),
        validate=validate.Length(min=1),
        metadata={
            "description": "Comma-separated columns, in order, of: "
            + ", ".join(EXPORT_COLUMNS)
            + ", json.<path> (the value at the path: JSON text in CSV and Parquet when it "
            "is not a plain value). Default: id, benchmark (image:tag), site, flavor "
            "(names), tags (names; a JSON array in CSV), execution_datetime, "
            "upload_datetime, then json.<path> for every JSON leaf of the selected "
            "documents (numbers, text, booleans, null, arrays, empty objects), sorted by "
            "path.",
            "example": "id,site,flavor,json.result.score",
        },
    )
    sort_by = SortBy(RESULT_SORT_FIELDS, allow_json=True)

    @ma.validates_schema
    def columns_once(self, data: dict, **kwargs: Any) -> None:
        columns = data.get("columns") or []
        if len(set(columns)) != len(columns):
            raise ma.ValidationError("Name each column once.", "columns")
