"""Measure /results:aggregate and /results:export at scale (issue 12's targets).

Starts gunicorn as shipped (``gunicorn.conf.py`` and its defaults, unless ``--workers`` or
``--threads``) on a database made by ``perf/load.py`` and prints:

- the aggregate ``group_by=site,flavor`` over the c-ray benchmark (40% of the results) of
  ``result.score``: the first (cold) request's time, then req/s, p50 and p99 under
  ``--clients`` concurrent keep-alive clients (``perf/loadtest.py``'s driver), target
  p99 <= 300 ms;
- each export format of every result (default columns, or ``--columns``): rows, bytes,
  rows/s (target >= 50,000), the serving worker's RSS growth, sampled from /proc
  every 50 ms during the export (target <= 50 MB), and the workers' CPU time per 1,000
  rows. Four small exports (the results of the first two weeks of 2019, 0.6% of a
  perf/generate.py data set, on new connections) come first, so that what a worker's
  first export loads once (pyarrow's libraries and memory pool: about 100 MiB, whatever
  the export's size) is not counted as the export's growth; their growth is printed too.

    python perf/analysis.py --database perf_1m

The load average is printed with the figures: other work on the same cores slows both.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from backend.devtools.oidc_issuer import LocalIssuer  # noqa: E402
from perf import generate  # noqa: E402
from perf.driver import Client, Query, measure  # noqa: E402
from perf.service import DEFAULT_SERVER, memory_kib, running_service, worker_pids  # noqa: E402


def c_ray_id(base: str) -> str:
    client = Client(base)
    benchmarks = client.json("/benchmarks?per_page=100")["items"]
    client.close()
    return next(
        b["id"] for b in benchmarks if f"{b['docker_image']}:{b['docker_tag']}" == generate.C_RAY
    )


def timed_get(url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as response:
        body = response.read()
    return (time.perf_counter() - started) * 1000, body


class RssSampler:
    """The largest VmRSS of each worker while running, against its VmRSS at the start."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.start = {pid: memory_kib(pid)["VmRSS"] for pid in pids}
        self.peak = dict(self.start)
        self.running = True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        while self.running:
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], memory_kib(pid)["VmRSS"])
            time.sleep(0.05)

    def stop(self) -> float:
        """The largest growth of any worker, in MiB."""
        self.running = False
        self.thread.join()
        return max((self.peak[p] - self.start[p] for p in self.pids), default=0) / 1024


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used (``/proc/<pid>/stat``)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


#: What the measuring client reads into, a buffer at a time.
BUFFER = 1 << 20


def export(base: str, export_format: str, pids: list[int], query: dict[str, str]) -> dict:
    """One export, read to its end; its rows, bytes, seconds and RSS growth.

    The client runs on the cores the service is measured on, so it keeps as little as it
    can: it reads into one buffer and counts lines as it goes (a JSON Lines row is one
    line; a CSV row too, unless a value holds a line break, which ``main`` checks against
    the selection's total), keeping only a Parquet file, whose footer gives its rows.
    Reading with urllib's ``read`` and writing every export to a file cost JSON Lines
    (3 GB at 1,000,000 rows) a fifth of its rate: 45,000 rows/s against 57,000 for curl
    writing to /dev/null.
    """
    url = f"{base}/results:export?" + urllib.parse.urlencode({"format": export_format, **query})
    sampler = RssSampler(pids)
    cpu = cpu_seconds(pids)
    size = lines = 0
    buffer = bytearray(BUFFER)
    kept = bytearray() if export_format == "parquet" else None
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=3600) as response:
        while read := response.readinto(buffer):
            size += read
            if kept is None:
                lines += buffer.count(b"\n", 0, read)
            else:
                kept += memoryview(buffer)[:read]
    seconds = time.perf_counter() - started
    cpu = cpu_seconds(pids) - cpu
    growth = sampler.stop()
    if kept is not None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = pq.ParquetFile(pa.BufferReader(bytes(kept))).metadata.num_rows
    else:
        rows = lines - (export_format == "csv")  # the header
    return {"rows": rows, "bytes": size, "seconds": seconds, "rss_mib": growth, "cpu": cpu}


def selected_total(base: str, query: dict[str, str]) -> int:
    """How many results an export of ``query`` selects (a /results page's total)."""
    client = Client(base)
    selection = {k: v for k, v in query.items() if k != "columns"}
    total = client.json("/results?" + urllib.parse.urlencode({**selection, "per_page": 1}))
    client.close()
    return total["total"]


def warm_up(base: str, export_format: str, pids: list[int], query: dict[str, str]) -> float:
    """Small exports, 8 at a time (as many as the workers' threads as shipped), three
    times, so that every worker has made one; the largest RSS growth of a worker."""
    sampler = RssSampler(pids)
    for _ in range(3):
        threads = [
            threading.Thread(target=export, args=(base, export_format, [], query)) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return sampler.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="a database made by perf/load.py")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL of --database")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: as shipped)")
    parser.add_argument("--threads", type=int, help="threads per worker (default: as shipped)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent aggregate clients")
    parser.add_argument("--seconds", type=float, default=15, help="time of the aggregate run")
    parser.add_argument("--formats", default="csv,jsonl,parquet", help="export formats")
    parser.add_argument("--columns", help="export columns (default: the default columns)")
    parser.add_argument(
        "--site", help="export only this site's results (a tenth of them), for a quick look"
    )
    parser.add_argument("--skip-aggregate", action="store_true")
    parser.add_argument("--skip-export", action="store_true")
    args = parser.parse_args(argv)

    issuer = LocalIssuer(Path(tempfile.mkdtemp(prefix="perf-issuer-"))).start()
    try:
        with running_service(
            args.database, args.server, issuer, workers=args.workers, threads=args.threads
        ) as (process, base):
            print(f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
            if not args.skip_aggregate:
                path = "/results:aggregate?" + urllib.parse.urlencode(
                    {
                        "benchmark_id": c_ray_id(base),
                        "metric": "json.result.score",
                        "group_by": "site,flavor",
                    }
                )
                cold, body = timed_get(base + path)
                print(f"aggregate, first (cold) request: {cold:.0f} ms, {len(body)} bytes")
                query = Query("`/results:aggregate` c-ray by site,flavor", "GET", path, 300)
                m = measure(base, query, args.clients, args.seconds, 100_000)
                print(
                    f"aggregate under {args.clients} clients: {m.requests / m.seconds:.0f} "
                    f"req/s, p50 {m.percentile(50):.1f} ms, p99 {m.percentile(99):.1f} ms, "
                    f"errors {m.errors} {m.first_error[:200]} "
                    f"(target p99 <= 300 ms: {'met' if m.met else 'NOT met'}); "
                    f"load average {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
            if not args.skip_export:
                pids = worker_pids(process.pid)
                query = {"columns": args.columns} if args.columns else {}
                if args.site:
                    client = Client(base)
                    sites = client.json("/sites?per_page=100")["items"]
                    client.close()
                    query["site_id"] = next(s["id"] for s in sites if s["name"] == args.site)
                for export_format in args.formats.split(","):
                    small = {**query, "execution_before": "2019-01-15T00:00:00Z"}
                    warm = warm_up(base, export_format, pids, small)
                    print(
                        f"{export_format}: warm-up exports of the results of 2019-01-01..14 "
                        f"(0.6%), RSS growth {warm:.0f} MiB"
                    )
                    e = export(base, export_format, pids, query)
                    rate = e["rows"] / e["seconds"]
                    total = selected_total(base, query)
                    if e["rows"] != total:
                        sys.exit(f"{export_format}: {e['rows']:,} rows read of {total:,}")
                    print(
                        f"{export_format}: {e['rows']:,} rows, {e['bytes'] / 2**20:,.0f} MiB in "
                        f"{e['seconds']:.1f} s = {rate:,.0f} rows/s (target >= 50,000: "
                        f"{'met' if rate >= 50_000 else 'NOT met'}); worker RSS growth "
                        f"{e['rss_mib']:.0f} MiB (target <= 50: "
                        f"{'met' if e['rss_mib'] <= 50 else 'NOT met'}); workers' CPU "
                        f"{1000 * e['cpu'] / max(e['rows'], 1) * 1000:.1f} ms per 1,000 rows; "
                        f"load average {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
    finally:
        issuer.stop()


if __name__ == "__main__":
    main()
