"""Load a generated data set into a throw-away PostgreSQL database and report the rate.

Creates the database ``perf_<name>``, migrates it (``flask db upgrade``), runs
``flask import`` on the file, then ``VACUUM ANALYZE`` (so that the visibility map lets
deep pages walk indexes only, and the planner knows the data). The database is kept for
``perf/loadtest.py``; ``--drop`` removes it::

    python perf/generate.py 1000000 > perf/data/1m.jsonl
    python perf/load.py perf/data/1m.jsonl --name 1m
    python perf/loadtest.py --database perf_1m
    python perf/load.py --drop --name 1m
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from backend.settings import database_uri  # noqa: E402

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


def flask(url: str, *args: str) -> None:
    command = [sys.executable, "-m", "flask", "--app", "backend", *args]
    subprocess.run(command, cwd=ROOT, env=flask_environment(url), check=True)


def create_database(server: str, name: str, replace: bool) -> None:
    engine = create_engine(database_uri(server), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if replace:
            connection.execute(text(f'DROP DATABASE IF EXISTS "perf_{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "perf_{name}"'))
    engine.dispose()


def drop_database(server: str, name: str) -> None:
    engine = create_engine(database_uri(server), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "perf_{name}" WITH (FORCE)'))
    engine.dispose()
    print(f"dropped perf_{name}")


def stored_results(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM results")).scalar_one()
    engine.dispose()
    return count


def vacuum_analyze(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def load(file: Path, server: str, name: str, replace: bool, batch_size: int | None) -> None:
    url = database_url(server, name)
    create_database(server, name, replace)
    flask(url, "db", "upgrade")
    import_args = ["import", str(file)]
    if batch_size:
        import_args += ["--batch-size", str(batch_size)]
    started = time.perf_counter()
    flask(url, *import_args)
    elapsed = time.perf_counter() - started
    count = stored_results(url)
    started = time.perf_counter()
    vacuum_analyze(url)
    vacuumed = time.perf_counter() - started
    print(
        f"perf_{name}: {count:,} results imported in {elapsed:,.1f} s "
        f"= {count / elapsed:,.0f} results/s (then VACUUM ANALYZE {vacuumed:,.1f} s)"
    )
    print(f"DATABASE_URL={url}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, nargs="?", help="a perf/generate.py file")
    parser.add_argument("--name", required=True, help="the database is perf_<name>")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="a database on the server")
    parser.add_argument("--replace", action="store_true", help="drop perf_<name> first")
    parser.add_argument("--batch-size", type=int, help="passed to flask import")
    parser.add_argument("--drop", action="store_true", help="only drop perf_<name>")
    args = parser.parse_args(argv)
    if args.drop:
        drop_database(args.server, args.name)
    elif args.file is None:
        parser.error("FILE is needed unless --drop")
    else:
        load(args.file, args.server, args.name, args.replace, args.batch_size)


if __name__ == "__main__":
    main()
