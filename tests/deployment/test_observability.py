"""Readiness, JSON log lines, metrics, and the 503 answer when the database is away."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from backend import create_app
from backend.errors import database_unavailable
from backend.json_logging import JsonFormatter

#: A PostgreSQL URL nothing answers (port 9 is "discard"; nobody runs PostgreSQL there).
UNREACHABLE = "postgresql://postgres@127.0.0.1:9/postgres"


@pytest.fixture
def unreachable_app(app_settings):
    return create_app(**{**app_settings, "DATABASE_URL": UNREACHABLE})


def test_ready_when_the_database_is_migrated(client):
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json == {"status": "ready"}


def test_not_ready_before_the_migrations(app_settings, tmp_path):
    app = create_app(**{**app_settings, "DATABASE_URL": f"sqlite:///{tmp_path}/empty.db"})
    response = app.test_client().get("/ready")
    assert response.status_code == 503
    assert response.json["message"].startswith("The database schema is at no revision")
    assert "flask --app backend db upgrade" in response.json["message"]


def test_not_ready_when_the_database_is_unreachable(unreachable_app):
    response = unreachable_app.test_client().get("/ready")
    assert response.status_code == 503
    assert response.json["message"].startswith("The database is unreachable: connection")


def test_the_api_answers_503_json_when_the_database_is_unreachable(unreachable_app):
    client = unreachable_app.test_client()
    response = client.get("/benchmarks", headers={"X-Request-ID": "db-down-1"})
    assert response.status_code == 503
    assert response.json["code"] == 503
    assert response.json["message"] == (
        "The database is unavailable right now; please retry shortly."
    )
    assert response.headers["X-Request-ID"] == "db-down-1"
    assert client.get("/health").status_code == 200


class ServerError(Exception):
    """What psycopg2 raises for an error the server reported, with its SQLSTATE."""

    def __init__(self, pgcode: str) -> None:
        super().__init__(f"server error {pgcode}")
        self.pgcode = pgcode


@pytest.mark.parametrize(
    ("sqlstate", "unavailable"),
    [
        ("08006", True),  # connection failure
        ("40P01", True),  # deadlock detected: retry
        ("53300", True),  # too many connections
        ("57P01", True),  # admin shutdown
        ("57P03", True),  # the database system is starting up
        ("54000", False),  # program limit exceeded (a value too large for an index)
    ],
)
def test_only_passing_database_trouble_is_a_503(sqlstate, unavailable):
    error = OperationalError("SELECT 1", {}, ServerError(sqlstate))
    assert database_unavailable(error) is unavailable


def test_a_missing_sqlite_table_is_a_bug_not_an_outage():
    engine = create_engine("sqlite://")
    with pytest.raises(OperationalError) as caught, engine.connect() as connection:
        connection.execute(text("SELECT * FROM nowhere"))
    assert not database_unavailable(caught.value)


def test_db_wait_gives_up_after_its_timeout_naming_the_database(unreachable_app, caplog):
    with unreachable_app.app_context():
        result = unreachable_app.test_cli_runner().invoke(args=["db-wait", "--timeout", "1"])
    assert result.exit_code == 1
    assert "127.0.0.1:9/postgres was not reachable within 1 s" in caplog.text
    assert "Check DATABASE_URL" in caplog.text


def test_db_wait_returns_at_once_when_the_database_answers(app):
    result = app.test_cli_runner().invoke(args=["db-wait", "--timeout", "5"])
    assert result.exit_code == 0


def log_line(logger_name: str, emit) -> dict:
    """Run ``emit(logger)`` with a JSON handler on the logger; the one line, parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    return json.loads(line)


def test_a_log_line_is_one_json_object_with_the_request_fields(app):
    with app.test_request_context("/benchmarks?page=2", headers={"X-Request-ID": "log-1"}):
        app.preprocess_request()
        line = log_line("backend.test", lambda log: log.warning("Slow %s", "thing"))
    assert line["level"] == "WARNING"
    assert line["logger"] == "backend.test"
    assert line["message"] == "Slow thing"
    assert (line["request_id"], line["method"], line["path"]) == ("log-1", "GET", "/benchmarks")
    assert datetime.fromisoformat(line["time"]).utcoffset().total_seconds() == 0


def test_a_log_line_outside_a_request_has_extras_and_the_exception():
    def emit(log):
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("Failed", extra={"attempt": 3})

    line = log_line("backend.test", emit)
    assert "request_id" not in line
    assert line["attempt"] == 3
    assert line["exception"].startswith("Traceback") and "ValueError: boom" in line["exception"]


def test_metrics_are_off_by_default(client):
    response = client.get("/metrics")
    assert response.status_code == 404
    assert response.json["code"] == 404


def test_metrics_count_requests_by_endpoint_and_status(app_settings):
    client = create_app(**{**app_settings, "METRICS_ENABLED": True}).test_client()
    client.get("/benchmarks")
    client.get("/benchmarks?unknown=1")
    client.get("/benchmarks/00000000-0000-0000-0000-000000000000")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text = response.text
    assert 'http_requests_total{endpoint="/benchmarks",method="GET",status="200"}' in text
    assert 'http_requests_total{endpoint="/benchmarks",method="GET",status="422"}' in text
    assert (
        'http_requests_total{endpoint="/benchmarks/<uuid:benchmark_id>",method="GET",status="404"}'
    ) in text
    assert 'http_request_duration_seconds_bucket{endpoint="/benchmarks",le="0.1"' in text
    assert 'db_pool_connections{engine="default",state="checked_out"}' in text
