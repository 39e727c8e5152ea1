"""Artifact uploads and downloads through gunicorn as shipped: throughput and worker memory.

Starts gunicorn with the repository's ``gunicorn.conf.py`` and default settings (local
store in a temporary folder, a throw-away database on the PostgreSQL ``--server``), a
local OIDC issuer, then measures:

- one 2 GiB upload, raw and multipart (sha256 computed by the service on the way), and its
  download: MB/s and the growth of the serving worker's peak RSS (VmHWM, reset through
  /proc/PID/clear_refs before each phase);
- 16 concurrent 100 MB uploads: all must succeed, with the same memory bound.

Prints a markdown table with the machine's load; the stored files are deleted at the end::

    python perf/artifacts.py [--size-mib 2048] [--server postgresql://postgres@127.0.0.1/postgres]

Targets (issue 14): upload >= 200 MB/s, download >= 500 MB/s, peak RSS growth <= 64 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from backend.devtools.databases import throwaway_database  # noqa: E402
from backend.devtools.oidc_issuer import LocalIssuer  # noqa: E402
from perf.load import flask  # noqa: E402
from perf.service import DEFAULT_SERVER, memory_kib, start_gunicorn, worker_pids  # noqa: E402

MiB = 1024 * 1024
BLOCK = os.urandom(MiB)
MEMORY_TARGET_MB = 64
BOUNDARY = "perf-artifacts-boundary"


def blocks(size: int):
    """``size`` bytes: the random block repeated, each copy made distinct by its number
    (so the content is not one repeated MiB)."""
    sent = 0
    number = 0
    while sent < size:
        block = number.to_bytes(8, "big") + BLOCK[8:]
        block = block[: size - sent]
        yield block
        sent += len(block)
        number += 1


def expected_sha256(size: int) -> str:
    digest = hashlib.sha256()
    for block in blocks(size):
        digest.update(block)
    return digest.hexdigest()


def reset_peaks(pids: list[int]) -> dict[int, int]:
    """Reset each worker's peak RSS to its current RSS; the current RSS in KiB."""
    current = {}
    for pid in pids:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        current[pid] = memory_kib(pid)["VmRSS"]
    return current


def peak_growth_mb(pids: list[int], before: dict[int, int]) -> float:
    """The largest growth of a worker's peak RSS over its RSS at the reset, in MB."""
    return max((memory_kib(pid)["VmHWM"] - before[pid]) * 1024 / 1e6 for pid in pids)


def send_upload(base: str, token: str, size: int, multipart: bool) -> tuple[dict, float]:
    """POST ``size`` bytes (raw or as the file of a form); the answer and the seconds."""
    host, port = base.removeprefix("http://").split(":")
    if multipart:
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="kind"\r\n\r\ndata\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="blob"; '
            'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        path, content_type = "/artifacts", f"multipart/form-data; boundary={BOUNDARY}"
    else:
        head, tail = b"", b""
        path, content_type = "/artifacts?kind=data", "application/octet-stream"
    connection = http.client.HTTPConnection(host, int(port), timeout=600)
    start = time.perf_counter()
    connection.putrequest("POST", path)
    connection.putheader("Authorization", f"Bearer {token}")
    connection.putheader("Content-Type", content_type)
    connection.putheader("Content-Length", str(len(head) + size + len(tail)))
    connection.endheaders()
    connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * MiB)
    connection.send(head)
    for block in blocks(size):
        connection.sock.sendall(block)
    connection.send(tail)
    response = connection.getresponse()
    body = response.read()
    seconds = time.perf_counter() - start
    connection.close()
    if response.status != 201:
        raise RuntimeError(f"upload: {response.status} {body[:300]!r}")
    return json.loads(body), seconds


def download(base: str, token: str, artifact_id: str) -> tuple[int, float]:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=600)
    start = time.perf_counter()
    connection.request(
        "GET", f"/artifacts/{artifact_id}/blob", headers={"Authorization": f"Bearer {token}"}
    )
    response = connection.getresponse()
    received = 0
    while chunk := response.read(4 * MiB):
        received += len(chunk)
    seconds = time.perf_counter() - start
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"download: {response.status}")
    return received, seconds


def delete(base: str, token: str, artifact_id: str) -> None:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.request(
        "DELETE", f"/artifacts/{artifact_id}", headers={"Authorization": f"Bearer {token}"}
    )
    if connection.getresponse().status != 204:
        raise RuntimeError("delete failed")
    connection.close()


def register(base: str, token: str) -> None:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("POST", "/users:register", headers={"Authorization": f"Bearer {token}"})
    status = connection.getresponse().status
    if status not in {201, 409}:
        raise RuntimeError(f"register: {status}")


def row(
    label: str, rate: float, growth: float, target: int | None, met: bool, note: str = ""
) -> tuple[str, ...]:
    """A line of the table; ``target`` in MB/s (None: all must succeed)."""
    wanted = f">= {target} MB/s" if target else "all succeed"
    return (
        label,
        f"{rate:,.0f} MB/s{note}",
        f"{growth:.1f}",
        f"{wanted}, <= {MEMORY_TARGET_MB} MB",
        "yes" if met else "no",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=2048, help="The big artifact's size.")
    parser.add_argument("--concurrent", type=int, default=16, help="Concurrent uploads.")
    parser.add_argument("--concurrent-mb", type=int, default=100, help="Each one's size (MB).")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="The PostgreSQL server.")
    args = parser.parse_args(argv)
    size = args.size_mib * MiB
    rows: list[tuple[str, ...]] = []

    with ExitStack() as stack:
        folder = Path(tempfile.mkdtemp(prefix="perf-artifacts-"))
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        database = stack.enter_context(throwaway_database(args.server, folder, "perf_artifacts"))
        flask(database, "db", "upgrade")
        issuer = LocalIssuer(folder / "issuer").start()
        stack.callback(issuer.stop)
        os.environ["ARTIFACT_STORE"] = f"file://{folder / 'store'}"
        process, base = start_gunicorn(database, issuer)
        stack.callback(lambda: (os.killpg(process.pid, 15), process.wait(timeout=30)))
        token = issuer.mint("perf-artifacts", email="perf-artifacts@example.org")
        register(base, token)
        for _ in range(4):  # every worker and thread has imported what uploads need
            warm, _ = send_upload(base, token, MiB, multipart=False)
            download(base, token, warm["id"])
            delete(base, token, warm["id"])
        pids = worker_pids(process.pid)
        expected = expected_sha256(size)

        for multipart in (False, True):
            label = "multipart" if multipart else "raw"
            before = reset_peaks(pids)
            answer, seconds = send_upload(base, token, size, multipart)
            growth = peak_growth_mb(pids, before)
            assert answer["sha256"] == expected, "the stored bytes differ"
            rate = size / seconds / 1e6
            met = rate >= 200 and growth <= MEMORY_TARGET_MB
            rows.append(row(f"upload {args.size_mib} MiB ({label})", rate, growth, 200, met))
            if not multipart:
                before = reset_peaks(pids)
                received, seconds = download(base, token, answer["id"])
                growth = peak_growth_mb(pids, before)
                assert received == size
                rate = size / seconds / 1e6
                met = rate >= 500 and growth <= MEMORY_TARGET_MB
                rows.append(row(f"download {args.size_mib} MiB", rate, growth, 500, met))
            delete(base, token, answer["id"])

        each = args.concurrent_mb * 1_000_000
        before = reset_peaks(pids)
        answers: list[dict | Exception] = []

        def one() -> None:
            try:
                answers.append(send_upload(base, token, each, multipart=False)[0])
            except Exception as error:  # counted as a failure below
                answers.append(error)

        threads = [threading.Thread(target=one) for _ in range(args.concurrent)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - start
        growth = peak_growth_mb(pids, before)
        succeeded = [a for a in answers if isinstance(a, dict)]
        rate = len(succeeded) * each / seconds / 1e6
        met = len(succeeded) == args.concurrent and growth <= MEMORY_TARGET_MB
        label = f"{args.concurrent} concurrent {args.concurrent_mb} MB uploads"
        rows.append(row(label, rate, growth, None, met, f" ({len(succeeded)} ok)"))
        for answer in succeeded:
            delete(base, token, answer["id"])
        load = os.getloadavg()

    print(f"\ngunicorn as shipped (gunicorn.conf.py defaults), local store, "
          f"PostgreSQL; load average {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f} on {os.cpu_count()} cores\n")  # fmt: skip
    print("| transfer | throughput | worker peak RSS growth MB | target | met |")
    print("|---|---:|---:|---|---|")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
