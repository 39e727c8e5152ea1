"""Schemas shared by every resource: pagination, sorting, upload-date filters, search."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from backend.models import ItemStatus


class Schema(ma.Schema):
    """Base of all request and response schemas."""


class AwareDateTime(fields.DateTime):
    """ISO 8601 datetime; a date alone means its midnight, and no offset means UTC
    (unless ``require_timezone``, for times that must say where they were taken).

    Loads to UTC, so that a time whose UTC is outside years 1..9999 is an argument error.
    """

    def __init__(self, *, require_timezone: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.require_timezone = require_timezone

    default_error_messages = {
        "naive": "Include the time zone, e.g. 2022-10-14T23:21:47+01:00 or 2022-10-14T22:21:47Z.",
        "invalid": "Not a valid ISO 8601 date or datetime (e.g. 2022-10-14 or "
        "2022-10-14T23:21:47+01:00).",
        "range": "Out of range: in UTC the time must fall within years 1 to 9999.",
    }

    def _deserialize(self, value: Any, attr, data, **kwargs) -> datetime:
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            if self.require_timezone:
                raise self.make_error("naive")
            try:
                return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
            except ValueError:
                raise self.make_error("invalid") from None
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is None:
            if self.require_timezone:
                raise self.make_error("naive")
            return parsed.replace(tzinfo=UTC)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise self.make_error("range") from None

    def _serialize(self, value: datetime | None, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(UTC).isoformat()


class SortBy(fields.String):
    """``+field,-other``: comma-separated fields, each with its direction.

    Loads to a list of ``(field, descending)``. ``json.<dotted.path>`` is accepted where
    ``allow_json`` is set (results).
    """

    def __init__(self, allowed: list[str], allow_json: bool = False, **kwargs: Any) -> None:
        self.allowed = allowed
        self.allow_json = allow_json
        names = ", ".join(allowed + (["json.<path>"] if allow_json else []))
        kwargs.setdefault(
            "metadata",
            {
                "description": "Comma-separated sort keys, each '+' (ascending) or '-' "
                f"(descending) followed by one of: {names}.",
                "example": f"-{allowed[0]}",
            },
        )
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr, data, **kwargs) -> list[tuple[str, bool]]:
        text = super()._deserialize(value, attr, data, **kwargs)
        keys: list[tuple[str, bool]] = []
        for part in text.split(","):
            if len(part) < 2 or part[0] not in "+-":
                raise ma.ValidationError(
                    f"'{part}' needs a direction: '+{part.lstrip('+-') or 'field'}' or "
                    f"'-{part.lstrip('+-') or 'field'}' (a '+' must be sent as %2B in URLs)."
                )
            name = part[1:]
            if self.allow_json and name.startswith("json."):
                json_path_keys(name.removeprefix("json."))
            elif name not in self.allowed:
                allowed = ", ".join(self.allowed + (["json.<path>"] if self.allow_json else []))
                raise ma.ValidationError(f"Unknown sort field '{name}'; allowed: {allowed}.")
            keys.append((name, part[0] == "-"))
        return keys


#: Characters a key of a JSON path may not hold, besides whitespace and control characters:
#: the key separator, the sort key separator, and the quote and backslash, which SQLite's
#: JSON paths cannot spell (a quoted key ends at the next quote; no escapes).
JSON_KEY_FORBIDDEN = '.,"\\'
JSON_PATH_RULE = (
    "A JSON path is keys separated by single dots (e.g. machine.cpu.count); a key may hold "
    'any character but . , " \\, whitespace and control characters.'
)


def json_path_keys(path: str) -> tuple[str, ...]:
    """The keys of a JSON path in ``filters`` or ``sort_by=json.<path>``.

    Refuses (``ValidationError``) what the documented grammar excludes, so that every key
    reaches the same value through SQLite's JSON1 paths, PostgreSQL's jsonpath and the
    ``result_numbers`` index, with no quoting that could go wrong.
    """
    keys = tuple(path.split("."))
    if not all(keys):
        raise ma.ValidationError(f"The JSON path '{path}' has an empty key. {JSON_PATH_RULE}")
    for character in path:
        if character in JSON_KEY_FORBIDDEN and character != ".":
            problem = f"'{character}'"
        elif character.isspace():
            problem = "whitespace"
        elif unicodedata.category(character) == "Cc":
            problem = f"the control character U+{ord(character):04X}"
        else:
            continue
        raise ma.ValidationError(f"The JSON path '{path}' holds {problem}. {JSON_PATH_RULE}")
    return keys


#: The largest page number any list accepts: the offset of its first item,
#: (page - 1) * per_page, stays far inside the databases' 64-bit integers (a larger page
#: was a 500, "bigint out of range").
MAX_PAGE = 2**31 - 1


class PaginationArgs(Schema):
    page = fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, max=MAX_PAGE),
        metadata={"description": f"Page (1-based, at most {MAX_PAGE})."},
    )
    per_page = fields.Integer(
        load_default=100,
        validate=validate.Range(min=1, max=100),
        metadata={"description": "Items per page (1 to 100)."},
    )


class UploadFilterArgs(Schema):
    upload_before = AwareDateTime(metadata={"description": "Uploaded before this date."})
    upload_after = AwareDateTime(metadata={"description": "Uploaded after this date."})


class StatusArgs(Schema):
    status = fields.Enum(
        ItemStatus,
        load_default=ItemStatus.approved,
        metadata={"description": "Show approved items (default) or those on review."},
    )


class SearchArgs(Schema):
    terms = fields.List(
        fields.String(),
        load_default=list,
        metadata={"description": "Terms that must all appear (case-insensitive substrings)."},
    )


class Uploaded(Schema):
    """What the service adds to an item it stores: its id and when it was uploaded."""

    id = fields.UUID(dump_only=True)
    upload_datetime = AwareDateTime(dump_only=True)


class ReviewedFilterArgs(PaginationArgs, UploadFilterArgs, StatusArgs):
    """What a list of reviewed items (benchmarks, sites, flavors) is filtered by."""


class ReviewedSearchArgs(PaginationArgs, UploadFilterArgs, StatusArgs, SearchArgs):
    """What a search of reviewed items (benchmarks, sites, flavors) takes."""


class Page(Schema):
    """A page of a list: the items plus where the page stands in the whole list."""

    total = fields.Integer(required=True, metadata={"description": "Items matching the query."})
    page = fields.Integer(required=True)
    pages = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    has_next = fields.Boolean(required=True)
    has_prev = fields.Boolean(required=True)
    next_num = fields.Integer(required=True, allow_none=True)
    prev_num = fields.Integer(required=True, allow_none=True)


def page_of(item_schema: type[ma.Schema], name: str) -> type[Page]:
    """The page schema listing ``item_schema`` items (e.g. ``Sites`` for ``Site``)."""
    return type(name, (Page,), {"items": fields.List(fields.Nested(item_schema), required=True)})


class UserRef(Schema):
    """A user as shown inside other resources."""

    sub = fields.String(dump_only=True)
    iss = fields.String(dump_only=True)
    email = fields.Email(dump_only=True)
