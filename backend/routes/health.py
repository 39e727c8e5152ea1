"""Endpoints for the platform rather than for API clients (not in the OpenAPI document).

- ``GET /health``: the process is alive (liveness probes; touches no dependency, so a
  database outage does not get healthy replicas restarted).
- ``GET /ready``: the database is reachable and its schema is at the migrations' head
  (readiness probes, load balancers); 503 with the reason otherwise, within a few seconds
  even when the database hangs.
- ``GET /metrics``: Prometheus metrics, when ``METRICS_ENABLED`` is on (404 otherwise).
"""

from __future__ import annotations

from functools import cache

from alembic.script import ScriptDirectory
from flask import Blueprint, Response, abort, current_app, jsonify
from sqlalchemy import inspect, text
from sqlalchemy.exc import SQLAlchemyError

from backend.db_connections import unresponsive_server
from backend.errors import error_body, first_line
from backend.extensions import db

blp = Blueprint("health", __name__)


@blp.route("/health")
def health():
    return {"status": "ok"}


@blp.route("/ready")
def ready():
    problem = readiness_problem()
    if problem:
        return jsonify(error_body(503, problem)), 503
    return {"status": "ready"}


@blp.route("/metrics")
def metrics():
    if not current_app.config["METRICS_ENABLED"]:
        abort(404)
    from backend.metrics import exposition

    body, content_type = exposition()
    return Response(body, content_type=content_type)


def readiness_problem() -> str | None:
    """Why this replica should not get traffic yet, or None when it is ready.

    A server that accepts connections but answers nothing would hold the check for as long
    as it hangs; it is probed first, so the answer comes within DB_UNRESPONSIVE_TIMEOUT.
    """
    silent = unresponsive_server(db.engine)
    if silent:
        return f"The database is unreachable: {silent}"
    try:
        with db.engine.connect() as connection:
            current = applied_revisions(connection)
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
