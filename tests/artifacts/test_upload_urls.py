"""POST /artifacts:upload-url: a pending artifact and a URL that takes one PUT without a
bearer token: this service's own signed URL (local store) or a presigned S3 URL."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import requests
from click.testing import CliRunner

from backend.artifact_stores import current_store
from backend.artifact_stores.commands import artifacts_cli
from backend.extensions import db
from backend.models import Artifact

DATA = os.urandom(50_000)


def new_url(client, headers, **fields) -> dict:
    response = client.post(
        "/artifacts:upload-url",
        headers=headers,
        json={"kind": "model", "name": "weights.bin", "size": len(DATA), **fields},
    )
    assert response.status_code == 201, response.json
    return response.json


def put(client, url: str, data: bytes):
    """PUT to the upload URL: through the test client for this service's URLs, over HTTP
    for S3's."""
    parts = urlsplit(url)
    if parts.path.startswith("/artifacts/"):
        return client.put(f"{parts.path}?{parts.query}", data=data).status_code
    return requests.put(url, data=data, timeout=10).status_code


def complete(client, headers, artifact_id: str):
    """Tell the service the PUT is done (needed for S3's presigned URLs only)."""
    return client.post(f"/artifacts/{artifact_id}:complete", headers=headers)


def test_the_artifact_is_pending_until_its_bytes_arrive(client, user_headers):
    answer = new_url(client, user_headers)

    artifact = client.get(f"/artifacts/{answer['artifact_id']}", headers=user_headers).json
    assert artifact["state"] == "pending"
    assert datetime.fromisoformat(answer["expires_at"]) > datetime.now(UTC)
    assert (
        client.get(f"/artifacts/{answer['artifact_id']}/blob", headers=user_headers).status_code
        == 422
    )
    assert client.get(f"/artifacts/{answer['artifact_id']}").status_code == 404  # not to others


def test_the_bytes_put_to_the_url_make_it_ready(client, user_headers):
    answer = new_url(client, user_headers, sha256=hashlib.sha256(DATA).hexdigest())

    assert put(client, answer["upload_url"], DATA) == 200
    response = complete(client, user_headers, answer["artifact_id"])

    assert response.status_code == 200, response.json
    assert response.json["state"] == "ready"
    assert response.json["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert client.get(f"/artifacts/{answer['artifact_id']}/blob").data == DATA


def test_bytes_that_differ_from_the_declaration_leave_it_pending_and_keep_nothing(
    client, user_headers
):
    answer = new_url(client, user_headers)

    status = put(client, answer["upload_url"], DATA[:-1])
    if status == 200:  # S3 took them; the service checks them when told
        status = complete(client, user_headers, answer["artifact_id"]).status_code

    assert status == 400
    artifact = db.session.get(Artifact, uuid.UUID(answer["artifact_id"]))
    assert artifact.state.value == "pending"
    assert list(current_store().keys()) == []


def test_the_local_url_refuses_a_changed_token(client, user_headers, store_settings):
    if not store_settings["ARTIFACT_STORE"].startswith("file:"):
        pytest.skip("S3 checks its own presigned URLs")
    answer = new_url(client, user_headers)

    response = client.put(answer["upload_url"].replace("token=", "token=x"), data=DATA)

    assert response.status_code == 403
    assert list(current_store().keys()) == []


def test_expired_pending_artifacts_are_removed_by_gc(client, user_headers, artifacts_app):
    answer = new_url(client, user_headers)
    put(client, answer["upload_url"], DATA)  # S3: the object is there, never completed
    artifact = db.session.get(Artifact, uuid.UUID(answer["artifact_id"]))
    if artifact.state.value == "pending":
        artifact.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()

        result = CliRunner().invoke(artifacts_cli, ["gc"], obj=_script_info(artifacts_app))

        assert result.exit_code == 0, result.output
        assert "1 expired pending artifact(s) removed" in result.output
        assert db.session.get(Artifact, uuid.UUID(answer["artifact_id"])) is None
        assert list(current_store().keys()) == []
    else:  # local store: the PUT made it ready; nothing expires
        assert artifact.state.value == "ready"


def _script_info(app):
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=lambda: app)
