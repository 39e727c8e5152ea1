"""How fast ``flask import`` loads results into PostgreSQL (the target: 5,000 results/s).

Generates N results with ``perf/generate.py`` (deterministic: the same N and seed give
the same file), creates a throw-away database ``perf_import_<random>`` on the server,
migrates it, times ``flask --app backend import FILE`` (the whole command, start-up
included) and drops the database again. Optionally times ``flask export`` of what was
loaded. Run it on a quiet machine: other work on the same cores shows in the numbers::

    python perf/import_rate.py 200000 [--server postgresql://postgres@127.0.0.1:5432/postgres]
        [--batch-size 1000] [--file existing.jsonl] [--export]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from backend.devtools.databases import throwaway_database

CHECKOUT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def flask(env: dict[str, str], *args: str, stdout=subprocess.DEVNULL) -> tuple[float, str]:
    """Run ``flask --app backend ARGS``; its wall time and its stderr."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "backend", *args],
        cwd=CHECKOUT,
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"flask {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed, done.stderr


def parse_time(data: Path, lines: int = 2000) -> float:
    """Microseconds to parse one result line: how fast this machine is right now (other
    work on the same cores slows everything down, the import included)."""
    with data.open("rb") as file:
        sample = [line for _, line in zip(range(lines), file, strict=False)]
    started = time.process_time()
    for line in sample:
        json.loads(line)
    return (time.process_time() - started) / len(sample) * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=int, help="how many results to generate")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--server",
        default=os.environ.get("TEST_DATABASE_URL", DEFAULT_SERVER),
        help="a PostgreSQL URL; its server hosts the throw-away database",
    )
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--file", type=Path, help="import this file instead of generating one")
    parser.add_argument("--export", action="store_true", help="also time flask export")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as workdir:
        data = args.file
        if data is None:
            data = Path(workdir) / "results.jsonl"
            print(f"generating {args.results:,} results into {data} ...", flush=True)
            with data.open("w") as out:
                generate = ["perf/generate.py", str(args.results), "--seed", str(args.seed)]
                subprocess.run(
                    [sys.executable, *generate],
                    cwd=CHECKOUT,
                    stdout=out,
                    check=True,
                )
        with throwaway_database(args.server, Path(workdir), "perf_import") as url:
            env = {
                **os.environ,
                "APP_ENV": "development",
                "DATABASE_URL": url,
                "NOTIFICATIONS_DELIVERY": "off",
                "LOG_LEVEL": "WARNING",
            }
            flask(env, "db", "upgrade")
            load = os.getloadavg()[0]
            parse = parse_time(data)
            cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            elapsed, report = flask(env, "import", str(data), "--batch-size", str(args.batch_size))
            cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
                cpu_after.ru_stime - cpu_before.ru_stime
            )
            print(report.strip())
            imported = int(re.search(r"(\d+) results imported", report)[1])
            print(
                f"flask import: {imported:,} results in {elapsed:.1f} s wall "
                f"= {imported / elapsed:,.0f} results/s "
                f"(importer CPU {cpu / imported * 1e6:.0f} us/result)"
            )
            print(
                f"machine: load average {load:.1f} on {os.cpu_count()} cores before the import; "
                f"json.loads of one of these lines took {parse:.1f} us"
            )
            if args.export:
                elapsed, _ = flask(env, "export", os.devnull)
                print(
                    f"flask export: {imported:,} results in {elapsed:.1f} s "
                    f"= {imported / elapsed:,.0f} results/s"
                )


if __name__ == "__main__":
    main()
