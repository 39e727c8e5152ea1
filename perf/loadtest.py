"""Load driver: the issue's queries, N concurrent keep-alive clients, a markdown table.

Starts gunicorn (with the repository's ``gunicorn.conf.py``, workers and threads from the
command line) on a database loaded by ``perf/load.py`` — or measures a running service
given by ``--url`` — and a local OIDC issuer whose tokens the service trusts, then runs
each query of the issue's table for a fixed time with ``--clients`` processes, each on its
own keep-alive connection. Prints req/s, p50, p99 and errors per query, the workers' peak
resident memory (VmHWM from /proc), and writes the table as markdown::

    python perf/loadtest.py --database perf_1m --output perf/data/table.md

Every loop is bounded (``--seconds`` and ``--max-requests`` per query) and talks only to
127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from backend.devtools.oidc_issuer import LocalIssuer  # noqa: E402
from backend.settings import database_uri  # noqa: E402
from perf import generate  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
C_RAY_SAMPLE = ROOT / "backend" / "devtools" / "sample_data" / "c-ray" / "cesnet-mcc-8.json"


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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(base: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            Client(base).json("/health")
            return
        except (OSError, RuntimeError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def memory_kib(pid: int) -> dict[str, int]:
    """VmHWM (peak) and VmRSS (now) of a process, in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in {"VmHWM", "VmRSS"}:
            values[name] = int(rest.split()[0])
    return values


def start_gunicorn(
    database_url: str,
    issuer: LocalIssuer,
    workers: int | None = None,
    threads: int | None = None,
    access_log: Path | None = None,
) -> tuple[subprocess.Popen, str]:
    """gunicorn with the deployment's ``gunicorn.conf.py``: its defaults unless ``workers``
    or ``threads`` are given; the access log (stdout) goes to ``access_log``, or nowhere."""
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": "perf-secret",
        "DATABASE_URL": database_url,
        "TRUSTED_OP_LIST": issuer.url,
        "REQUESTS_CA_BUNDLE": str(issuer.ca_bundle),
        "SSL_CERT_FILE": str(issuer.ca_bundle),
        "IMAGE_VALIDATION": "off",
        "NOTIFICATIONS_DELIVERY": "off",
        "LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"),
        "--bind", f"127.0.0.1:{port}", "backend:create_app()",
    ]  # fmt: skip
    if workers is not None:
        command += ["--workers", str(workers)]
    if threads is not None:
        command += ["--threads", str(threads)]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=open(access_log, "w") if access_log else subprocess.DEVNULL,  # noqa: SIM115
        stderr=open(Path(tempfile.gettempdir()) / "perf-gunicorn.log", "w"),  # noqa: SIM115
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base)
    return process, base


@contextmanager
def running_service(
    database: str, server: str, issuer: LocalIssuer, **gunicorn: Any
) -> Iterator[tuple[subprocess.Popen, str]]:
    """gunicorn (``start_gunicorn``'s options) on the database ``database`` of ``server``,
    stopped at the end, also when this script gets SIGTERM (a time-out, CI)."""
    from sqlalchemy import make_url

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    url = make_url(database_uri(server)).set(database=database)
    process, base = start_gunicorn(url.render_as_string(hide_password=False), issuer, **gunicorn)
    try:
        yield process, base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def build_queries(base: str, issuer: LocalIssuer) -> list[Query]:
    """The issue's table, with ids looked up through the API itself."""
    client = Client(base)
    benchmarks = client.json("/benchmarks?per_page=100")["items"]
    c_ray = next(
        b for b in benchmarks if f"{b['docker_image']}:{b['docker_tag']}" == generate.C_RAY
    )
    sites = {s["name"]: s for s in client.json("/sites?per_page=100")["items"]}
    site = sites[generate.SITES[0]]
    flavors = client.json(f"/sites/{site['id']}/flavors?per_page=100")["items"]
    flavor = next(f for f in flavors if f["name"] == "hpc")
    tags = client.json("/tags?per_page=100")["items"]
    tag = next(t for t in tags if t["name"] == generate.TAGS[3])
    result_id = client.json("/results?per_page=1&page=1000")["items"][0]["id"]

    token = issuer.mint("perf-poster", email="perf-poster@example.org")
    auth = {"Authorization": f"Bearer {token}"}
    status, _ = client.request(Query("register", "POST", "/users:register", 0, headers=auth))
    if status not in {201, 409}:
        raise RuntimeError(f"POST /users:register: {status}")
    client.close()
    post_query = urllib.parse.urlencode(
        {
            "execution_datetime": datetime(2024, 6, 1, tzinfo=UTC).isoformat(),
            "benchmark_id": c_ray["id"],
            "flavor_id": flavor["id"],
        }
    )
    b = c_ray["id"]
    q = urllib.parse.quote
    return [
        Query("`/results?per_page=100` (default sort)", "GET", "/results?per_page=100", 150),
        Query(
            "`/results?benchmark_id=B&per_page=100`",
            "GET",
            f"/results?benchmark_id={b}&per_page=100",
            150,
        ),
        Query(
            "`/results?benchmark_id=B&filters=machine.cpu.count > 4"
            "&filters=machine.cpu.count < 20`",
            "GET",
            f"/results?benchmark_id={b}&filters={q('machine.cpu.count > 4')}"
            f"&filters={q('machine.cpu.count < 20')}",
            150,
        ),
        Query(
            "`/results?benchmark_id=B&sort_by=-json.result.score`",
            "GET",
            f"/results?benchmark_id={b}&sort_by=-json.result.score",
            150,
        ),
        Query("`/results?tags_ids=T`", "GET", f"/results?tags_ids={tag['id']}", 150),
        Query(
            "`/results?site_id=S&flavor_id=F`",
            "GET",
            f"/results?site_id={site['id']}&flavor_id={flavor['id']}",
            150,
        ),
        Query(
            "`/results:search?terms=<site name>`",
            "GET",
            f"/results:search?terms={q(site['name'])}",
            200,
        ),
        Query("`/results?page=500` (deep page)", "GET", "/results?page=500", 200),
        Query("`/results/{id}`", "GET", f"/results/{result_id}", 20),
        Query("`/sites`", "GET", "/sites", 20),
        Query("`/benchmarks`", "GET", "/benchmarks", 20),
        Query("`/sites/{id}/flavors`", "GET", f"/sites/{site['id']}/flavors", 20),
        Query(
            "`POST /results` (one c-ray result)",
            "POST",
            f"/results?{post_query}",
            20,
            target_stat="p50",
            body=C_RAY_SAMPLE.read_bytes(),
            headers={**auth, "Content-Type": "application/json"},
            expect=201,
        ),
    ]  # fmt: skip


def table(measurements: list[Measurement], memory: dict[int, dict[str, int]], setup: str) -> str:
    lines = [
        f"Setup: {setup}",
        "",
        "| query | req/s | p50 ms | p99 ms | errors | target | met |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for m in measurements:
        lines.append(
            f"| {m.query.label} | {m.requests / m.seconds:,.0f} | {m.percentile(50):.1f} "
            f"| {m.percentile(99):.1f} | {m.errors} "
            f"| {m.query.target_stat} ≤ {m.query.target_ms:g} ms | {'yes' if m.met else 'NO'} |"
        )
    if memory:
        peaks = ", ".join(f"{v['VmHWM'] / 1024:.0f}" for v in memory.values())
        lines += ["", f"Worker peak RSS (VmHWM), MiB: {peaks} (target ≤ 150 each)"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--database", help="a database made by perf/load.py (perf_<name>)")
    where.add_argument("--url", help="a running service (its issuer must be --issuer-dir's)")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL of --database")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (gthread)")
    parser.add_argument("--threads", type=int, default=2, help="threads per worker")
    parser.add_argument("--clients", type=int, default=4, help="concurrent keep-alive clients")
    parser.add_argument("--seconds", type=float, default=15, help="time per query")
    parser.add_argument("--max-requests", type=int, default=20000, help="cap per query")
    parser.add_argument(
        "--only", help="run only the queries whose label contains one of these ('|'-separated)"
    )
    parser.add_argument("--issuer-dir", type=Path, help="state folder of the local issuer")
    parser.add_argument("--output", type=Path, help="also write the markdown table here")
    args = parser.parse_args(argv)

    state = args.issuer_dir or Path(tempfile.mkdtemp(prefix="perf-issuer-"))
    issuer = LocalIssuer(state).start()
    try:
        with ExitStack() as service:
            process = None
            if args.url:
                base, setup = args.url.rstrip("/"), f"service at {args.url}"
            else:
                process, base = service.enter_context(
                    running_service(
                        args.database,
                        args.server,
                        issuer,
                        workers=args.workers,
                        threads=args.threads,
                    )
                )
                setup = (
                    f"gunicorn gthread, {args.workers} workers x {args.threads} threads, "
                    f"database {args.database}"
                )
            setup += f"; {args.clients} keep-alive clients, {args.seconds:g} s per query"
            load_before = os.getloadavg()[0]
            queries = build_queries(base, issuer)
            if args.only:
                wanted = args.only.split("|")
                queries = [
                    query for query in queries if any(part in query.label for part in wanted)
                ]
            measurements = []
            for query in queries:
                m = measure(base, query, args.clients, args.seconds, args.max_requests)
                measurements.append(m)
                print(
                    f"{query.label}: {m.requests / m.seconds:.0f} req/s, "
                    f"p50 {m.percentile(50):.1f} ms, p99 {m.percentile(99):.1f} ms, "
                    f"errors {m.errors} {m.first_error[:200]}",
                    flush=True,
                )
            memory = {pid: memory_kib(pid) for pid in worker_pids(process.pid)} if process else {}
            # Anything else running on the machine shows in the p99: say how busy it was.
            setup += f"; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
            report = table(measurements, memory, setup)
            print()
            print(report)
            if args.output:
                args.output.write_text(report)
    finally:
        issuer.stop()


if __name__ == "__main__":
    main()
