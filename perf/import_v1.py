"""Time ``flask import-v1``: a 100,000-result v1 database into SQLite and PostgreSQL.

Builds a v1.2.x database ``perf_v1_source`` on the local PostgreSQL server (the schema of
``backend/devtools/v1_database.py``; results of about 1 KB, half of them tagged), then,
for each target, creates an empty migrated database and times the whole
``flask --app backend import-v1 SOURCE_URL`` command (start-up included) as shipped,
then the same command again (nothing new: the cost of an incremental run). The target
is 5,000 results/s, 100,000 results in under 20 s. Prints the load average before each
run: other work on the same cores slows both halves. ::

    python perf/import_v1.py                   # 100,000 results
    python perf/import_v1.py --results 20000 --targets sqlite
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from backend.devtools.v1_database import V1Rows, create_v1_schema, generate_results  # noqa: E402
from backend.settings import database_uri  # noqa: E402
from perf.load import (  # noqa: E402
    DEFAULT_SERVER,
    create_database,
    database_url,
    drop_database,
    flask,
    stored_results,
)


def build_source(server: str, results: int) -> str:
    """The URL of a new v1 database holding ``results`` results."""
    create_database(server, "v1_source", replace=True)
    url = database_url(server, "v1_source")
    engine = create_engine(database_uri(url))
    started = time.perf_counter()
    with engine.begin() as connection:
        create_v1_schema(connection)
        rows = V1Rows(connection)
        now = datetime.now(UTC)
        user = rows.user("perf-user", "https://aai.example.org", "perf@example.org", now)
        site = rows.site(user, now, "approved", "PERF-SITE", "perf.example.org")
        flavors = [
            (rows.flavor(user, now, "approved", site, f"m{n}.large"), site) for n in range(8)
        ]
        schema = {
            "type": "object",
            "properties": {"result": {"type": "object"}, "machine": {"type": "object"}},
            "required": ["result", "machine"],
        }
        benchmark = rows.benchmark(
            user, now, "approved", "perf/bench", "1.0", schema, "https://example.org"
        )
        tags = [rows.tag(f"tag-{uuid.uuid4().hex[:6]}") for _ in range(4)]
        generate_results(
            connection,
            results,
            uploader=user,
            benchmark_id=benchmark,
            flavors=flavors,
            tag_ids=tags,
        )
    engine.dispose()
    print(f"v1 source: {results:,} results in {time.perf_counter() - started:.1f} s", flush=True)
    return url


def timed_import(target: str, source: str) -> tuple[float, float, str]:
    """Run ``flask import-v1`` into ``target``: wall and CPU seconds, and its summary."""
    own_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    report = flask(target, "import-v1", source)
    elapsed = time.perf_counter() - started
    own_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (own_after.ru_utime - own_before.ru_utime) + (own_after.ru_stime - own_before.ru_stime)
    summary = re.search(r"^\d+ rows in .*$", report, re.MULTILINE)
    return elapsed, cpu, summary[0] if summary else report.strip()


def measure(name: str, target: str, source: str, results: int) -> None:
    flask(target, "db", "upgrade")
    for run in ("first run", "second run (nothing new)"):
        load = os.getloadavg()[0]
        elapsed, cpu, summary = timed_import(target, source)
        stored = stored_results(database_uri(target))
        rate = f" = {results / elapsed:,.0f} results/s" if run == "first run" else ""
        print(
            f"{name}, {run}: {elapsed:,.1f} s{rate} (the whole flask import-v1 command); "
            f"importer CPU {cpu:,.1f} s; {stored:,} results stored; "
            f"load average {load:.1f} before; {os.cpu_count()} cores\n    {summary}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--server", default=DEFAULT_SERVER, help="the PostgreSQL server")
    parser.add_argument(
        "--targets", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args(argv)
    source = build_source(args.server, args.results)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            for name in args.targets.split(","):
                if name == "sqlite":
                    target = f"sqlite:///{Path(workdir) / 'target.db'}"
                else:
                    create_database(args.server, "v1_target", replace=True)
                    target = database_url(args.server, "v1_target")
                try:
                    measure(name, target, source, args.results)
                finally:
                    if name != "sqlite" and not args.keep:
                        drop_database(args.server, "v1_target")
    finally:
        if not args.keep:
            drop_database(args.server, "v1_source")


if __name__ == "__main__":
    main()
