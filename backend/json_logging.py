"""One JSON object per log line, for the application and gunicorn alike.

A log collector then parses every line the container prints without a per-source grammar:
each has ``time``, ``level``, ``logger`` and ``message``; lines written while a request is
handled also carry its ``request_id``, ``method`` and ``path``; gunicorn's access lines add
``status`` and ``duration_ms`` (see ``gunicorn.conf.py``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

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


class BufferedLines:
    """Lines written to a stream in batches: at most every ``interval`` seconds (a daemon
    thread), when ``max_bytes`` are waiting, and at ``flush()`` (worker exit).

    For gunicorn's access log: a write and a flush per request cost more than the rest of
    a cached answer's logging (``gunicorn.conf.py``). A worker killed outright loses at
    most ``interval`` seconds of lines; one that exits normally loses none.
    """

    def __init__(
        self,
        stream: Callable[[], IO[str]],
        interval: float = 0.2,
        max_bytes: int = 64 * 1024,
    ) -> None:
        self._stream = stream
        self._interval = interval
        self._max_bytes = max_bytes
        self._lines: list[str] = []
        self._size = 0
        self._lock = threading.Lock()
        self._thread_pid: int | None = None

    def write(self, line: str) -> None:
        if self._thread_pid != os.getpid():  # one flushing thread per (forked) process
            self._thread_pid = os.getpid()
            threading.Thread(target=self._flush_regularly, name="log-flush", daemon=True).start()
        with self._lock:
            self._lines.append(line)
            self._size += len(line)
            full = self._size >= self._max_bytes
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            lines, self._lines, self._size = self._lines, [], 0
        if lines:
            stream = self._stream()
            stream.write("\n".join(lines) + "\n")
            stream.flush()

    def _flush_regularly(self) -> None:
        while True:
            time.sleep(self._interval)
            with contextlib.suppress(OSError, ValueError):  # stream closed or being reopened
                self.flush()


class UtcMilliseconds:
    """``datetime.now(UTC).isoformat(timespec="milliseconds")`` at a fraction of its cost
    (the seconds part is formatted once per second)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, now: float) -> str:
        second = int(now)
        if second != self._second:
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = second
        return f"{self._prefix}.{int((now - second) * 1000):03d}+00:00"
