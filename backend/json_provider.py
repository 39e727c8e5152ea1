"""Flask's JSON responses written by orjson.

A page of 100 results is about 350 KB of JSON (each item nests its benchmark, whose JSON
Schema alone is over 1 KB); the standard library's encoder spends several milliseconds on
it, orjson well under one. Output keeps Flask's conventions (sorted keys, RFC 822 dates for
raw datetimes, compact unless in debug mode); anything orjson refuses (integers beyond 64
bits, say) is written by Flask's own encoder instead, so nothing that worked stops working.
Request bodies are still parsed by the standard library, which is lenient in the same ways
as before (NaN, for instance). ``loads`` reads stored documents for the database driver.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def loads(text: str | bytes) -> Any:
    """Parse a stored JSON document (engine ``json_deserializer``): orjson, or the standard
    library for what orjson refuses (integers beyond 64 bits, which JSONB may hold)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


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
