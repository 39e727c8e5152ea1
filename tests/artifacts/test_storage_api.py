"""Morpheo's storage API under /storage: the seed's curl examples, run with curl against a
live server, work unchanged but for the URL and ``-H "Authorization: Bearer ..."`` in
place of ``-u user:pass``."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import threading
import uuid

import pytest
from werkzeug.serving import make_server

from tests.deployment.processes import require


@pytest.fixture
def storage_url(artifacts_app):
    """The test app served over HTTP on a free port (curl needs a real server)."""
    server = make_server("127.0.0.1", 0, artifacts_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/storage"
    server.shutdown()


def curl(seed_command: str, url: str, token: str, cwd) -> bytes:
    """Run a curl command of the seed as written, but for its URL (localhost:8081 becomes
    ``url``) and its credentials (``-u user:pass`` becomes a bearer token)."""
    require(shutil.which("curl") is not None, "curl is not installed")
    command = seed_command.replace("http://localhost:8081", url)
    command = re.sub(r"-u \S+", "", command).replace("$(uuidgen)", str(uuid.uuid4()))
    arguments = shlex.split(command)
    arguments[1:1] = ["-sS", "--fail-with-body", "-H", f"Authorization: Bearer {token}"]
    done = subprocess.run(arguments, capture_output=True, timeout=60, check=False, cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def token(user_headers) -> str:
    return user_headers["Authorization"].removeprefix("Bearer ")


def test_a_problem_posted_as_in_the_seed_is_stored(storage_url, token, tmp_path):
    (tmp_path / "problem.tar.gz").write_bytes(os.urandom(666))

    answer = json.loads(
        curl(
            "curl -X POST -u user:pass -F uuid=$(uuidgen) -F name=funky_problem "
            "-F description=great -F size=666 -F blob=@problem.tar.gz "
            "http://localhost:8081/problem",
            storage_url,
            token,
            tmp_path,
        )
    )

    assert answer["name"] == "funky_problem"
    assert answer["description"] == "great"
    assert isinstance(answer["timestamp_upload"], int)
    blob = curl(
        f"curl -u user:pass http://localhost:8081/problem/{answer['uuid']}/blob",
        storage_url,
        token,
        tmp_path,
    )
    assert blob == (tmp_path / "problem.tar.gz").read_bytes()


def test_a_model_uploaded_as_in_the_seed_is_linked_to_its_algo(storage_url, token, tmp_path):
    (tmp_path / "algo.tar.gz").write_bytes(b"algo" * 100)
    (tmp_path / "model").write_bytes(os.urandom(5000))
    algo = json.loads(
        curl(
            "curl -X POST -u user:pass -F name=sgd -F size=400 -F blob=@algo.tar.gz "
            "http://localhost:8081/algo",
            storage_url,
            token,
            tmp_path,
        )
    )

    # The seed's example names no algo; the service needs it, as Morpheo's did (?algo=).
    model = json.loads(
        curl(
            f'curl --data-binary "@{tmp_path}/model" -u user:password '
            f"http://localhost:8081/model?algo={algo['uuid']}",
            storage_url,
            token,
            tmp_path,
        )
    )

    assert model["algo"] == algo["uuid"]
    assert set(model) == {"uuid", "timestamp_upload", "algo"}
    stored = curl(
        f"curl -u user:pass http://localhost:8081/model/{model['uuid']}/blob",
        storage_url,
        token,
        tmp_path,
    )
    assert stored == (tmp_path / "model").read_bytes()


def test_data_retrieved_as_in_the_seed(storage_url, token, tmp_path):
    (tmp_path / "data.hdf5").write_bytes(os.urandom(10_000))
    data = json.loads(
        curl(
            "curl -X POST -u user:pass -F size=10000 -F blob=@data.hdf5 http://localhost:8081/data",
            storage_url,
            token,
            tmp_path,
        )
    )

    retrieved = curl(
        f"curl -u user:pass http://localhost:8081/data/{data['uuid']}/blob",
        storage_url,
        token,
        tmp_path,
    )

    assert retrieved == (tmp_path / "data.hdf5").read_bytes()


def test_lists_routes_and_health_answer_as_morpheo(client, user_headers):
    client.post(
        "/storage/prediction",
        headers=user_headers,
        data={"blob": (io.BytesIO(b"p"), "p.csv")},
        content_type="multipart/form-data",
    )

    routes = client.get("/storage").json
    health = client.get("/storage/health").json
    listed = client.get("/storage/prediction", headers=user_headers).json

    assert "/storage/problem/:uuid/blob" in routes
    assert health == {"status": "ok"}
    assert listed["page"] == 0
    assert listed["length"] == 1
    assert set(listed["items"][0]) == {"uuid", "timestamp_upload"}


def test_storage_items_are_artifacts_of_their_kind(client, user_headers):
    created = client.post(
        "/storage/algo",
        headers=user_headers,
        data={"name": "sgd", "blob": (io.BytesIO(b"algo"), "a.tar.gz")},
        content_type="multipart/form-data",
    ).json

    artifact = client.get(f"/artifacts/{created['uuid']}").json
    assert artifact["kind"] == "algo"
    assert artifact["name"] == "sgd"
    assert client.get(f"/storage/data/{created['uuid']}", headers=user_headers).status_code == 404


def test_a_problem_is_patched_and_its_blob_replaced(client, user_headers):
    problem = client.post(
        "/storage/problem",
        headers=user_headers,
        data={"name": "p", "description": "old", "blob": (io.BytesIO(b"v1"), "p.tar.gz")},
        content_type="multipart/form-data",
    ).json

    renamed = client.patch(
        f"/storage/problem/{problem['uuid']}",
        headers=user_headers,
        data={"description": "new"},
        content_type="multipart/form-data",
    )
    replaced = client.patch(
        f"/storage/problem/{problem['uuid']}",
        headers=user_headers,
        data={"size": "2", "blob": (io.BytesIO(b"v2"), "p.tar.gz")},
        content_type="multipart/form-data",
    )

    assert renamed.status_code == 200, renamed.json
    assert renamed.json["description"] == "new"
    assert replaced.status_code == 200, replaced.json
    blob = client.get(f"/storage/problem/{problem['uuid']}/blob", headers=user_headers)
    assert blob.data == b"v2"


def test_a_model_for_an_unknown_algo_is_404(client, user_headers):
    response = client.post(
        f"/storage/model?algo={uuid.uuid4()}", headers=user_headers, data=b"weights"
    )

    assert response.status_code == 404


def test_the_storage_api_needs_a_token_where_morpheo_needs_credentials(client):
    assert client.get("/storage/data").status_code == 401
    assert client.get("/storage/health").status_code == 200
