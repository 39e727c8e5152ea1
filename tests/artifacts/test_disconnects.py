"""A client that goes away halfway through an upload leaves nothing behind: through a real
gunicorn (started by the deployment's entrypoint), for raw, chunked and multipart bodies,
on both stores. A complete upload over the same path shows the check can fail."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

from tests.deployment.processes import (
    entrypoint_environment,
    free_port,
    fresh_database,
    running_entrypoint,
    wait_for,
)

BODY = 4 * 1024 * 1024


@pytest.fixture
def service(tmp_path, issuer, store_settings):
    """The entrypoint (migrations, then gunicorn as shipped) on a fresh database and store,
    trusting the local issuer; yields (base URL, bearer token)."""
    extra = {key: str(value) for key, value in store_settings.items()}
    environment = entrypoint_environment(
        "",
        free_port(),
        TRUSTED_OP_LIST=issuer.url,
        REQUESTS_CA_BUNDLE=str(issuer.ca_bundle),
        SSL_CERT_FILE=str(issuer.ca_bundle),
        WEB_CONCURRENCY="1",
        **extra,
    )
    with fresh_database(tmp_path) as url:
        environment["DATABASE_URL"] = url
        with running_entrypoint(environment, tmp_path) as entrypoint:
            entrypoint.wait_until_ready()
            token = issuer.mint("disconnecting-user", email="gone@example.org")
            request("POST", entrypoint.url("/users:register"), token)
            yield entrypoint.url(""), token


def request(method: str, url: str, token: str, body: bytes | None = None, **headers) -> dict:
    sent = urllib.request.Request(
        url, data=body, method=method, headers={"Authorization": f"Bearer {token}", **headers}
    )
    with urllib.request.urlopen(sent, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def send_part_and_vanish(base: str, token: str, head: str, first_bytes: bytes) -> None:
    """Send the request's head and the first bytes of its body, then close the socket."""
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(
            head.replace("{token}", token).encode().replace(b"\n", b"\r\n") + b"\r\n" + first_bytes
        )
        time.sleep(0.5)  # the worker is reading the body now


def leftovers(store_settings) -> list[str]:
    """Blobs, temporary files and multipart uploads left in the store."""
    location = store_settings["ARTIFACT_STORE"]
    if location.startswith("file://"):
        root = Path(location.removeprefix("file://"))
        return [str(p) for p in root.rglob("*") if p.is_file()] if root.exists() else []
    bucket = location.removeprefix("s3://").split("/")[0]
    client = boto3.client(
        "s3",
        endpoint_url=store_settings["ARTIFACT_S3_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    objects = [item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    uploads = [
        item["Key"] for item in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    ]
    return objects + uploads


def artifacts_total(base: str, token: str) -> int:
    return request("GET", f"{base}/artifacts", token)["total"]


RAW = (
    "POST /artifacts?kind=data HTTP/1.1\nHost: localhost\nAuthorization: Bearer {token}\n"
    f"Content-Type: application/octet-stream\nContent-Length: {BODY}\n"
)
CHUNKED = (
    "POST /artifacts?kind=data HTTP/1.1\nHost: localhost\nAuthorization: Bearer {token}\n"
    "Content-Type: application/octet-stream\nTransfer-Encoding: chunked\n"
)
MULTIPART = (
    "POST /artifacts HTTP/1.1\nHost: localhost\nAuthorization: Bearer {token}\n"
    f"Content-Type: multipart/form-data; boundary=xyz\nContent-Length: {BODY}\n"
)
HALF = os.urandom(BODY // 2 + 7 * 1024 * 1024 // 2)  # past one S3 part (5 MiB in the tests)


@pytest.mark.parametrize(
    ("head", "first_bytes"),
    [
        (RAW, HALF[: BODY // 2]),
        (
            CHUNKED,
            b"".join(
                b"%x\r\n%s\r\n" % (65536, HALF[i : i + 65536])
                for i in range(0, len(HALF) - 65536, 65536)
            ),
        ),
        (
            MULTIPART,
            b'--xyz\r\nContent-Disposition: form-data; name="kind"\r\n\r\ndata\r\n'
            b'--xyz\r\nContent-Disposition: form-data; name="blob"; filename="b"\r\n\r\n'
            + HALF[: BODY // 2],
        ),
    ],
    ids=["raw", "chunked", "multipart"],
)
def test_a_client_gone_halfway_leaves_nothing(service, store_settings, head, first_bytes):
    base, token = service

    send_part_and_vanish(base, token, head, first_bytes)

    wait_for(lambda: leftovers(store_settings) == [], 20, "the aborted upload to be removed")
    assert artifacts_total(base, token) == 0
    request(
        "POST",
        f"{base}/artifacts?kind=data",
        token,
        HALF,
        **{"Content-Type": "application/octet-stream"},
    )
    assert artifacts_total(base, token) == 1
    assert leftovers(store_settings) != []
