"""PostgreSQL stops and starts again under a running service (a private cluster of this
test's own, never the shared server): readiness and the API answer 503 meanwhile, quickly,
and recover by themselves."""

from __future__ import annotations

import time

import flask_migrate

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
