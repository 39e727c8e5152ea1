"""The Blueprint every resource module uses: strict query parsing and access levels.

- Unknown query arguments are errors (422), not silently ignored.
- Array arguments accept both ``tags_ids=a&tags_ids=b`` and axios' ``tags_ids[]=a``.
- JSON bodies are strict JSON (no ``NaN``/``Infinity``: 400), and text holding a NUL
  character is refused (422) wherever it appears: PostgreSQL can store neither.
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

import flask_smorest
import marshmallow as ma
from webargs.core import missing
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

from backend import auth
from backend.json_provider import NUL_MESSAGE, has_nul, loads_request

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
            names = [str(k) for k, v in location_data.items() if has_nul(k) or has_nul(v)]
        else:
            names = ["_schema"] if has_nul(location_data) else []
        if names:
            raise ma.ValidationError({name: [NUL_MESSAGE] for name in names})
        return location_data


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictParser()

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
