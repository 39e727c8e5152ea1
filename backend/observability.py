"""What an operator sees of a running service: request ids, JSON logs and metrics.

- Every request gets an id: the caller's ``X-Request-ID`` when it is short and plain (a
  proxy's or a client's, so one id follows a request across systems), otherwise a new one.
  It is returned in the response's ``X-Request-ID`` and written on every log line of the
  request, and gunicorn's access line carries it too.
- Logs go to stderr, one JSON object per line (``LOG_FORMAT=text`` for a terminal).
- Prometheus metrics when ``METRICS_ENABLED`` is on (see ``backend.metrics``).
"""

from __future__ import annotations

import logging
import re
import sys
import uuid

from flask import Flask, Response, request

from backend.json_logging import REQUEST_ID_ENVIRON_KEY, JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"

#: What a caller's request id may look like; anything else is replaced, so that nothing a
#: client sends can forge log fields or bloat every log line.
_ACCEPTED_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=@-]{1,128}")


def register_observability(app: Flask) -> None:
    """Give ``app`` request ids, its log handler and (when enabled) metrics."""
    configure_log_output(app)

    @app.before_request
    def assign_request_id() -> None:
        request_id()

    @app.after_request
    def return_request_id(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = request_id()
        return response

    if app.config["METRICS_ENABLED"]:
        from backend.metrics import register_metrics

        register_metrics(app)


def request_id() -> str:
    """The current request's id, chosen on first use."""
    environ = request.environ
    if REQUEST_ID_ENVIRON_KEY not in environ:
        environ[REQUEST_ID_ENVIRON_KEY] = chosen_request_id(
            request.headers.get(REQUEST_ID_HEADER, "")
        )
    return environ[REQUEST_ID_ENVIRON_KEY]


def chosen_request_id(offered: str) -> str:
    """``offered`` (the caller's X-Request-ID) when it is short and plain, else a new id."""
    return offered if _ACCEPTED_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex


class _ServiceLogHandler(logging.StreamHandler):
    """The one handler the service adds to the root logger (so it is added only once).

    It writes to whatever ``sys.stderr`` is when a record comes, not the stream of the day
    it was made, so a replaced stderr (pytest's capture, say) is followed, not kept open.
    """

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        """Ignored: the stream is always the current ``sys.stderr``."""


def configure_log_output(app: Flask) -> None:
    """Send log records to stderr in the configured format.

    Tests leave the root logger to pytest, which captures records itself. Alembic's INFO
    lines are kept so that the migrations a start-up runs are visible in the logs.
    """
    if app.testing:
        return
    formatter: logging.Formatter = (
        JsonFormatter()
        if app.config["LOG_FORMAT"].lower() == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _ServiceLogHandler)), None)
    if handler is None:
        handler = _ServiceLogHandler()
        root.addHandler(handler)
    handler.setFormatter(formatter)
    logging.getLogger("alembic").setLevel(logging.INFO)
