"""JSON through orjson: Flask's responses, request bodies and import lines, and the
documents the database driver reads and writes.

A page of 100 results is about 350 KB of JSON (each item nests its benchmark, whose JSON
Schema alone is over 1 KB); the standard library's encoder spends several milliseconds on
it, orjson well under one, and an import parses and writes thousands of documents a
second. Output keeps Flask's conventions (sorted keys, RFC 822 dates for raw datetimes,
compact unless in debug mode). Wherever orjson would answer differently from the standard
library (integers beyond 64 bits, which it rounds or refuses), the standard library does
the work, so nothing that worked stops working.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


#: Every digit as "0", every other byte as " ": a text holding a run of 19 digits (maybe
#: an integer orjson would read as a float, beyond 64 bits: below -2**63 it takes 19, above
#: 2**64 20; or just a long number in a string) then holds ``_DIGIT_RUN``, and the standard
#: library reads it, exactly. Mapping and searching cost about 1.4 us for a 1.2 KB
#: document, a regular expression 12 us.
_DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_DIGIT_RUN = b"0" * 19


def _has_long_digit_run(data: bytes) -> bool:
    return _DIGIT_RUN in data.translate(_DIGITS_AS_ZEROS)


def loads(text: str | bytes) -> Any:
    """Parse a stored JSON document (engine ``json_deserializer``): orjson, or the standard
    library for integers beyond 64 bits, which JSONB holds exactly and orjson would round."""
    data = text.encode() if isinstance(text, str) else text
    if _has_long_digit_run(data):
        return json.loads(data)
    return orjson.loads(data)


def dumps(document: Any) -> str:
    """Serialise a document for the database (engine ``json_serializer``): orjson, or the
    standard library for what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(document).decode()
    except orjson.JSONEncodeError:
        return json.dumps(document)


def loads_request(text: str | bytes) -> Any:
    """Parse JSON sent by a client (an upload body, an import line) as strictly as the
    database stores it: no NaN or Infinity, no number too large for a double. orjson reads
    it, unless it holds a long run of digits (orjson would round a big integer) or orjson
    refuses it: the standard library then reads it (lone surrogate escapes, for one), so
    the answer never depends on which parser ran. Raises ``json.JSONDecodeError``."""
    data = text.encode() if isinstance(text, str) else text
    if not _has_long_digit_run(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data, parse_constant=_refuse_constant, parse_float=_finite_float)


NUL_MESSAGE = "Text must not contain NUL (\\u0000) characters."
SURROGATE_MESSAGE = (
    "Text must not contain lone UTF-16 surrogates (\\ud800 to \\udfff outside a high-low "
    "pair): they encode no character. Send the character itself, or its surrogate pair."
)
#: Lone surrogates: what Python's json reads from a \ud800-\udfff escape without its
#: partner (orjson refuses them), and from the bytes ED A0-BF xx (it decodes with
#: ``surrogatepass``).
_SURROGATE = re.compile("[\ud800-\udfff]")


def unstorable_text(value: Any) -> str | None:
    """Why text anywhere in a parsed JSON value (keys included) cannot be stored, or None:
    a NUL character (``NUL_MESSAGE``), which PostgreSQL can store neither in text nor in
    JSONB, or a lone surrogate (``SURROGATE_MESSAGE``), which is not UTF-8 at all, so that
    neither PostgreSQL nor sqlite3 can take it. SQLite is held to the same rule, so that
    both databases accept the same data. A stack, not recursion: it runs on request
    bodies before anything has checked how deeply they nest."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return NUL_MESSAGE
            if not item.isascii() and _SURROGATE.search(item):
                return SURROGATE_MESSAGE
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def may_hold_unstorable_text(raw: str | bytes) -> bool:
    """Whether JSON text could parse to something ``unstorable_text`` refuses: a cheap
    test on the raw line (a NUL or surrogate escape, raw surrogate bytes, or a str that is
    not ASCII), so that the import walks only the few documents that need it."""
    if isinstance(raw, bytes):
        return b"\\u0000" in raw or b"\\ud" in raw or b"\\uD" in raw or b"\xed" in raw
    return "\\u0000" in raw or "\\ud" in raw or "\\uD" in raw or not raw.isascii()


def _refuse_constant(name: str) -> NoReturn:
    """Python's json reads NaN and Infinity; JSON (and so clients and PostgreSQL) cannot."""
    raise json.JSONDecodeError(f"{name} is not valid JSON", name, 0)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise json.JSONDecodeError(f"the number {text[:40]} is too large", text, 0)
    return value


class OrjsonProvider(DefaultJSONProvider):
    """``app.json``: dumps and responses through orjson, loads as Flask does."""

    def _orjson(self, obj: Any, indent: bool) -> bytes | None:
        options = _OPTIONS | (orjson.OPT_INDENT_2 if indent else 0)
        try:
            return orjson.dumps(obj, default=self.default, option=options)
        except orjson.JSONEncodeError:
            return None

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs.keys() - {"separators"}:
            return super().dumps(obj, **kwargs)
        encoded = self._orjson(obj, indent=False)
        return encoded.decode() if encoded is not None else super().dumps(obj, **kwargs)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        indent = (self.compact is None and self._app.debug) or self.compact is False
        encoded = self._orjson(obj, indent=bool(indent))
        if encoded is None:
            return super().response(*args, **kwargs)
        return self._app.response_class(encoded + b"\n", mimetype=self.mimetype)
