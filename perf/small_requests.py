"""The small requests every page view and notebook makes first, measured with wrk.

Starts gunicorn exactly as a deployment gets it (the repository's ``gunicorn.conf.py`` with
its defaults, the JSON access log on, written to a file as a container runtime would
collect it) on a database loaded by ``perf/load.py``, and a local OIDC issuer it trusts;
then runs ``wrk -t1 -c4`` (a C load generator that leaves the cores to the service) for
each route and prints req/s and p99 beside the targets, as a markdown table::

    python perf/load.py --generate 100000 --name 100k
    python perf/small_requests.py --database perf_100k

The list queries (pages of ``/results`` under each filter and sort, a search, a deep page)
are ``perf/loadtest.py``'s, with the ids it picks; their target here is the issue's
>= 150 req/s each. wrk comes from Debian (installed by this script with apt-get when
missing). Only 127.0.0.1 is contacted; every run is bounded by ``--seconds``.
``--access-log off`` and ``--workers``/``--threads`` measure other configurations for
comparison.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from backend.devtools.oidc_issuer import LocalIssuer  # noqa: E402
from perf.driver import Client, Query  # noqa: E402
from perf.loadtest import list_queries, pick_ids  # noqa: E402
from perf.service import DEFAULT_SERVER, changed_settings, running_service, worker_pids  # noqa: E402


@dataclass
class Route:
    label: str
    path: str
    min_rps: float
    max_p99_ms: float | None = None
    headers: tuple[str, ...] = ()


@dataclass
class WrkResult:
    rps: float
    p99_ms: float
    non_2xx: int
    errors: int
    requests: int
    #: CPU time the gunicorn workers spent per request (user + system), in microseconds:
    #: unlike req/s, barely moved by whatever else runs on the machine.
    worker_cpu_us: float = float("nan")


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk from Debian's packages ...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return shutil.which("wrk") or sys.exit("wrk could not be installed")


def _milliseconds(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(wrk: str, url: str, route: Route, seconds: float, connections: int) -> WrkResult:
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", url + route.path]
    for header in route.headers:
        command += ["-H", header]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = _milliseconds(re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    errors = sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1))) if socket_errors else 0
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    return WrkResult(rps, p99, int(non_2xx.group(1)) if non_2xx else 0, errors, requests)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` so far (their threads included)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


#: The issue's target for every list query of the Performance table (10x the reference).
LIST_MIN_RPS = 150


def build_routes(base: str, issuer: LocalIssuer) -> list[Route]:
    """The issue's routes, with ids looked up through the API itself (as
    ``perf/loadtest.py`` picks them), then every list query of the Performance table."""
    client = Client(base)
    ids = pick_ids(client)
    token = issuer.mint("perf-reader", email="perf-reader@example.org")
    bearer = f"Bearer {token}"
    status, _ = client.request(
        Query("register", "POST", "/users:register", 0, headers={"Authorization": bearer})
    )
    if status not in {201, 409}:
        raise RuntimeError(f"POST /users:register: {status}")
    client.close()
    catalogue = 2400
    return [
        Route("`/sites`", "/sites", catalogue, 5),
        Route("`/benchmarks`", "/benchmarks", catalogue, 5),
        Route("`/sites/{id}/flavors`", f"/sites/{ids.site}/flavors", catalogue, 5),
        Route("`/tags`", "/tags", catalogue, 5),
        Route("`/flavors/{id}`", f"/flavors/{ids.flavor}", catalogue, 5),
        Route("`/benchmarks/{id}`", f"/benchmarks/{ids.benchmark}", catalogue, 5),
        Route("`/results/{id}`", f"/results/{ids.result}", 1500, 8),
        Route("`/benchmarks:search?terms=`", "/benchmarks:search?terms=c-ray", 2000),
        Route("`/sites:search?terms=`", "/sites:search?terms=cloud", 2000),
        Route("`/tags:search?terms=`", "/tags:search?terms=gpu", 2000),
        Route("`/users/self` (token)", "/users/self", 1000, headers=(f"Authorization: {bearer}",)),
        *(Route(query.label, query.path, LIST_MIN_RPS) for query in list_queries(ids)),
    ]


def table(rows: list[tuple[Route, WrkResult]], setup: str) -> str:
    """The README's table (route, req/s, p99, target, met), then the workers' CPU per
    request, which compares variants on a busy machine better than req/s does."""
    lines = [
        f"Setup: {setup}",
        "",
        "| route | req/s | p99 ms | target | met |",
        "|---|---:|---:|---|---|",
    ]
    for route, result in rows:
        target = f"≥ {route.min_rps:,.0f} req/s"
        failed = result.non_2xx + result.errors
        met = result.rps >= route.min_rps and failed == 0
        if route.max_p99_ms is not None:
            target += f", p99 ≤ {route.max_p99_ms:g} ms"
            met = met and result.p99_ms <= route.max_p99_ms
        verdict = "yes" if met else "no"
        if failed:
            verdict += f" ({failed:,} errors)"
        lines.append(
            f"| {route.label} | {result.rps:,.0f} | {result.p99_ms:.1f} | {target} | {verdict} |"
        )
    lines += ["", "Worker CPU per request (user + system, all workers):", ""]
    lines += [f"- {route.label}: {result.worker_cpu_us:,.0f} µs" for route, result in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="a database made by perf/load.py")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL of --database")
    parser.add_argument("--seconds", type=float, default=10, help="wrk duration per route")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: the config's)")
    parser.add_argument("--threads", type=int, help="threads per worker (default: the config's)")
    parser.add_argument("--access-log", choices=["on", "off"], default="on")
    parser.add_argument("--only", help="only routes whose label contains one of these ('|')")
    parser.add_argument("--output", type=Path, help="also write the markdown table here")
    args = parser.parse_args(argv)

    # A SIGTERM (timeout, CI) must still stop gunicorn and the issuer in the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    wrk = ensure_wrk()
    state = Path(tempfile.mkdtemp(prefix="perf-issuer-"))
    issuer = LocalIssuer(state).start()
    log = state / "access.log" if args.access_log == "on" else None
    load_before = os.getloadavg()[0]
    try:
        with running_service(
            args.database,
            args.server,
            issuer,
            workers=args.workers,
            threads=args.threads,
            access_log=log,
        ) as (process, base):
            rows = measure_routes(wrk, base, issuer, args, worker_pids(process.pid))
        configuration = "its defaults"
        if args.workers or args.threads:
            configuration = f"workers {args.workers or '-'}, threads {args.threads or '-'}"
        if changed_settings():
            configuration += f"; {changed_settings()}"
        setup = (
            f"gunicorn with gunicorn.conf.py ({configuration}), "
            f"access log {args.access_log}; database {args.database}; "
            f"wrk -t1 -c{args.connections} -d{args.seconds:g}s; "
            f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
        )
        report = table(rows, setup)
        print()
        print(report)
        if args.output:
            args.output.write_text(report)
    finally:
        issuer.stop()


def measure_routes(
    wrk: str, base: str, issuer: LocalIssuer, args: argparse.Namespace, workers: list[int]
) -> list[tuple[Route, WrkResult]]:
    routes = build_routes(base, issuer)
    if args.only:
        wanted = args.only.split("|")
        routes = [route for route in routes if any(part in route.label for part in wanted)]
    rows = []
    for route in routes:
        run_wrk(wrk, base, route, 1, args.connections)  # warm every worker's cache
        cpu_before = cpu_seconds(workers)
        result = run_wrk(wrk, base, route, args.seconds, args.connections)
        result.worker_cpu_us = (cpu_seconds(workers) - cpu_before) / result.requests * 1e6
        rows.append((route, result))
        print(
            f"{route.label}: {result.rps:,.0f} req/s, p99 {result.p99_ms:.1f} ms, "
            f"{result.worker_cpu_us:,.0f} µs worker CPU per request",
            flush=True,
        )
    return rows


if __name__ == "__main__":
    main()
