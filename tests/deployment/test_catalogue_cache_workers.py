"""Catalogue answers cached by several gunicorn workers never outlive a write that one of
them acknowledged, nor one made by plain SQL (another host, a tool)."""

from __future__ import annotations

import http.client
import json
import re

from sqlalchemy import create_engine, text

from backend.settings import database_uri
from tests.conftest import ADMIN_ENTITLEMENT, bearer
from tests.deployment.processes import (
    entrypoint_environment,
    free_port,
    fresh_database,
    running_entrypoint,
    wait_for,
)


def call(port: int, method: str, path: str, headers: dict, body: dict | None = None):
    """One request on its own connection (gunicorn hands each to whichever worker
    accepts it first), so that successive calls land on either worker."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        connection.request(
            method, path, body=payload, headers={**headers, "Content-Type": "application/json"}
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def site_names(port: int) -> list[str]:
    status, body = call(port, "GET", "/sites", {})
    assert status == 200
    return [site["name"] for site in json.loads(body)["items"]]


def test_two_workers_never_answer_from_before_a_write(tmp_path, issuer):
    with fresh_database(tmp_path) as url:
        port = free_port()
        environment = entrypoint_environment(
            url,
            port,
            WEB_CONCURRENCY="2",
            TRUSTED_OP_LIST=issuer.url,
            ADMIN_ENTITLEMENTS=ADMIN_ENTITLEMENT,
            REQUESTS_CA_BUNDLE=str(issuer.ca_bundle),
            SSL_CERT_FILE=str(issuer.ca_bundle),
        )
        with running_entrypoint(environment, tmp_path) as entrypoint:
            entrypoint.wait_until_ready()
            admin = bearer(
                issuer.mint("admin", email="admin@example.org", entitlements=[ADMIN_ENTITLEMENT])
            )
            assert call(port, "POST", "/users:register", admin)[0] == 201
            status, body = call(
                port, "POST", "/sites", admin, {"name": "site-0", "address": "site.example.org"}
            )
            assert status == 201
            site = json.loads(body)["id"]
            assert call(port, "POST", f"/sites/{site}:approve", admin)[0] == 204

            for n in range(1, 26):
                for _ in range(4):  # both workers cache the current answer
                    assert site_names(port) == [f"site-{n - 1}"]
                status, _ = call(port, "PUT", f"/sites/{site}", admin, {"name": f"site-{n}"})
                assert status == 204
                for _ in range(4):
                    assert site_names(port) == [f"site-{n}"], f"stale answer after write {n}"

            # Plain SQL stands for another host: seen once its notification arrived (at
            # once with per-request version reads).
            engine = create_engine(database_uri(url))
            try:
                with engine.begin() as connection:
                    connection.execute(text("UPDATE sites SET name = 'changed by SQL'"))
            finally:
                engine.dispose()
            wait_for(lambda: site_names(port) == ["changed by SQL"], 2, "the SQL change")
            for _ in range(8):
                assert site_names(port) == ["changed by SQL"]
            assert entrypoint.terminate() == 0

        workers = re.findall(r"Booting worker with pid: (\d+)", entrypoint.output())
        assert len(workers) == 2
