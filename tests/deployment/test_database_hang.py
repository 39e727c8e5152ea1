"""PostgreSQL freezes under a running service (SIGSTOP on every process of a private cluster
of this test's own: the kernel still accepts connections and acknowledges data, but nothing
answers). Requests and readiness answer 503 within seconds instead of waiting with it, and
everything works again once it thaws, without a restart."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import flask_migrate
import pytest
from click.testing import CliRunner
from flask.cli import FlaskGroup
from sqlalchemy import text

from backend import create_app
from backend.extensions import db
from tests.conftest import bearer
from tests.deployment.processes import PrivateCluster, private_postgres

OUTAGE = {
    "code": 503,
    "status": "Service Unavailable",
    "message": "The database is unavailable right now; please retry shortly.",
}
#: However the code under test behaves, the cluster thaws after this many seconds.
THAW_AT_THE_LATEST = 30


def cluster_processes(cluster: PrivateCluster) -> list[int]:
    """The postmaster and all its children (backends, checkpointer, walwriter...)."""
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with suppress(OSError):
                stat = open(f"/proc/{entry}/stat").read()  # noqa: SIM115
                if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                    children.append(int(entry))
    return [postmaster, *children]


@contextmanager
def frozen(cluster: PrivateCluster) -> Iterator[None]:
    """Every process of the cluster stopped; continued on exit or after THAW_AT_THE_LATEST."""
    processes = cluster_processes(cluster)

    def thaw() -> None:
        for pid in processes:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    safety = threading.Timer(THAW_AT_THE_LATEST, thaw)
    try:
        for pid in processes:
            os.kill(pid, signal.SIGSTOP)
        safety.start()
        yield
    finally:
        safety.cancel()
        thaw()


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_a_frozen_database_gets_503_within_seconds_and_recovery_needs_no_restart(
    app_settings, issuer
):
    def register(sub: str):
        headers = bearer(issuer.mint(sub, email=f"{sub}@example.org"))
        return client.post("/users:register", headers=headers)

    with private_postgres() as cluster:
        app = create_app(**{**app_settings, "DATABASE_URL": cluster.url})  # default timeouts
        with app.app_context():
            flask_migrate.upgrade()
        client = app.test_client()
        assert client.get("/ready").status_code == 200
        assert register("before").status_code == 201
        assert client.get("/results").status_code == 200  # the pool holds a connection

        with frozen(cluster):
            listing, listing_took = timed(lambda: client.get("/results"))
            single, single_took = timed(lambda: client.get(f"/results/{uuid.uuid4()}"))
            created, created_took = timed(lambda: register("during"))
            ready, ready_took = timed(lambda: client.get("/ready"))
            health = client.get("/health")

        assert (listing.status_code, listing.json) == (503, OUTAGE)
        assert listing_took < 5
        # answered below Flask (single_result.SingleResultFront), which hands the outage to
        # Flask instead of letting it wait for the database a second time
        assert (single.status_code, single.json) == (503, OUTAGE)
        assert single_took < listing_took * 1.5
        assert (created.status_code, created.json) == (503, OUTAGE)
        assert created_took < 5
        assert ready.status_code == 503
        assert ready.json["message"].startswith("The database is unreachable")
        assert ready_took < 3
        assert health.status_code == 200

        assert client.get("/ready").status_code == 200
        assert client.get("/results").status_code == 200
        assert register("after").status_code == 201

        with app.app_context():
            db.engine.dispose()


def _statement_timeout(app) -> str:
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("statement_timeout is a PostgreSQL setting")
        value = db.session.scalar(text("SHOW statement_timeout"))
        db.session.remove()
        db.engine.dispose()
    return value


def test_requests_have_a_statement_timeout_and_cli_commands_none(app_settings):
    settings = {**app_settings, "DB_STATEMENT_TIMEOUT": 7}
    assert _statement_timeout(create_app(**settings)) == "7s"

    made = []
    cli = FlaskGroup(create_app=lambda: made.append(create_app(**settings)) or made[-1])
    result = CliRunner().invoke(cli, ["db-wait", "--timeout", "5"])
    assert result.exit_code == 0, result.output
    assert _statement_timeout(made[0]) == "0"
