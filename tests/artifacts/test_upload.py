"""POST /artifacts: multipart (fields first, the file last) or raw bytes, streamed to the
store; whatever is refused leaves nothing behind."""

from __future__ import annotations

import hashlib
import io
import json

import pytest

from backend.artifact_stores import current_store
from backend.extensions import db
from backend.models import Artifact


def multipart(**fields) -> dict:
    """Form data for the test client: fields in order, a (bytes, filename) tuple last."""
    return {
        name: (io.BytesIO(value[0]), value[1]) if isinstance(value, tuple) else value
        for name, value in fields.items()
    }


def stored_keys() -> list[str]:
    return list(current_store().keys())


def test_a_multipart_upload_stores_the_file_and_its_description(client, user_headers):
    data = b"model weights " * 1000

    response = client.post(
        "/artifacts",
        headers=user_headers,
        data=multipart(
            kind="model",
            name="resnet50.onnx",
            description="trained on ImageNet",
            metadata=json.dumps({"doi": "10.5281/zenodo.1", "framework": {"version": 2}}),
            blob=(data, "resnet50.onnx"),
        ),
        content_type="multipart/form-data",
    )

    assert response.status_code == 201, response.json
    body = response.json
    assert body["kind"] == "model"
    assert body["name"] == "resnet50.onnx"
    assert body["metadata"] == {"doi": "10.5281/zenodo.1", "framework": {"version": 2}}
    assert body["visibility"] == "public"
    assert body["state"] == "ready"
    assert body["size"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    download = client.get(f"/artifacts/{body['id']}/blob")
    assert download.status_code == 200
    assert download.data == data


def test_a_raw_body_takes_its_fields_from_the_query(client, user_headers):
    data = b"\x00\x01binary log"

    response = client.post(
        "/artifacts?kind=log&name=run.log&visibility=private",
        headers={**user_headers, "Content-Type": "application/octet-stream"},
        data=data,
    )

    assert response.status_code == 201, response.json
    assert response.json["visibility"] == "private"
    assert client.get(f"/artifacts/{response.json['id']}/blob", headers=user_headers).data == data


def test_a_chunked_raw_body_is_streamed(client, user_headers):
    data = b"x" * 300_000

    response = client.post(
        "/artifacts?kind=data",
        headers={
            **user_headers,
            "Content-Type": "application/octet-stream",
            "Transfer-Encoding": "chunked",
        },
        input_stream=io.BytesIO(data),
        environ_base={"wsgi.input_terminated": True},  # as gunicorn marks chunked input
    )

    assert response.status_code == 201, response.json
    assert response.json["size"] == len(data)


@pytest.mark.parametrize(
    ("declared", "problem"),
    [
        ({"size": "5"}, "not the declared size 5"),
        ({"size": "50000"}, "not the declared size 50,000"),
        ({"sha256": "0" * 64}, "not the declared " + "0" * 64),
    ],
)
def test_a_declared_size_or_sha256_that_differs_is_400_and_keeps_nothing(
    client, user_headers, declared, problem
):
    response = client.post(
        "/artifacts",
        headers=user_headers,
        data=multipart(kind="data", **declared, blob=(b"y" * 1000, "data.bin")),
        content_type="multipart/form-data",
    )

    assert response.status_code == 400
    assert (
        problem in response.json["message"]
        or "more than the declared" in (response.json["message"])
    )
    assert db.session.query(Artifact).count() == 0
    assert stored_keys() == []


def test_matching_declarations_are_accepted(client, user_headers):
    data = b"z" * 4096

    response = client.post(
        "/artifacts",
        headers=user_headers,
        data=multipart(
            kind="data",
            size=str(len(data)),
            sha256=hashlib.sha256(data).hexdigest().upper(),
            blob=(data, "z.bin"),
        ),
        content_type="multipart/form-data",
    )

    assert response.status_code == 201, response.json


def test_bad_fields_are_422_naming_them_before_anything_is_stored(client, user_headers):
    response = client.post(
        "/artifacts",
        headers=user_headers,
        data=multipart(kind="weights", metadata="[1, 2]", blob=(b"abc", "a.bin")),
        content_type="multipart/form-data",
    )

    assert response.status_code == 422
    assert set(response.json["errors"]["form"]) == {"kind", "metadata"}
    assert stored_keys() == []


def test_a_field_after_the_file_is_400_and_keeps_nothing(client, user_headers):
    # The test client would put files last: the body is written out here.
    body = (
        b'--b\r\nContent-Disposition: form-data; name="kind"\r\n\r\ndata\r\n'
        b'--b\r\nContent-Disposition: form-data; name="blob"; filename="a"\r\n\r\nabc\r\n'
        b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nlate\r\n'
        b"--b--\r\n"
    )

    response = client.post(
        "/artifacts",
        headers={**user_headers, "Content-Type": "multipart/form-data; boundary=b"},
        data=body,
    )

    assert response.status_code == 400
    assert "last part" in response.json["message"]
    assert stored_keys() == []
    assert db.session.query(Artifact).count() == 0


def test_a_form_without_a_file_is_400(client, user_headers):
    response = client.post(
        "/artifacts",
        headers=user_headers,
        data={"kind": "data"},
        content_type="multipart/form-data",
    )

    assert response.status_code == 400
    assert "no file part" in response.json["message"]


def test_a_truncated_multipart_body_is_400_and_keeps_nothing(client, user_headers):
    body = (
        b'--b\r\nContent-Disposition: form-data; name="kind"\r\n\r\ndata\r\n'
        b'--b\r\nContent-Disposition: form-data; name="blob"; filename="x"\r\n\r\n' + b"q" * 100_000
    )

    response = client.post(
        "/artifacts",
        headers={**user_headers, "Content-Type": "multipart/form-data; boundary=b"},
        data=body,
    )

    assert response.status_code == 400
    assert "ended early" in response.json["message"]
    assert stored_keys() == []


def test_another_content_type_is_415(client, user_headers):
    response = client.post("/artifacts?kind=data", headers=user_headers, json={"not": "a file"})

    assert response.status_code == 415


def test_links_to_unknown_items_are_404(client, user_headers):
    response = client.post(
        "/artifacts?kind=data&result_id=6a7b2ad8-5b1c-4d6f-9a49-3f3c1c1f0c11",
        headers={**user_headers, "Content-Type": "application/octet-stream"},
        data=b"abc",
    )

    assert response.status_code == 404
    assert stored_keys() == []


def test_uploading_needs_a_registered_user(client, token_headers):
    anonymous = client.post("/artifacts?kind=data", data=b"abc")
    unregistered = client.post("/artifacts?kind=data", headers=token_headers, data=b"abc")

    assert anonymous.status_code == 401
    assert unregistered.status_code == 403
