"""The Blueprint every resource module uses: strict query parsing and access levels.

- Unknown query arguments are errors (422), not silently ignored.
- Array arguments accept both ``tags_ids=a&tags_ids=b`` and axios' ``tags_ids[]=a``.
- JSON bodies are strict JSON (no ``NaN``/``Infinity``: 400), and text neither database
  can store (a NUL character, a lone UTF-16 surrogate) is refused (422) wherever it
  appears, as is a query argument that is not UTF-8 once percent-decoded (rather than
  searched for in its percent-encoded spelling, as werkzeug leaves it).
- Rules are full paths (``/benchmarks:search``): v1's colon custom methods cannot be
  joined onto a url_prefix.
- ``@blp.access(level)`` checks the caller before the arguments are parsed, and writes
  the level into the operation's summary and security in the OpenAPI document, so the
  documentation cannot disagree with the check.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from functools import wraps
from urllib.parse import parse_qsl, unquote_to_bytes

import flask_smorest
import marshmallow as ma
from webargs.core import missing
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

from backend import auth
from backend.json_provider import loads_request, unstorable_text

ACCESS_LEVELS: dict[str, tuple[str, Callable[[], object] | None]] = {
    "public": ("Public", None),
    "token": ("OIDC token", auth.token_infos),
    "user": ("Users", auth.current_user),
    "admin": ("Admins", auth.current_admin),
    # Owner-or-admin checks need the resource, so the view completes them.
    "owner_or_admin": ("Owner or admin", auth.current_user),
}


class StrictParser(FlaskParser):
    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": ma.RAISE,
        "querystring": ma.RAISE,
    }

    def load_querystring(self, req, schema):
        args = MultiDict()
        for key, value in req.args.items(multi=True):
            args.add(key.removesuffix("[]"), value)
        return self._makeproxy(args, schema)

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return missing
        body = req.get_data(cache=True)
        try:
            return loads_request(body)
        except RecursionError:
            raise json.JSONDecodeError("JSON nested too deeply", "...", 0) from None

    def pre_load(self, location_data, *, schema, req, location):
        if isinstance(location_data, Mapping):
            problems = {
                str(key): unstorable_text(key) or unstorable_text(value)
                for key, value in location_data.items()
            }
        else:
            problems = {"_schema": unstorable_text(location_data)}
        if location in {"query", "querystring"}:
            problems.update(not_utf8_arguments(req.query_string))
        if any(problems.values()):
            raise ma.ValidationError({k: [v] for k, v in problems.items() if v})
        return location_data


NOT_UTF8_MESSAGE = (
    "Not valid UTF-8 once percent-decoded (a lone surrogate such as %ED%A0%80 is not); "
    "percent-encode the UTF-8 bytes of the text."
)


def not_utf8_arguments(query_string: bytes) -> dict[str, str]:
    """``NOT_UTF8_MESSAGE`` for each query argument whose name or value is not UTF-8.

    Werkzeug leaves such bytes percent-encoded (``%ED%A0%80``), which would then be
    searched for as text. The whole string is tried first: '&' and '=' are never part of
    a multi-byte character, so it is UTF-8 exactly when every argument is.
    """
    try:
        unquote_to_bytes(query_string.replace(b"+", b" ")).decode()
        return {}
    except UnicodeDecodeError:
        pass
    found = {}
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    for name, value in pairs:
        try:
            name.encode("latin-1").decode()
            value.encode("latin-1").decode()
        except UnicodeDecodeError:
            found[name.encode("latin-1").decode(errors="replace").removesuffix("[]")] = (
                NOT_UTF8_MESSAGE
            )
    return found


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictParser()

    def arguments(self, schema, **kwargs):
        """flask-smorest's ``arguments``, with a schema class instantiated once here:
        webargs makes a new instance of a class on every request (about 0.2 ms of a
        page's worker CPU), where an instance is used as it is (schemas keep no state
        between loads)."""
        return super().arguments(schema() if isinstance(schema, type) else schema, **kwargs)

    def access(self, level: str):
        """Require an access level (public, token, user, admin, owner_or_admin)."""
        label, check = ACCESS_LEVELS[level]

        def decorator(func):
            @wraps(func)
            def wrapper(*args, **kwargs):
                if check is not None:
                    check()
                return func(*args, **kwargs)

            summary = (func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else ""
            doc: dict = {
                "summary": f"({label}) {summary}".strip(),
                "operationId": f"{self.name}.{func.__name__}",
            }
            if check is not None:
                doc["security"] = [{"bearerAuth": []}]
                doc["responses"] = {"401": "UNAUTHORIZED"}
                if level != "token":
                    doc["responses"]["403"] = "FORBIDDEN"
            else:
                doc["security"] = []
            return self.doc(**doc)(wrapper)

        return decorator


class UUIDConverter(BaseConverter):
    """``<uuid:...>`` path parts: a malformed id is a 404 that says what is wrong.

    Colons end the part, so ``/results/<id>:claim`` routes to the custom method.
    """

    regex = r"[^/:]+"

    def to_python(self, value: str) -> uuid.UUID:
        try:
            return uuid.UUID(value)
        except ValueError:
            raise NotFound(f"'{value}' is not a valid id; ids are UUIDs.") from None

    def to_url(self, value: uuid.UUID) -> str:
        return str(value)


class ExperimentIdConverter(BaseConverter):
    """``<experiment:...>`` path parts: an id no experiment can have (over 200 characters,
    unprintable, NUL) is a 404 before any query, as a malformed UUID is. A colon is let
    through, so that a write names the seed's rule against it (422)."""

    regex = r"[^/]+"
    max_length = 200

    def to_python(self, value: str) -> str:
        if len(value) > self.max_length or not value.isprintable():
            raise NotFound(
                "No such experiment: experiment ids are 1 to 200 printable characters "
                "without '/' or ':'."
            )
        return value
