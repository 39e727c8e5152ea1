"""A v1.2.x database to import from: a throw-away PostgreSQL database with v1's schema
(backend/devtools/v1_database.py), filled with one of everything v1 holds.

The source is PostgreSQL whatever database the run's target is (v1 ran on PostgreSQL
only): TEST_DATABASE_URL's server, else V1_TEST_SERVER, else the local one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine

from backend.devtools.databases import throwaway_database
from backend.devtools.v1_database import V1Rows, create_v1_schema
from backend.settings import database_uri

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"score": {"type": "number"}},
    "required": ["score"],
}
T0 = datetime(2022, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def source_server() -> str:
    target = os.environ.get("TEST_DATABASE_URL", "")
    if target.startswith("postgres"):
        return target
    return os.environ.get("V1_TEST_SERVER", LOCAL_SERVER)


@pytest.fixture
def v1_url(tmp_path):
    """The URL of an empty v1.2.x database (schema only), dropped after the test."""
    with throwaway_database(source_server(), tmp_path, "test_v1") as url:
        engine = create_engine(database_uri(url))
        with engine.begin() as connection:
            create_v1_schema(connection)
        engine.dispose()
        yield url


@dataclass
class V1Content:
    """The ids of what ``v1`` holds, by role."""

    alice: tuple[str, str] = ("", "")
    bob: tuple[str, str] = ("", "")
    carol: tuple[str, str] = ("", "")
    tags: dict[str, object] = field(default_factory=dict)
    sites: dict[str, object] = field(default_factory=dict)
    flavors: dict[str, object] = field(default_factory=dict)
    benchmarks: dict[str, object] = field(default_factory=dict)
    #: Visible results, in execution order.
    visible: list = field(default_factory=list)
    claimed_pending: object = None
    claimed_approved: object = None
    deleted: object = None
    claims: dict[str, object] = field(default_factory=dict)
    executed: dict = field(default_factory=dict)
    uploaded: dict = field(default_factory=dict)


def v1_rows(url: str):
    """Run a function with a ``V1Rows`` on the v1 database, committed."""
    engine = create_engine(database_uri(url))

    class Writing:
        def __enter__(self):
            self.connection = engine.connect()
            self.transaction = self.connection.begin()
            return V1Rows(self.connection)

        def __exit__(self, *exc):
            if exc[0] is None:
                self.transaction.commit()
            self.connection.close()
            engine.dispose()

    return Writing()


@pytest.fixture
def v1(v1_url, issuer):
    """A v1 database with users, every catalogue status, results with tags, pending and
    approved claims and a soft-deleted result. Users belong to the test issuer, so that
    their tokens work here after the import."""
    content = V1Content()
    iss = issuer.url
    with v1_rows(v1_url) as rows:
        content.alice = rows.user("alice-sub", iss, "alice@example.org", T0)
        content.bob = rows.user("bob-sub", iss, "bob@example.org", T0 + timedelta(days=1))
        content.carol = rows.user("carol-sub", iss, "carol@example.org", T0 + timedelta(days=2))
        alice = content.alice
        content.tags = {name: rows.tag(name, f"{name} runs") for name in ("cpu", "gpu")}
        when = T0 + timedelta(days=3)
        content.sites = {
            "approved": rows.site(alice, when, "approved", "SITE-A", "a.example.org", "A"),
            "on_review": rows.site(alice, when, "on_review", "SITE-P", "p.example.org"),
            "null": rows.site(alice, when, None, "SITE-N", "n.example.org"),
        }
        site = content.sites["approved"]
        content.flavors = {
            "approved": rows.flavor(alice, when, "approved", site, "m1.small", "1 vCPU"),
            "second": rows.flavor(alice, when, "approved", site, "m1.large"),
            "on_review": rows.flavor(alice, when, "on_review", site, "m1.pending"),
        }
        content.benchmarks = {
            "approved": rows.benchmark(
                alice, when, "approved", "ex/bench", "1.0", SCHEMA, "https://ex.org/b"
            ),
            "on_review": rows.benchmark(
                alice, when, "on_review", "ex/bench", "2.0", {}, "https://ex.org/b"
            ),
            "null": rows.benchmark(alice, when, None, "ex/other", "1.0", {}, "https://ex.org/o"),
        }
        benchmark = content.benchmarks["approved"]
        tags = content.tags

        def result(n, flavor="approved", tag_names=(), uploader=alice):
            executed = T0 + timedelta(days=10, hours=n)
            uploaded = T0 + timedelta(days=20, minutes=n)
            result_id = rows.result(
                uploader,
                uploaded,
                executed,
                {"score": float(n), "machine": {"cpu": {"count": n}}},
                benchmark,
                content.flavors[flavor],
                site,
                [tags[name] for name in tag_names],
            )
            content.executed[result_id] = executed
            content.uploaded[result_id] = uploaded
            return result_id

        content.visible = [
            result(1, tag_names=["cpu"]),
            result(2, tag_names=["cpu", "gpu"]),
            result(3, flavor="second"),
            result(4, tag_names=["gpu"], uploader=content.bob),
            result(5, tag_names=["cpu"]),
        ]
        content.claimed_pending = result(6, tag_names=["cpu"])
        content.claimed_approved = result(7)
        content.deleted = rows.result(
            alice, T0, T0, {"score": 8.0}, benchmark, content.flavors["approved"], site
        )
        rows.connection.exec_driver_sql(
            f"UPDATE result SET deleted = true WHERE id = '{content.deleted}'"
        )
        content.claims = {
            "on_review": rows.claim(
                content.bob,
                T0 + timedelta(days=30),
                "on_review",
                content.claimed_pending,
                "wrong score",
            ),
            "approved": rows.claim(
                content.bob,
                T0 + timedelta(days=31),
                "approved",
                content.claimed_approved,
                "duplicate",
            ),
        }
    return content
