"""One JSON object per log line, for the application and gunicorn alike.

A log collector then parses every line the container prints without a per-source grammar:
each has ``time``, ``level``, ``logger`` and ``message``; lines written while a request is
handled also carry its ``request_id``, ``method`` and ``path``; gunicorn's access lines add
``status`` and ``duration_ms`` (see ``gunicorn.conf.py``).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from flask import has_request_context, request

#: Where the request id of the current request is kept (``request.environ``, not ``g``:
#: tests reuse one app context, and so ``g``, across many requests).
REQUEST_ID_ENVIRON_KEY = "backend.request_id"

#: Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(
    set(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))) | {"message", "asctime"}
)


def request_fields() -> dict[str, Any]:
    """The current request's id, method and path; empty outside a request."""
    if not has_request_context():
        return {}
    return {
        "request_id": request.environ.get(REQUEST_ID_ENVIRON_KEY),
        "method": request.method,
        "path": request.path,
    }


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON (``extra=`` fields included, exceptions as text)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(request_fields())
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)
