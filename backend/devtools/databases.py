"""Throw-away databases for tests and measurements.

Tests, the import/export round trip and ``perf/`` each need a database of their own that
disappears afterwards, on SQLite or on a PostgreSQL server; this is the one way to make it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from backend.settings import database_uri


@contextmanager
def throwaway_database(server_url: str | None, directory: Path, prefix: str) -> Iterator[str]:
    """Yield the URL of a new, empty database and drop it on exit.

    Without ``server_url``: a SQLite file in ``directory``. With it: a database named
    ``<prefix>_<random>`` on that PostgreSQL server (the URL's own database is only used
    to connect), dropped even if sessions are still open.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    if not server_url:
        yield f"sqlite:///{Path(directory) / name}.db"
        return
    server = make_url(database_uri(server_url))
    admin_engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin_engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()
