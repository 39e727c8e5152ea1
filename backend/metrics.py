"""Prometheus metrics: requests by endpoint and status, their latency, and DB pool usage.

Served at ``/metrics`` when ``METRICS_ENABLED`` is on. Several gunicorn workers are several
processes, each counting on its own; with ``PROMETHEUS_MULTIPROC_DIR`` set, prometheus_client
writes every worker's values to files there and ``/metrics`` adds them up (gunicorn.conf.py
empties the folder at start and tells the library when a worker dies).
"""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy.pool import QueuePool

from backend.extensions import db

_START_ENVIRON_KEY = "backend.metrics.start"

REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, endpoint (URL rule) and status code.",
    ["method", "endpoint", "status"],
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from the start of the request to its response, by method, endpoint and status.",
    ["method", "endpoint", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
POOL = Gauge(
    "db_pool_connections",
    "Database connections of the pool, by engine and state (checked_out: in use; idle; "
    "overflow: beyond the pool size; size: configured size); sampled at each response and "
    "at each scrape, summed over live workers.",
    ["engine", "state"],
    multiprocess_mode="livesum",
)

READS_SERVED_BY = Gauge(
    "db_reads_served_by",
    "Workers whose cookieless reads go to each database (label database: replica, or "
    "primary while the replica is failing; see backend.read_routing). Without "
    "DATABASE_READ_URL it is absent.",
    ["database"],
    multiprocess_mode="livesum",
)
REPLICA_LAG_SECONDS = Gauge(
    "db_replica_lag_seconds",
    "Seconds the read replica's replay is behind (0 when it replayed all it received), "
    "sampled at each scrape; keep READ_YOUR_WRITES_SECONDS above it. Label engine: the "
    "replica's bind, as in db_pool_connections.",
    ["engine"],
    multiprocess_mode="mostrecent",
)
REPLICA_LAG_BYTES = Gauge(
    "db_replica_lag_bytes",
    "Bytes of WAL the primary wrote that the read replica has not replayed, sampled at "
    "each scrape.",
    ["engine"],
    multiprocess_mode="mostrecent",
)


def register_metrics(app: Flask) -> None:
    """Time and count every request of ``app`` (only called when METRICS_ENABLED is on)."""

    @app.before_request
    def start_timer() -> None:
        request.environ[_START_ENVIRON_KEY] = time.perf_counter()

    @app.after_request
    def count_request(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "<unmatched>"
        labels = (request.method, endpoint, str(response.status_code))
        REQUESTS.labels(*labels).inc()
        start = request.environ.get(_START_ENVIRON_KEY)
        if start is not None:
            LATENCY.labels(*labels).observe(time.perf_counter() - start)
        sample_pool_usage()
        return response


def sample_pool_usage() -> None:
    """Record the current app's connection pools in the POOL gauge."""
    for bind, engine in db.engines.items():
        pool = engine.pool
        if not isinstance(pool, QueuePool):
            continue
        name = bind or "default"
        POOL.labels(name, "checked_out").set(pool.checkedout())
        POOL.labels(name, "idle").set(pool.checkedin())
        POOL.labels(name, "overflow").set(max(pool.overflow(), 0))
        POOL.labels(name, "size").set(pool.size())


def sample_replica_lag() -> None:
    """Record the read replica's lag, when there is a PostgreSQL replica that answers."""
    from backend.read_routing import REPLICA, replica_lag  # read_routing imports metrics

    lag = replica_lag(current_app)
    if lag is not None:
        REPLICA_LAG_SECONDS.labels(REPLICA).set(lag[0])
        REPLICA_LAG_BYTES.labels(REPLICA).set(lag[1])


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, with its content type."""
    sample_pool_usage()
    sample_replica_lag()
    registry = REGISTRY
    folder = current_app.config.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=folder)
    return generate_latest(registry), CONTENT_TYPE_LATEST
