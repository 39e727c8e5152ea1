"""The experiments targets of issue 13, measured against gunicorn as shipped on PostgreSQL.

Makes a fresh database ``perf_experiments`` (migrated), starts gunicorn with the
repository's ``gunicorn.conf.py`` and its defaults, registers a user with a token of a
local OIDC issuer, then:

1. ``POST /latencies`` of 10 jobs x 1,000,000 samples (lognormal, ~19 MB of JSON each)
   into one experiment, one after the other: p50 and max seconds, workers' peak RSS;
2. the bytes per stored sample (``pg_total_relation_size`` of ``latency_chunks``);
3. ``GET /experiments/{id}/stats`` from 4 clients (``perf/loadtest.py``'s driver): p99;
4. ``GET /latencies/{id}`` of the 10 x 1M samples: samples/s to the client and how much
   the workers' RSS grew;
5. ``POST /qps`` to new jobs, one client: p50.

Each figure comes with the workers' CPU time per request (``/proc/<pid>/stat``), which
other work on a shared machine does not inflate as it does wall time; the load average
before and after is printed above the table.

    python perf/experiments.py [--server postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import numpy as np
import orjson
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from backend.devtools.oidc_issuer import LocalIssuer  # noqa: E402
from perf.driver import Client, Query, measure  # noqa: E402
from perf.load import DEFAULT_SERVER, create_database, database_url, drop_database, flask  # noqa: E402
from perf.service import memory_kib, running_service, worker_pids  # noqa: E402

NAME = "experiments"
JOBS = 10
SAMPLES = 1_000_000
EXPERIMENT = "perf-sweep"


def workers_memory(master: int) -> dict[int, dict[str, int]]:
    return {pid: memory_kib(pid) for pid in worker_pids(master)}


def workers_cpu(master: int) -> float:
    """CPU seconds (user + system) the workers have used so far: on a machine shared with
    other work, a request's CPU time says what wall time cannot."""
    total = 0
    for pid in worker_pids(master):
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def post(client: Client, path: str, body: bytes, headers: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    status, answer = client.request(Query("post", "POST", path, 0, body=body, headers=headers))
    if status != 201:
        raise RuntimeError(f"POST {path}: {status} {answer[:300]!r}")
    return time.perf_counter() - started, status


def stream(base: str, path: str) -> tuple[int, int, int]:
    """GET a streamed answer, counting its bytes and commas as they come (no copy of it)."""
    parts = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    connection.request("GET", path)
    response = connection.getresponse()
    size = commas = 0
    while block := response.read(1 << 20):
        size += len(block)
        commas += block.count(b",")
    connection.close()
    return response.status, size, commas


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--seconds", type=float, default=10, help="stats measurement time")
    parser.add_argument("--keep", action="store_true", help="keep perf_experiments")
    args = parser.parse_args(argv)

    create_database(args.server, NAME, replace=True)
    url = database_url(args.server, NAME)
    flask(url, "db", "upgrade")
    issuer = LocalIssuer(Path(tempfile.mkdtemp(prefix="perf-issuer-"))).start()
    load_before = os.getloadavg()
    rows: list[tuple[str, str, str, bool]] = []
    try:
        with running_service(f"perf_{NAME}", args.server, issuer) as (process, base):
            token = issuer.mint("perf-writer", email="perf-writer@example.org")
            auth = {"Authorization": f"Bearer {token}"}
            json_auth = {**auth, "Content-Type": "application/json"}
            client = Client(base)
            status, _ = client.request(
                Query("register", "POST", "/users:register", 0, headers=auth)
            )
            assert status in {201, 409}, status

            idle = max(m["VmRSS"] for m in workers_memory(process.pid).values()) / 1024
            print(f"workers' resident memory before the first write: {idle:.0f} MiB")
            rng = np.random.default_rng(13)
            seconds, cpu = [], []
            for job in range(JOBS):
                latencies = rng.lognormal(-5, 1, SAMPLES)
                body = orjson.dumps(
                    {"experiment_id": EXPERIMENT, "selector": f"job-{job}", "latencies": latencies},
                    option=orjson.OPT_SERIALIZE_NUMPY,
                )
                time.sleep(2)  # the previous write's merged percentiles are done by now
                used = workers_cpu(process.pid)
                elapsed, _ = post(client, "/latencies", body, json_auth)
                seconds.append(elapsed)
                cpu.append(workers_cpu(process.pid) - used)
                print(
                    f"POST /latencies job {job}: {elapsed:.2f} s, {cpu[-1]:.2f} s CPU "
                    f"({len(body) / 1e6:.1f} MB)"
                )
            peak = max(m["VmHWM"] for m in workers_memory(process.pid).values()) / 1024
            p50 = statistics.median(seconds)
            rows.append(
                (
                    f"`POST /latencies` 1,000,000 samples ({len(body) / 1e6:.0f} MB), "
                    f"jobs 1-{JOBS} of one experiment",
                    f"p50 {p50:.2f} s (CPU {statistics.median(cpu):.2f} s), max "
                    f"{max(seconds):.2f} s; worker peak RSS {peak:.0f} MiB",
                    "p50 <= 1.0 s; peak RSS <= 300 MB",
                    p50 <= 1.0 and peak * 1.048576 <= 300,
                )
            )

            engine = create_engine(url)
            with engine.connect() as connection:
                size = connection.execute(
                    text("SELECT pg_total_relation_size('latency_chunks')")
                ).scalar_one()
            engine.dispose()
            per_sample = size / (JOBS * SAMPLES)
            rows.append(
                (
                    "stored size of the latencies (PostgreSQL)",
                    f"{per_sample:.2f} bytes/sample",
                    "<= 9 bytes/sample",
                    per_sample <= 9,
                )
            )

            time.sleep(10)  # the merged percentiles of the last write are completed after it
            used = workers_cpu(process.pid)
            stats = measure(
                base,
                Query("stats", "GET", f"/experiments/{EXPERIMENT}/stats", 20),
                clients=4,
                seconds=args.seconds,
                max_requests=100_000,
            )
            p99 = stats.percentile(99)
            stats_cpu = (workers_cpu(process.pid) - used) / max(stats.requests, 1) * 1000
            rows.append(
                (
                    f"`GET /experiments/{{id}}/stats`, {JOBS} x 1M samples, 4 clients",
                    f"{stats.requests / stats.seconds:.0f} req/s, p50 "
                    f"{stats.percentile(50):.1f} ms, p99 {p99:.1f} ms, {stats.errors} errors; "
                    f"CPU {stats_cpu:.1f} ms/request",
                    "p99 <= 20 ms",
                    stats.met,
                )
            )

            before = workers_memory(process.pid)
            used = workers_cpu(process.pid)
            started = time.perf_counter()
            status, size, commas = stream(base, f"/latencies/{EXPERIMENT}")
            elapsed = time.perf_counter() - started
            after = workers_memory(process.pid)
            stream_cpu = workers_cpu(process.pid) - used
            count = commas - (3 * JOBS - 1) + JOBS  # less the commas of the JSON around
            rate = JOBS * SAMPLES / elapsed
            growth = max(after[pid]["VmRSS"] - before[pid]["VmRSS"] for pid in after) / 1024
            rows.append(
                (
                    f"`GET /latencies/{{id}}`, {JOBS} x 1M samples ({size / 1e6:.0f} MB)",
                    f"{rate / 1e6:.1f} M samples/s ({elapsed:.2f} s, CPU {stream_cpu:.2f} s); "
                    "worker RSS grew "
                    f"{growth:.0f} MiB",
                    ">= 5M samples/s; RSS growth <= 50 MB",
                    status == 200 and rate >= 5e6 and growth * 1.048576 <= 50,
                )
            )
            assert count == JOBS * SAMPLES, count

            qps_seconds = []
            used = workers_cpu(process.pid)
            for index in range(300):
                body = orjson.dumps(
                    {"experiment_id": "perf-qps", "selector": f"job-{index}", "qps": 100.0 + index}
                )
                qps_seconds.append(post(client, "/qps", body, json_auth)[0] * 1000)
            qps_cpu = (workers_cpu(process.pid) - used) / len(qps_seconds) * 1000
            qps_p50 = statistics.median(qps_seconds[20:])
            rows.append(
                (
                    "`POST /qps`, one client",
                    f"p50 {qps_p50:.1f} ms, p99 {np.percentile(qps_seconds[20:], 99):.1f} ms; "
                    f"CPU {qps_cpu:.1f} ms/request",
                    "p50 <= 10 ms",
                    qps_p50 <= 10,
                )
            )
            client.close()
    finally:
        issuer.stop()
        if not args.keep:
            drop_database(args.server, NAME)

    print()
    before = ", ".join(f"{load:.2f}" for load in load_before)
    after = ", ".join(f"{load:.2f}" for load in os.getloadavg())
    print(f"load average (1, 5, 15 min) before: {before}; after: {after}")
    print("| operation | figure | target | met |")
    print("|---|---|---|---|")
    for operation, measured, target, met in rows:
        print(f"| {operation} | {measured} | {target} | {'yes' if met else 'no'} |")


if __name__ == "__main__":
    main()
