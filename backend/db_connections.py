"""How the service keeps its database connections working, cheaply.

- SQLite enforces foreign keys (and their ON DELETE actions) only when asked, on every
  connection.
- A pooled connection that sat unused for ``DB_PING_AFTER_IDLE`` seconds is checked with
  ``SELECT 1`` before a request gets it, and replaced if the database went away meanwhile
  (a restart, a failover, an idle timeout of a proxy). SQLAlchemy's ``pool_pre_ping``
  would check it before every request: one more round trip and about a fifth of the time
  of a small request such as ``GET /sites``. A connection in steady use is not checked;
  if the database restarts under load, the first statement on each such connection
  fails (503), which makes SQLAlchemy replace the whole pool, and the next requests work.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

_LAST_USED = "backend.last_used"


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(dbapi_connection: Any, connection_record: Any) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def ping_after_idle(engine: Engine, seconds: float) -> None:
    """Check ``engine``'s connections that were idle for more than ``seconds`` at checkout."""

    @event.listens_for(engine.pool, "checkin")
    def remember_use(dbapi_connection: Any, connection_record: Any) -> None:
        if connection_record is not None:
            connection_record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def ping_if_idle(dbapi_connection: Any, connection_record: Any, proxy: Any) -> None:
        last_used = connection_record.info.get(_LAST_USED)
        if last_used is None or time.monotonic() - last_used <= seconds:
            return
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        except Exception as error:
            # The pool throws this connection away and checks out a new one.
            raise exc.DisconnectionError(f"idle connection is gone: {error}") from error
        finally:
            with contextlib.suppress(Exception):  # a dead connection may refuse even that
                cursor.close()
