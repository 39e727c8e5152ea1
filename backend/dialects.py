"""Everything that differs between SQLite and PostgreSQL, in one place.

The rest of the code base is portable SQLAlchemy. Here: the JSON document column type
(JSONB on PostgreSQL, JSON text on SQLite) and the translation of result JSON filters and
JSON sort keys — jsonpath (``@?``, usable by a GIN index) on PostgreSQL, the JSON1
functions on SQLite. Both translations give the same answers: a document that lacks the
path, or holds a value of another type there, does not match and sorts last.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Numeric,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB, JSONPATH

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
        document = type_coerce(column, JSONB)
        value = document[tuple(path)]
        kind = func.jsonb_typeof(value)
        text = document[tuple(path)].astext
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
