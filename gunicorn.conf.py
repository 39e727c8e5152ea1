"""Gunicorn settings for the service, from the environment (documented in .env.example).

``entrypoint.sh`` starts gunicorn with this file. Logs are JSON lines like the
application's (``LOG_FORMAT=text`` for plain ones): access lines on stdout with the request
id, status and duration; gunicorn's own messages on stderr. On SIGTERM gunicorn stops
accepting connections and gives running requests ``GUNICORN_GRACEFUL_TIMEOUT`` seconds.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

from gunicorn import glogging

from backend.json_logging import JsonFormatter


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


bind = os.environ.get("GUNICORN_BIND") or "0.0.0.0:5000"
workers = _int("WEB_CONCURRENCY", 2)
threads = _int("GUNICORN_THREADS", 4)
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


class JsonLogger(glogging.Logger):
    """Gunicorn's logger, writing JSON lines; access lines carry the request's fields."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        status = int(str(resp.status).split(None, 1)[0])
        self.access_log.info(
            "%s %s %s",
            environ.get("REQUEST_METHOD"),
            req.path,
            status,
            extra={
                "request_id": next(
                    (value for name, value in resp.headers if name.lower() == "x-request-id"),
                    None,
                ),
                "method": environ.get("REQUEST_METHOD"),
                "path": req.path,
                "query": req.query or None,
                "status": status,
                "duration_ms": round(request_time.total_seconds() * 1000, 1),
                "bytes": getattr(resp, "sent", None),
                "remote_addr": environ.get("REMOTE_ADDR"),
                "user_agent": environ.get("HTTP_USER_AGENT"),
            },
        )


if _JSON:
    logger_class = JsonLogger
else:
    access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'


def post_worker_init(worker) -> None:
    """Move what the worker loaded (the app and its libraries, about 140,000 long-lived
    objects) out of the garbage collector's sight: otherwise every full collection walks
    them all again, which showed as 30-100 ms pauses in the p99 of large result pages."""
    gc.collect()
    gc.freeze()


def on_starting(server) -> None:
    """Start metrics from zero: the multi-process folder may hold a previous run's files."""
    if _METRICS_DIR:
        folder = Path(_METRICS_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()


def child_exit(server, worker) -> None:
    """Drop a dead worker's live gauges (its counters stay, as they should)."""
    if _METRICS_DIR:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
