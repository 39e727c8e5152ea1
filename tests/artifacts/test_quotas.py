"""ARTIFACTS_MAX_SIZE and ARTIFACTS_USER_QUOTA: up to the byte, then 413 naming the limit and
the current use, and nothing kept."""

from __future__ import annotations

import pytest

from backend import create_app
from backend.artifact_stores import current_store
from backend.extensions import db
from backend.models import Artifact
from tests.artifacts.conftest import upload

MAX_SIZE = 1000
QUOTA = 2500


@pytest.fixture
def client(app_settings, store_settings):
    app = create_app(
        **{**app_settings, **store_settings},
        ARTIFACTS_MAX_SIZE=MAX_SIZE,
        ARTIFACTS_USER_QUOTA=QUOTA,
    )
    with app.app_context():
        yield app.test_client()


def post(client, headers, data: bytes, **fields):
    return client.post(
        "/artifacts",
        query_string={"kind": "data", **fields},
        headers={**headers, "Content-Type": "application/octet-stream"},
        data=data,
    )


def test_an_artifact_of_exactly_the_max_size_is_accepted(client, user_headers):
    assert post(client, user_headers, b"x" * MAX_SIZE).status_code == 201


def test_one_byte_more_is_413_naming_the_limit_and_keeping_nothing(client, user_headers):
    response = post(client, user_headers, b"x" * (MAX_SIZE + 1))

    assert response.status_code == 413
    assert "ARTIFACTS_MAX_SIZE (1,000 bytes)" in response.json["message"]
    assert list(current_store().keys()) == []
    assert db.session.query(Artifact).count() == 0


def test_the_quota_is_reached_exactly_then_refused_with_the_current_use(client, user_headers):
    upload(client, user_headers, b"a" * 1000)
    upload(client, user_headers, b"b" * 1000)
    assert post(client, user_headers, b"c" * 500).status_code == 201  # 2,500: the quota

    response = post(client, user_headers, b"d")

    assert response.status_code == 413
    message = response.json["message"]
    assert "ARTIFACTS_USER_QUOTA, 2,500 bytes" in message
    assert "use 2,500 bytes already" in message
    assert db.session.query(Artifact).count() == 3
    assert len(list(current_store().keys())) == 3


def test_deleting_frees_quota(client, user_headers):
    first = upload(client, user_headers, b"a" * 1000)
    upload(client, user_headers, b"b" * 1000)
    assert post(client, user_headers, b"c" * 1000).status_code == 413

    client.delete(f"/artifacts/{first['id']}", headers=user_headers)

    assert post(client, user_headers, b"c" * 1000).status_code == 201


def test_a_declared_size_past_the_limit_is_refused_before_reading(client, user_headers):
    response = post(client, user_headers, b"x", size=str(MAX_SIZE + 1))

    assert response.status_code == 413


def test_a_multipart_upload_past_the_max_size_keeps_nothing(client, user_headers):
    import io

    response = client.post(
        "/artifacts",
        headers=user_headers,
        data={"kind": "data", "blob": (io.BytesIO(b"x" * (MAX_SIZE + 1)), "big.bin")},
        content_type="multipart/form-data",
    )

    assert response.status_code == 413
    assert list(current_store().keys()) == []


def test_pending_upload_urls_count_against_the_quota(client, user_headers):
    response = client.post(
        "/artifacts:upload-url", headers=user_headers, json={"kind": "data", "size": 1000}
    )
    assert response.status_code == 201
    upload(client, user_headers, b"a" * 1000)

    assert post(client, user_headers, b"x" * 501).status_code == 413
    assert post(client, user_headers, b"x" * 500).status_code == 201
    refused = client.post(
        "/artifacts:upload-url", headers=user_headers, json={"kind": "data", "size": 1}
    )
    assert refused.status_code == 413


def test_quotas_are_per_user(client, user_headers, admin_headers):
    upload(client, user_headers, b"a" * 1000)
    upload(client, user_headers, b"a" * 1000)
    upload(client, user_headers, b"a" * 500)

    assert post(client, admin_headers, b"x" * 1000).status_code == 201
