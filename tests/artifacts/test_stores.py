"""Every artifact store keeps the same promises: a committed blob reads back whole or by
range, an aborted one leaves nothing, delete and keys see what is there."""

from __future__ import annotations

import hashlib
import os

import pytest
import requests

from backend.artifact_stores import BlobMissing
from tests.artifacts.conftest import PART_SIZE


@pytest.fixture(autouse=True)
def app_context():
    """Stores need no app and no database."""
    yield


def write(store, data: bytes, chunk: int = 65536):
    with store.writer() as writer:
        for start in range(0, len(data), chunk):
            writer.write(data[start : start + chunk])
        return writer.commit()


def test_a_committed_blob_reads_back_with_its_size_and_sha256(store):
    data = os.urandom(300_000)

    blob = write(store, data)

    assert blob.size == len(data)
    assert blob.sha256 == hashlib.sha256(data).hexdigest()
    assert b"".join(store.read(blob.key)) == data
    assert store.size(blob.key) == len(data)
    assert list(store.keys()) == [blob.key]


def test_an_empty_blob_is_a_blob(store):
    blob = write(store, b"")

    assert (blob.size, blob.sha256) == (0, hashlib.sha256(b"").hexdigest())
    assert b"".join(store.read(blob.key)) == b""


def test_a_blob_larger_than_a_part_crosses_part_boundaries(store):
    data = os.urandom(2 * PART_SIZE + 12345)

    blob = write(store, data, chunk=1 << 20)

    assert b"".join(store.read(blob.key)) == data
    assert blob.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(("start", "end"), [(0, 1), (10, 20), (299_990, None), (5, 300_000)])
def test_ranges_read_exactly_their_bytes(store, start, end):
    data = os.urandom(300_000)
    blob = write(store, data)

    assert b"".join(store.read(blob.key, start, end)) == data[start:end]


def test_an_aborted_writer_leaves_nothing(store):
    with store.writer() as writer:
        writer.write(os.urandom(PART_SIZE + 1))  # a multipart upload has started on S3
        writer.abort()

    assert list(store.keys()) == []
    if store.scheme == "s3":
        assert store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []
    else:
        assert list((store.root / "tmp").iterdir()) == []


def test_an_exception_while_writing_leaves_nothing(store):
    with pytest.raises(ConnectionError), store.writer() as writer:
        writer.write(os.urandom(PART_SIZE + 1))
        raise ConnectionError("the client went away")

    assert list(store.keys()) == []


def test_delete_removes_the_blob_and_tolerates_a_missing_one(store):
    blob = write(store, b"model weights")

    store.delete(blob.key)
    store.delete(blob.key)

    assert not store.exists(blob.key)
    with pytest.raises(BlobMissing):
        store.read(blob.key)
    with pytest.raises(BlobMissing):
        store.size(blob.key)


def test_local_blobs_are_content_addressed_and_stored_once(store):
    if store.scheme != "file":
        pytest.skip("S3 keeps one object per upload (no rename in S3)")
    first = write(store, b"same bytes")
    second = write(store, b"same bytes")

    assert first.key == second.key == hashlib.sha256(b"same bytes").hexdigest()
    assert list(store.keys()) == [first.key]


def test_a_direct_upload_url_takes_a_put_without_credentials(store):
    key = store.direct_upload_key()
    if key is None:
        assert store.scheme == "file"  # the service signs its own upload URLs
        return
    data = os.urandom(100_000)

    response = requests.put(store.direct_upload_url(key, 60), data=data, timeout=10)

    assert response.status_code == 200
    assert store.adopt(key).sha256 == hashlib.sha256(data).hexdigest()
    assert store.adopt(key).size == len(data)
