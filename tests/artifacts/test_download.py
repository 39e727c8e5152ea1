"""GET/HEAD /artifacts/{id}/blob: streamed, with ETag, If-None-Match and Range."""

from __future__ import annotations

import hashlib
import os

from backend.artifact_stores import current_store
from tests.artifacts.conftest import upload

DATA = os.urandom(200_000)


def test_a_download_has_length_etag_and_name(client, user_headers):
    artifact = upload(client, user_headers, DATA, name="résumé model.onnx")

    response = client.get(f"/artifacts/{artifact['id']}/blob")

    assert response.status_code == 200
    assert response.data == DATA
    assert response.headers["Content-Length"] == str(len(DATA))
    assert response.headers["ETag"] == f'"{hashlib.sha256(DATA).hexdigest()}"'
    assert response.headers["Accept-Ranges"] == "bytes"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20model.onnx" in disposition


def test_head_answers_the_headers_without_the_bytes(client, user_headers):
    artifact = upload(client, user_headers, DATA)

    response = client.head(f"/artifacts/{artifact['id']}/blob")

    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(DATA))
    assert response.data == b""


def test_if_none_match_with_the_etag_is_304(client, user_headers):
    artifact = upload(client, user_headers, DATA)
    etag = client.get(f"/artifacts/{artifact['id']}/blob").headers["ETag"]

    response = client.get(f"/artifacts/{artifact['id']}/blob", headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.data == b""


def test_a_range_is_206_with_exactly_its_bytes(client, user_headers):
    artifact = upload(client, user_headers, DATA)

    response = client.get(f"/artifacts/{artifact['id']}/blob", headers={"Range": "bytes=100-199"})

    assert response.status_code == 206
    assert response.data == DATA[100:200]
    assert response.headers["Content-Range"] == f"bytes 100-199/{len(DATA)}"
    assert response.headers["Content-Length"] == "100"


def test_an_open_range_resumes_a_broken_download(client, user_headers):
    artifact = upload(client, user_headers, DATA)

    response = client.get(f"/artifacts/{artifact['id']}/blob", headers={"Range": "bytes=150000-"})

    assert response.status_code == 206
    assert response.data == DATA[150_000:]


def test_a_suffix_range_gives_the_last_bytes(client, user_headers):
    artifact = upload(client, user_headers, DATA)

    response = client.get(f"/artifacts/{artifact['id']}/blob", headers={"Range": "bytes=-10"})

    assert response.status_code == 206
    assert response.data == DATA[-10:]


def test_a_range_past_the_end_is_416(client, user_headers):
    artifact = upload(client, user_headers, DATA)

    response = client.get(
        f"/artifacts/{artifact['id']}/blob", headers={"Range": f"bytes={len(DATA)}-"}
    )

    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(DATA)}"


def test_a_range_for_other_bytes_than_the_etag_is_ignored(client, user_headers):
    artifact = upload(client, user_headers, DATA)

    response = client.get(
        f"/artifacts/{artifact['id']}/blob",
        headers={"Range": "bytes=0-9", "If-Range": '"' + "0" * 64 + '"'},
    )

    assert response.status_code == 200
    assert response.data == DATA


def test_a_blob_missing_from_the_store_is_404_saying_so(client, user_headers):
    artifact = upload(client, user_headers, DATA)
    current_store().delete(next(current_store().keys()))

    response = client.get(f"/artifacts/{artifact['id']}/blob")

    assert response.status_code == 404
    assert "missing from the store" in response.json["message"]
