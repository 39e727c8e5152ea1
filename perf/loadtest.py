"""Load test at scale: the issue's queries, N concurrent keep-alive clients, a markdown table.

Starts gunicorn (with the repository's ``gunicorn.conf.py``, workers and threads from the
command line) on a database loaded by ``perf/load.py`` — or measures a running service
given by ``--url`` — and a local OIDC issuer whose tokens the service trusts, then runs
each query of the issue's table for a fixed time with ``--clients`` processes, each on its
own keep-alive connection (``perf/driver.py``). Prints req/s, p50, p99 and errors per
query, the workers' peak resident memory (VmHWM from /proc), and writes the table as
markdown::

    python perf/loadtest.py --database perf_1m --output perf/data/table.md

Every loop is bounded (``--seconds`` and ``--max-requests`` per query) and talks only to
127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import urllib.parse
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from backend.devtools.oidc_issuer import LocalIssuer  # noqa: E402
from perf import generate  # noqa: E402
from perf.driver import Client, Measurement, Query, measure  # noqa: E402
from perf.service import (  # noqa: E402
    DEFAULT_SERVER,
    changed_settings,
    memory_kib,
    running_service,
    worker_pids,
)

C_RAY_SAMPLE = ROOT / "backend" / "devtools" / "sample_data" / "c-ray" / "cesnet-mcc-8.json"


@dataclass(frozen=True)
class DataIds:
    """Ids of the data set the queries name: the c-ray benchmark (B), the first generated
    site (S) and its ``hpc`` flavor (F), a generated tag (T), and the result on page 1,000."""

    benchmark: str
    site: str
    site_name: str
    flavor: str
    tag: str
    result: str


def pick_ids(client: Client) -> DataIds:
    """B, S, F, T and a result id of a ``perf/load.py`` data set, looked up through the API."""
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
    return DataIds(c_ray["id"], site["id"], site["name"], flavor["id"], tag["id"], result_id)


def list_queries(ids: DataIds) -> list[Query]:
    """The issue's list queries: pages of /results under each kind of filter and sort, a
    search, a deep page (each with this script's p99 target)."""
    b = ids.benchmark
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
        Query("`/results?tags_ids=T`", "GET", f"/results?tags_ids={ids.tag}", 150),
        Query(
            "`/results?site_id=S&flavor_id=F`",
            "GET",
            f"/results?site_id={ids.site}&flavor_id={ids.flavor}",
            150,
        ),
        Query(
            "`/results:search?terms=<site name>`",
            "GET",
            f"/results:search?terms={q(ids.site_name)}",
            200,
        ),
        Query("`/results?page=500` (deep page)", "GET", "/results?page=500", 200),
    ]  # fmt: skip


def build_queries(base: str, issuer: LocalIssuer) -> list[Query]:
    """The issue's table, with ids looked up through the API itself."""
    client = Client(base)
    ids = pick_ids(client)
    token = issuer.mint("perf-poster", email="perf-poster@example.org")
    auth = {"Authorization": f"Bearer {token}"}
    status, _ = client.request(Query("register", "POST", "/users:register", 0, headers=auth))
    if status not in {201, 409}:
        raise RuntimeError(f"POST /users:register: {status}")
    client.close()
    post_query = urllib.parse.urlencode(
        {
            "execution_datetime": datetime(2024, 6, 1, tzinfo=UTC).isoformat(),
            "benchmark_id": ids.benchmark,
            "flavor_id": ids.flavor,
        }
    )
    return [
        *list_queries(ids),
        Query("`/results/{id}`", "GET", f"/results/{ids.result}", 20),
        Query("`/sites`", "GET", "/sites", 20),
        Query("`/benchmarks`", "GET", "/benchmarks", 20),
        Query("`/sites/{id}/flavors`", "GET", f"/sites/{ids.site}/flavors", 20),
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
                if changed_settings():
                    setup += f", {changed_settings()}"
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
