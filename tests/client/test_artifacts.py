"""Artifacts with the client: a file uploaded and downloaded streamed, intact (the client
sends its size and sha256, which the service checks), on a store of the test's own."""

from __future__ import annotations

import hashlib
import os

import pytest

from backend import create_app
from factories import ResultFactory
from perfclient import ApiError, Client
from tests.client.conftest import QUICK_RETRIES, serving


@pytest.fixture
def artifact_service(app_settings, tmp_path):
    """The service with a local-disk artifact store in the test's folder."""
    app = create_app(**{**app_settings, "ARTIFACT_STORE": f"file://{tmp_path / 'store'}"})
    with serving(app) as url:
        yield url


def test_a_file_goes_up_and_comes_back_intact(artifact_service, user_token, tmp_path):
    perf = Client(artifact_service, token=user_token, retry=QUICK_RETRIES, progress=True)
    result = ResultFactory()
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(3 * 1024 * 1024 + 17))

    stored = perf.upload_artifact(
        model, kind="model", result_id=str(result.id), metadata={"framework": "onnx"}
    )
    perf.download_artifact(stored["id"], tmp_path / "copy.bin")

    assert (tmp_path / "copy.bin").read_bytes() == model.read_bytes()
    assert stored["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert (stored["name"], stored["size"], stored["state"]) == (
        "model.bin",
        model.stat().st_size,
        "ready",
    )
    assert perf.artifact(stored["id"])["metadata"] == {"framework": "onnx"}
    listed = perf.artifacts(result_id=str(result.id))
    assert listed["id"].tolist() == [stored["id"]]


def test_an_upload_with_a_bad_kind_raises_the_service_message(
    artifact_service, user_token, tmp_path
):
    perf = Client(artifact_service, token=user_token, retry=QUICK_RETRIES)
    (tmp_path / "x.txt").write_text("x")

    with pytest.raises(ApiError) as raised:
        perf.upload_artifact(tmp_path / "x.txt", kind="spreadsheet")

    assert raised.value.status == 422
    assert "kind" in raised.value.message
