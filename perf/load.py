"""Load a data set with ``flask import`` into a PostgreSQL database of its own; report the rate.

Creates the database ``perf_<name>``, migrates it (``flask db upgrade``), times
``flask --app backend import FILE`` (the whole command, start-up included), then runs
``VACUUM ANALYZE`` (so that the visibility map lets deep pages walk indexes only, and the
planner knows the data). The database is kept for ``perf/loadtest.py`` unless
``--throwaway``; ``--drop`` removes it. Without FILE, ``--generate N`` writes N results
with ``perf/generate.py`` (deterministic) to a temporary file first::

    python perf/generate.py 1000000 > perf/data/1m.jsonl
    python perf/load.py perf/data/1m.jsonl --name 1m         # then perf/loadtest.py
    python perf/load.py --generate 200000 --name import --throwaway   # the rate alone
    python perf/load.py --drop --name 1m

Besides the rate it prints the importer's CPU time per result and the server's (all
PostgreSQL processes, read from /proc when the server runs on this machine), which say
which half bounds the rate, and the load average before the import: other work on the
same cores slows both. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from backend.settings import database_uri  # noqa: E402
from perf import generate  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def database_url(server: str, name: str) -> str:
    """The URL of the database ``perf_<name>`` on ``server``."""
    url = make_url(database_uri(server)).set(database=f"perf_{name}")
    return url.render_as_string(hide_password=False)


def flask_environment(url: str) -> dict[str, str]:
    """The environment for ``flask`` commands on ``url``: development, no mail, no checks."""
    return {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": url,
        "IMAGE_VALIDATION": "off",
        "NOTIFICATIONS_DELIVERY": "off",
        "LOG_FORMAT": "text",
        "LOG_LEVEL": "WARNING",
    }


def flask(url: str, *args: str) -> str:
    """Run ``flask --app backend ARGS`` on ``url``; its standard error (the report)."""
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "backend", *args],
        cwd=ROOT,
        env=flask_environment(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"flask {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stderr


def admin(server: str, statement: str) -> None:
    engine = create_engine(database_uri(server), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()


def create_database(server: str, name: str, replace: bool) -> None:
    if replace:
        drop_database(server, name)
    admin(server, f'CREATE DATABASE "perf_{name}"')


def drop_database(server: str, name: str) -> None:
    admin(server, f'DROP DATABASE IF EXISTS "perf_{name}" WITH (FORCE)')


def postgres_cpu_seconds() -> float | None:
    """CPU time of the local PostgreSQL server so far: its postmaster and every process it
    has reaped (connections that ended, autovacuum workers), from /proc. None when there
    is no readable local server."""
    tick = os.sysconf("SC_CLK_TCK")
    for pid_file in Path("/var/run/postgresql").glob("*.pid"):
        try:
            pid = int(pid_file.read_text().split()[0])
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, ValueError, IndexError):
            continue
        # utime, stime, cutime, cstime are fields 14-17 of stat; 12-15 after the name.
        live = sum(postgres_process_cpu(child, tick) for child in children(pid) if child != pid)
        return sum(int(value) for value in fields[11:15]) / tick + live
    return None


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def postgres_process_cpu(pid: int, tick: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / tick


def stored_results(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM results")).scalar_one()
    engine.dispose()
    return count


def vacuum_analyze(url: str) -> float:
    started = time.perf_counter()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


def load(file: Path, server: str, name: str, replace: bool, import_args: list[str]) -> str:
    """Create and fill ``perf_<name>``; print and return the report."""
    url = database_url(server, name)
    create_database(server, name, replace)
    flask(url, "db", "upgrade")
    load_before = os.getloadavg()[0]
    server_before = postgres_cpu_seconds()
    own_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    report = flask(url, "import", str(file), *import_args)
    elapsed = time.perf_counter() - started
    own_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_after = postgres_cpu_seconds()
    count = stored_results(url)
    summary = re.search(r"^\d+ lines in .*$", report, re.MULTILINE)
    importer = (own_after.ru_utime - own_before.ru_utime) + (
        own_after.ru_stime - own_before.ru_stime
    )
    lines = [
        summary[0] if summary else report.strip(),
        f"perf_{name}: {count:,} results imported in {elapsed:,.1f} s = "
        f"{count / elapsed:,.0f} results/s (the whole flask import command)",
        f"CPU per result: importer {importer / max(count, 1) * 1e6:.0f} us"
        + (
            f", PostgreSQL {(server_after - server_before) / max(count, 1) * 1e6:.0f} us"
            if server_before is not None and server_after is not None
            else ""
        )
        + f"; {os.cpu_count()} cores, load average {load_before:.1f} before the import",
        # ru_maxrss of children: the largest of them, here the import (KiB on Linux).
        f"importer peak memory (RSS): {own_after.ru_maxrss / 1024:,.0f} MiB",
    ]
    lines.append(f"then VACUUM ANALYZE in {vacuum_analyze(url):,.1f} s; DATABASE_URL={url}")
    text_report = "\n".join(lines)
    print(text_report, flush=True)
    return text_report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, nargs="?", help="a perf/generate.py file")
    parser.add_argument("--generate", type=int, metavar="N", help="import N generated results")
    parser.add_argument("--seed", type=int, default=1, help="seed for --generate")
    parser.add_argument("--name", required=True, help="the database is perf_<name>")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="a database on the server")
    parser.add_argument("--replace", action="store_true", help="drop perf_<name> first")
    parser.add_argument("--throwaway", action="store_true", help="drop perf_<name> at the end")
    parser.add_argument("--batch-size", type=int, help="passed to flask import")
    parser.add_argument("--drop", action="store_true", help="only drop perf_<name>")
    args = parser.parse_args(argv)
    if args.drop:
        drop_database(args.server, args.name)
        print(f"dropped perf_{args.name}")
        return
    if (args.file is None) == (args.generate is None):
        parser.error("give FILE or --generate N")
    import_args = ["--batch-size", str(args.batch_size)] if args.batch_size else []
    with tempfile.TemporaryDirectory() as workdir:
        file = args.file
        if file is None:
            file = Path(workdir) / "results.jsonl"
            print(f"generating {args.generate:,} results into {file} ...", flush=True)
            with file.open("w") as out:
                generate.write(args.generate, args.seed, out)
        try:
            load(file, args.server, args.name, args.replace, import_args)
        finally:
            if args.throwaway:
                drop_database(args.server, args.name)


if __name__ == "__main__":
    main()
