"""Endpoints for the platform rather than for API clients (not in the OpenAPI document).

- ``GET /health``: the process is alive (liveness probes; touches no dependency, so a
  database outage does not get healthy replicas restarted).
- ``GET /ready``: this instance can serve reads (readiness probes, load balancers): the
  database is reachable and its schema is at the migrations' head; 503 with the reason
  otherwise, within a few seconds even when the database hangs. With a read replica
  (``DATABASE_READ_URL``), 503 only when neither database can serve: one failing
  database still lets the instance serve reads (the primary takes the reads of a failing
  replica; a replica serves reads while the primary is down, writes answer 503), so it
  answers 200 with ``"failing": {"primary" or "replica": reason}`` for the people and
  alerts that read the body; load balancers look at the status only.
- ``GET /metrics``: Prometheus metrics, when ``METRICS_ENABLED`` is on (404 otherwise).
"""

from __future__ import annotations

from functools import cache

from alembic.script import ScriptDirectory
from flask import Blueprint, Response, abort, current_app, jsonify
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from backend.db_connections import unresponsive_server
from backend.errors import error_body, first_line
from backend.extensions import db
from backend.read_routing import REPLICA, replica_breaker

blp = Blueprint("health", __name__)


@blp.route("/health")
def health():
    return {"status": "ok"}


@blp.route("/ready")
def ready():
    if REPLICA not in db.engines:
        problem = readiness_problem(db.engine)
        if problem:
            return jsonify(error_body(503, problem)), 503
        return {"status": "ready"}
    failing = {
        name: problem
        for name, engine in (("primary", db.engine), ("replica", db.engines[REPLICA]))
        if (problem := readiness_problem(engine))
    }
    if "replica" in failing:
        breaker = replica_breaker(current_app)
        if breaker is not None:
            breaker.replica_failed(failing["replica"])
    if len(failing) == 2:
        reasons = "; ".join(f"{name}: {problem}" for name, problem in failing.items())
        return jsonify(error_body(503, f"Neither database can serve reads. {reasons}")), 503
    if failing:
        return {"status": "ready", "failing": failing}
    return {"status": "ready"}


@blp.route("/metrics")
def metrics():
    if not current_app.config["METRICS_ENABLED"]:
        abort(404)
    from backend.metrics import exposition

    body, content_type = exposition()
    return Response(body, content_type=content_type)


def readiness_problem(engine: Engine) -> str | None:
    """Why ``engine``'s database cannot serve this instance's requests, or None.

    A server that accepts connections but answers nothing would hold the check for as long
    as it hangs; it is probed first, so the answer comes within DB_UNRESPONSIVE_TIMEOUT.
    """
    silent = unresponsive_server(engine)
    if silent:
        return f"The database is unreachable: {silent}"
    try:
        current = _applied_revisions(engine)
    except SQLAlchemyError as error:
        return f"The database is unreachable: {first_line(getattr(error, 'orig', error))}"
    expected = migration_heads(current_app.extensions["migrate"].directory)
    if current != expected:
        found = ", ".join(sorted(current)) or "no revision"
        return (
            f"The database schema is at {found} but the code expects "
            f"{', '.join(sorted(expected))}; run 'flask --app backend db upgrade'."
        )
    return None


def _applied_revisions(engine: Engine) -> set[str]:
    """applied_revisions, asked again once if a pooled connection turns out dead (the
    server restarted since): the pool has been renewed, and the answer is the new one's."""
    try:
        with engine.connect() as connection:
            return applied_revisions(connection)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
    with engine.connect() as connection:
        return applied_revisions(connection)


def applied_revisions(connection) -> set[str]:
    """The revision(s) recorded in the database's ``alembic_version`` table (Alembic's
    MigrationContext would do, but logs two INFO lines per call: once per probe)."""
    if not inspect(connection).has_table("alembic_version"):
        return set()
    return set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


@cache
def migration_heads(directory: str) -> set[str]:
    """The head revision(s) of the migration scripts (read once: they ship with the code)."""
    return set(ScriptDirectory(directory).get_heads())
