"""entrypoint.sh, run for real on this machine as the container runs it: wait for the
database, migrate, serve with gunicorn, stop gracefully on SIGTERM."""

from __future__ import annotations

import os
import re
import time

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from backend.settings import database_uri
from tests.deployment.processes import (
    REPOSITORY,
    entrypoint_environment,
    free_port,
    fresh_database,
    fresh_postgres_database,
    http_get,
    running_entrypoint,
    wait_for,
)

MIGRATIONS = REPOSITORY / "migrations"


def migration_count() -> int:
    return len(list(ScriptDirectory(str(MIGRATIONS)).walk_revisions()))


def migration_lock_id() -> int:
    """The advisory lock id migrations/env.py takes (read from it, to stay in step)."""
    source = (MIGRATIONS / "env.py").read_text()
    return int(re.search(r"MIGRATION_LOCK_ID = (0x[0-9A-Fa-f_]+)", source).group(1), 0)


def test_an_empty_database_is_migrated_then_served_and_sigterm_stops_gracefully(tmp_path):
    with fresh_database(tmp_path) as url:
        environment = entrypoint_environment(url, free_port())
        with running_entrypoint(environment, tmp_path) as entrypoint:
            entrypoint.wait_until_ready()

            status, headers, _ = http_get(
                entrypoint.url("/benchmarks"), {"X-Request-ID": "deploy-test-1"}
            )
            assert status == 200
            assert headers["X-Request-ID"] == "deploy-test-1"

            assert entrypoint.terminate() == 0

        lines = entrypoint.log_lines()
        access = [line for line in lines if line.get("request_id") == "deploy-test-1"]
        assert access, "no access log line carries the request id"
        assert access[0]["logger"] == "gunicorn.access"
        assert access[0]["method"] == "GET"
        assert access[0]["path"] == "/benchmarks"
        assert access[0]["status"] == 200
        assert isinstance(access[0]["duration_ms"], float)
        messages = [line["message"] for line in lines]
        assert sum("Running upgrade" in m for m in messages) == migration_count()
        assert "Shutting down: Master" in messages
        assert not [line for line in lines if line["level"] in {"ERROR", "CRITICAL"}]


def test_metrics_add_up_over_gunicorn_workers(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR, /metrics counts the requests of every worker."""
    metrics_dir = tmp_path / "metrics"
    with fresh_database(tmp_path) as url:
        environment = entrypoint_environment(
            url,
            free_port(),
            METRICS_ENABLED="true",
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
            WEB_CONCURRENCY="3",
        )
        with running_entrypoint(environment, tmp_path) as entrypoint:
            entrypoint.wait_until_ready()
            for _ in range(12):
                assert http_get(entrypoint.url("/health"))[0] == 200
            status, headers, body = http_get(entrypoint.url("/metrics"))

    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    sample = 'http_requests_total{endpoint="/health",method="GET",status="200"} 12.0'
    assert sample in body.decode()
    assert list(metrics_dir.glob("counter_*.db"))


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"),
    reason="the migration lock is PostgreSQL's (set TEST_DATABASE_URL to a PostgreSQL server)",
)
def test_replicas_starting_together_migrate_once_under_the_lock(tmp_path):
    with fresh_postgres_database() as url:
        engine = create_engine(database_uri(url))
        with engine.connect() as holder:
            # Hold the migration lock, so both replicas are seen waiting for it.
            holder.execute(text("SELECT pg_advisory_lock(:id)"), {"id": migration_lock_id()})
            holder.commit()
            first = running_entrypoint(entrypoint_environment(url, free_port()), tmp_path, "a")
            second = running_entrypoint(entrypoint_environment(url, free_port()), tmp_path, "b")
            with first as a, second as b:
                for replica in (a, b):
                    wait_for(
                        lambda r=replica: "Waiting for the migration lock" in r.output(),
                        120,
                        "both replicas to wait for the migration lock",
                    )
                time.sleep(1)
                assert a.process.poll() is None and b.process.poll() is None
                assert not inspect(holder).has_table("alembic_version")

                holder.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": migration_lock_id()})
                holder.commit()
                a.wait_until_ready()
                b.wait_until_ready()
                assert a.terminate() == 0
                assert b.terminate() == 0

            versions = holder.execute(text("SELECT version_num FROM alembic_version")).all()
        engine.dispose()

    assert len(versions) == 1
    assert {versions[0][0]} == set(ScriptDirectory(str(MIGRATIONS)).get_heads())
    upgrades = a.output().count("Running upgrade") + b.output().count("Running upgrade")
    assert upgrades == migration_count()
    for replica in (a, b):
        assert not [line for line in replica.log_lines() if line["level"] == "ERROR"]


def test_an_absent_database_ends_the_wait_with_a_clear_message(tmp_path):
    nothing_listens = free_port()
    url = f"postgresql://postgres@127.0.0.1:{nothing_listens}/postgres"
    environment = entrypoint_environment(url, free_port(), DB_WAIT_SECONDS="3")
    started = time.monotonic()
    with running_entrypoint(environment, tmp_path) as entrypoint:
        code = entrypoint.process.wait(timeout=60)
    assert code != 0
    assert time.monotonic() - started < 45
    errors = [line for line in entrypoint.log_lines() if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert f"127.0.0.1:{nothing_listens}" in errors[0]["message"]
    assert "not reachable within 3 s" in errors[0]["message"]
    assert "gunicorn" not in entrypoint.output()
