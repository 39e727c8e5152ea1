"""Gunicorn settings for the service, from the environment (documented in .env.example).

``entrypoint.sh`` starts gunicorn with this file. Logs are JSON lines like the
application's (``LOG_FORMAT=text`` for plain ones): access lines on stdout with the request
id, status and duration; gunicorn's own messages on stderr. On SIGTERM gunicorn stops
accepting connections and gives running requests ``GUNICORN_GRACEFUL_TIMEOUT`` seconds.
"""

from __future__ import annotations

import gc
import logging
import os
import tempfile
import time
from pathlib import Path

import orjson
from gunicorn import glogging

from backend.json_logging import BufferedLines, JsonFormatter, UtcMilliseconds


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


bind = os.environ.get("GUNICORN_BIND") or "0.0.0.0:5000"
# 4 x 2 on 2 cores: more throughput and a lower p99 than 2 x 4 for small requests and
# pages alike (docs/scaling.md, "Gunicorn"); threads of one worker share its GIL.
workers = _int("WEB_CONCURRENCY", 4)
threads = _int("GUNICORN_THREADS", 2)
# Seconds of silence before the arbiter restarts a stuck worker (with threads, one slow
# request alone does not silence a worker).
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 0)
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = (os.environ.get("LOG_LEVEL") or "info").lower()
# Heartbeat files on a RAM disk: a container's overlay filesystem can stall the workers.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# The application's ProxyFix (PROXY_FIX_*) alone decides which X-Forwarded-* to trust.
forwarded_allow_ips = ""
proc_name = "eosc-perf-backend"
# No runtime control socket (gunicorn >= 25.1): containers are managed from outside, and
# replicas on one host would share its default path.
control_socket_disable = True

_JSON = (os.environ.get("LOG_FORMAT") or "json").lower() == "json"
_METRICS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
# backend.response_cache.EPOCH_FILE_VARIABLE (not imported: the master stays light).
EPOCH_FILE_VARIABLE = "CATALOGUE_EPOCH_FILE"


class JsonLogger(glogging.Logger):
    """Gunicorn's logger, writing JSON lines; access lines carry the request's fields.

    Access lines are the JSON ``JsonFormatter`` would write, built directly (orjson, the
    time's seconds formatted once per second) and written in batches by the worker
    (``BufferedLines``: every 0.2 s, and at the worker's exit): through ``logging`` with a
    write per line they cost about 26 µs a request, 8% of a cached catalogue answer.
    """

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter())
        handlers = self.access_log.handlers
        self._access_lines = (
            BufferedLines(lambda: handlers[0].stream)
            if handlers and isinstance(handlers[0], logging.StreamHandler)
            else None
        )
        self._access_time = UtcMilliseconds()

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        status = resp.status_code or int(str(resp.status).split(None, 1)[0])
        method = environ.get("REQUEST_METHOD")
        fields = {
            "request_id": next(
                (value for name, value in resp.headers if name.lower() == "x-request-id"),
                None,
            ),
            "method": method,
            "path": req.path,
            "query": req.query or None,
            "status": status,
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "bytes": getattr(resp, "sent", None),
            "remote_addr": environ.get("REMOTE_ADDR"),
            "user_agent": environ.get("HTTP_USER_AGENT"),
        }
        if self._access_lines is None:
            self.access_log.info("%s %s %s", method, req.path, status, extra=fields)
            return
        line = {
            "time": self._access_time(time.time()),
            "level": "INFO",
            "logger": self.access_log.name,
            "message": f"{method} {req.path} {status}",
            **fields,
        }
        self._access_lines.write(orjson.dumps(line, default=str).decode())

    def flush_access(self) -> None:
        if self._access_lines is not None:
            self._access_lines.flush()


if _JSON:
    logger_class = JsonLogger
else:
    access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'


def post_worker_init(worker) -> None:
    """Move what the worker loaded (the app and its libraries, about 140,000 long-lived
    objects) out of the garbage collector's sight: otherwise every full collection walks
    them all again, which showed as 30-100 ms pauses in the p99 of large result pages.

    And collect the young generation every 10,000 allocations instead of 700: a request's
    objects mostly die before the next collection then instead of being walked and
    promoted; an export parsing its documents spent a third of its parsing time in the
    collector with the default (3 µs of 9 per result)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def on_starting(server) -> None:
    """Give the workers their shared catalogue write epoch (``backend.response_cache``), and
    start metrics from zero: the multi-process folder may hold a previous run's files."""
    epoch = tempfile.NamedTemporaryFile(  # noqa: SIM115 (removed in on_exit)
        prefix="catalogue-epoch-", dir=worker_tmp_dir, delete=False
    )
    epoch.write(bytes(8))
    epoch.close()
    os.environ[EPOCH_FILE_VARIABLE] = epoch.name
    if _METRICS_DIR:
        folder = Path(_METRICS_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()


def worker_exit(server, worker) -> None:
    """Write the access lines the worker still holds."""
    flush = getattr(worker.log, "flush_access", None)
    if flush is not None:
        flush()


def on_exit(server) -> None:
    epoch = os.environ.pop(EPOCH_FILE_VARIABLE, None)
    if epoch:
        Path(epoch).unlink(missing_ok=True)


def child_exit(server, worker) -> None:
    """Drop a dead worker's live gauges (its counters stay, as they should)."""
    if _METRICS_DIR:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
