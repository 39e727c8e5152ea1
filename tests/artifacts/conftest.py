"""Artifact fixtures: moto's S3 server over real HTTP, and apps on either store.

``store_url`` is parametrized, so each test that takes it runs once on the local disk store
and once on the S3 store (moto's standalone server, started here on a free port).
"""

from __future__ import annotations

import uuid

import boto3
import pytest
from moto.server import ThreadedMotoServer

from backend import create_app
from backend.artifact_stores import open_store
from tests.deployment.processes import free_port

S3_CREDENTIALS = {
    "ARTIFACT_S3_ACCESS_KEY_ID": "testing",
    "ARTIFACT_S3_SECRET_ACCESS_KEY": "testing",
    "ARTIFACT_S3_REGION": "us-east-1",
}
#: S3's smallest part; small enough that tests cross part boundaries with little data.
PART_SIZE = 5 * 1024 * 1024


@pytest.fixture(scope="session")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def new_bucket(endpoint: str) -> str:
    name = f"artifacts-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["file", "s3"])
def store_settings(request, tmp_path, s3_endpoint):
    """The ARTIFACT_* settings of a fresh, empty store of each kind."""
    if request.param == "file":
        return {"ARTIFACT_STORE": f"file://{tmp_path / 'artifacts'}"}
    return {
        "ARTIFACT_STORE": f"s3://{new_bucket(s3_endpoint)}/blobs",
        "ARTIFACT_S3_ENDPOINT_URL": s3_endpoint,
        "ARTIFACT_S3_PART_SIZE": PART_SIZE,
        **S3_CREDENTIALS,
    }


@pytest.fixture
def store(store_settings):
    return open_store(store_settings["ARTIFACT_STORE"], store_settings)


@pytest.fixture
def artifacts_app(app_settings, store_settings):
    """An app on the test database and a fresh store (the schema is already migrated)."""
    app = create_app(**{**app_settings, **store_settings})
    with app.app_context():
        yield app


@pytest.fixture
def client(artifacts_app):
    return artifacts_app.test_client()


def upload(client, headers, data: bytes, **fields) -> dict:
    """POST raw bytes as an artifact (fields in the query); the created artifact."""
    response = client.post(
        "/artifacts",
        query_string={"kind": "data", **fields},
        headers={**headers, "Content-Type": "application/octet-stream"},
        data=data,
    )
    assert response.status_code == 201, response.json
    return response.json
