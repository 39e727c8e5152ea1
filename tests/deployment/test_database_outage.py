"""PostgreSQL stops and starts again under a running service (a private cluster of this
test's own, never the shared server): readiness and the API answer 503 meanwhile, quickly,
and recover by themselves."""

from __future__ import annotations

import time

import flask_migrate
import pytest
from sqlalchemy import text

from backend import create_app
from backend.extensions import db
from tests.deployment.processes import private_postgres


def test_readiness_and_the_api_follow_the_database_down_and_up(app_settings):
    with private_postgres() as cluster:
        app = create_app(
            **{
                **app_settings,
                "DATABASE_URL": cluster.url,
                "DB_CONNECT_TIMEOUT": 2,
                "NOTIFICATIONS_DELIVERY": "off",
            }
        )
        with app.app_context():
            flask_migrate.upgrade()
        client = app.test_client()
        assert client.get("/ready").status_code == 200
        assert client.get("/benchmarks").status_code == 200

        cluster.stop()
        started = time.monotonic()
        ready = client.get("/ready")
        listing = client.get("/benchmarks")
        assert time.monotonic() - started < 10

        assert ready.status_code == 503
        assert ready.json["code"] == 503
        assert ready.json["message"].startswith("The database is unreachable")
        assert listing.status_code == 503
        assert listing.json == {
            "code": 503,
            "status": "Service Unavailable",
            "message": "The database is unavailable right now; please retry shortly.",
        }
        assert client.get("/health").status_code == 200

        cluster.start()
        assert client.get("/ready").status_code == 200
        assert client.get("/benchmarks").status_code == 200

        with app.app_context():
            db.engine.dispose()


def _app_with_one_connection(app_settings, ping_after_idle: float):
    """An app whose pool holds one connection; its server process id."""
    app = create_app(**{**app_settings, "DB_PING_AFTER_IDLE": ping_after_idle})
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("needs a database server whose connections can be cut")
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        db.session.remove()
    return app, pid


def _cut(pid: int) -> None:
    """End that server process, as a restart or a proxy's idle timeout would."""
    with db.engine.connect() as connection:
        assert connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


def test_an_idle_connection_that_died_is_replaced_before_the_request(app_settings):
    app, pid = _app_with_one_connection(app_settings, ping_after_idle=0)
    _cut(pid)
    time.sleep(0.05)

    assert app.test_client().get("/benchmarks").status_code == 200
    with app.app_context():
        assert db.session.scalar(text("SELECT pg_backend_pid()")) != pid
        db.engine.dispose()


def test_a_busy_connection_is_not_checked_and_one_failure_renews_the_pool(app_settings):
    app, pid = _app_with_one_connection(app_settings, ping_after_idle=3600)
    client = app.test_client()
    _cut(pid)
    time.sleep(0.05)

    assert client.get("/benchmarks").status_code == 503
    assert client.get("/benchmarks").status_code == 200
    with app.app_context():
        db.engine.dispose()
