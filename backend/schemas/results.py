"""Result bodies, responses and query arguments, including the JSON ``filters`` language."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import marshmallow as ma
from marshmallow import fields

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
    """Result items already dumped (``backend.result_pages``): the page schema passes them
    through as they are, so that a page is not dumped twice."""


class ResultItems(fields.List):
    """``items`` of a results page: documented as a list of ``Result``; dumped items
    (``DumpedItems``) pass through, anything else is dumped by ``Result``."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, DumpedItems):
            return list(value)
        return super()._serialize(value, attr, obj, **kwargs)


class Results(Page):
    items = ResultItems(fields.Nested(Result), required=True)


class ResultFilterArgs(PaginationArgs, UploadFilterArgs):
    benchmark_id = fields.UUID()
    site_id = fields.UUID()
    flavor_id = fields.UUID()
    tags_ids = fields.List(
        fields.UUID(), load_default=list, metadata={"description": "Results carrying all these."}
    )
    execution_before = AwareDateTime()
    execution_after = AwareDateTime()
    filters = fields.List(JsonFilterField(), load_default=list)
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
