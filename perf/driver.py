"""The load driver the perf scripts share: queries with their targets, N concurrent
keep-alive clients (one process each, so the driver never holds a GIL the measurement
waits on), and the measurements they take.

Every loop is bounded (a deadline and a request budget per query) and talks only to the
address it is given.
"""

from __future__ import annotations

import json
import multiprocessing
import socket
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Query:
    """One row of the table: what is asked, and the target it must meet."""

    label: str
    method: str
    path: str
    target_ms: float
    target_stat: str = "p99"
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    expect: int = 200


@dataclass
class Measurement:
    query: Query
    latencies_ms: list[float]
    errors: int
    seconds: float
    first_error: str = ""

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + self.errors

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    @property
    def met(self) -> bool:
        value = self.percentile(50 if self.query.target_stat == "p50" else 99)
        return self.errors == 0 and value <= self.query.target_ms


class Client:
    """One keep-alive HTTP/1.1 connection to the service, kept as cheap as possible.

    The driver shares the two cores with gunicorn and PostgreSQL, so every microsecond it
    spends shows in the service's latencies: requests are sent as prepared bytes and
    answers read by Content-Length (http.client parses headers with the email package,
    several times the cost). Only what the service sends is understood: Content-Length
    or chunked bodies.
    """

    def __init__(self, base: str) -> None:
        parts = urllib.parse.urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.prepared: dict[int, tuple[Query, bytes]] = {}

    def _bytes(self, query: Query) -> bytes:
        """The request as bytes, built once per query (kept with it, so that its id is not
        reused by another query)."""
        kept = self.prepared.get(id(query))
        if kept is None or kept[0] is not query:
            headers = {
                "Host": f"{self.host}:{self.port}",
                "Connection": "keep-alive",
                **query.headers,
                "Content-Length": str(len(query.body or b"")),
            }
            head = f"{query.method} {self.prefix}{query.path} HTTP/1.1\r\n" + "".join(
                f"{name}: {value}\r\n" for name, value in headers.items()
            )
            kept = self.prepared[id(query)] = (query, head.encode() + b"\r\n" + (query.body or b""))
        return kept[1]

    def request(self, query: Query) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.sock is None:
                self.sock = socket.create_connection((self.host, self.port), timeout=30)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.buffer = b""
            try:
                self.sock.sendall(self._bytes(query))
                return self._response()
            except (ConnectionResetError, BrokenPipeError, EOFError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            raise EOFError("connection closed")
        self.buffer += chunk

    def _response(self) -> tuple[int, bytes]:
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._fill()
        head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        if b"content-length" in headers:
            length = int(headers[b"content-length"])
            while len(self.buffer) < length:
                self._fill()
            body, self.buffer = self.buffer[:length], self.buffer[length:]
            return status, body
        if headers.get(b"transfer-encoding") == b"chunked":
            return status, self._chunked()
        return status, b""

    def _chunked(self) -> bytes:
        body = b""
        while True:
            while (end := self.buffer.find(b"\r\n")) < 0:
                self._fill()
            size = int(self.buffer[:end].split(b";")[0], 16)
            while len(self.buffer) < end + 2 + size + 2:
                self._fill()
            body += self.buffer[end + 2 : end + 2 + size]
            self.buffer = self.buffer[end + 2 + size + 2 :]
            if size == 0:
                return body

    def json(self, path: str, **kwargs: Any) -> Any:
        status, body = self.request(Query("setup", "GET", path, 0, **kwargs))
        if status >= 300:
            raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
        return json.loads(body)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _client_loop(
    base: str, query: Query, deadline: float, budget: int, out: multiprocessing.SimpleQueue
) -> None:
    """One client: its own process and keep-alive connection, until the deadline or its
    share of the budget; puts (latencies in ms, errors) on ``out``, whatever happens."""
    latencies: list[float] = []
    errors: list[str] = []
    try:
        _run_client(Client(base), query, deadline, budget, latencies, errors)
    except Exception as error:  # the parent waits for every client's answer
        errors.append(repr(error))
    out.put((latencies, errors))


def _run_client(
    client: Client,
    query: Query,
    deadline: float,
    budget: int,
    latencies: list[float],
    errors: list[str],
) -> None:
    for _ in range(3):  # warm the connection and the worker's caches
        client.request(query)
    while len(latencies) + len(errors) < budget and time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            status, body = client.request(query)
        except (OSError, EOFError) as error:
            errors.append(repr(error))
            client.close()
            continue
        elapsed = (time.perf_counter() - started) * 1000
        if status != query.expect:
            errors.append(f"{status} {body[:200]!r}")
        else:
            latencies.append(elapsed)
    client.close()


def measure(
    base: str, query: Query, clients: int, seconds: float, max_requests: int
) -> Measurement:
    """Run ``query`` from ``clients`` processes until ``seconds`` pass or ``max_requests``.

    Processes, not threads: client threads would share one interpreter lock, and a
    response that arrives while another client holds it waits for it (up to the 5 ms
    switch interval), which the latencies would count against the service."""
    context = multiprocessing.get_context("fork")
    out = context.SimpleQueue()
    started = time.monotonic()
    deadline = started + seconds
    workers = [
        context.Process(
            target=_client_loop,
            args=(base, query, deadline, -(-max_requests // clients), out),
            daemon=True,
        )
        for _ in range(clients)
    ]
    for worker in workers:
        worker.start()
    latencies: list[float] = []
    errors: list[str] = []
    for _ in workers:
        own_latencies, own_errors = out.get()
        latencies.extend(own_latencies)
        errors.extend(own_errors)
    for worker in workers:
        worker.join(timeout=30)
    return Measurement(
        query, latencies, len(errors), time.monotonic() - started, errors[0] if errors else ""
    )
