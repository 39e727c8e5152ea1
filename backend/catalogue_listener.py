"""The catalogue version as the primary announces it, so a cache hit needs no round trip.

Migration ``0009`` makes every change of the catalogue version ``pg_notify`` it on the
channel ``catalogue_version`` (an empty payload when the row is gone: version unknown).
Each worker process keeps one extra connection to the primary, LISTENs on that channel
from a daemon thread and holds the last version it heard (``CatalogueListener.version``).
PostgreSQL delivers notifications in commit order, right after each commit, so the last
one heard is the version the table holds.

Whenever the version is not known for sure, ``version`` is None and callers read it from
the database per request (``backend.response_cache``): before the first LISTEN, while the
connection is down or being re-made (it is retried every second), when the server has not
answered the connection's heartbeat (``SELECT 1`` every 0.5 s) for 1.5 s (a frozen server,
or a network cut while other hosts may still write), and on a database without the
trigger of migration 0009. The thread LISTENs before it reads the version, so
no change can fall between the two. A notification takes a moment to arrive: changes made
by this host's own workers also change ``backend.response_cache``'s write epoch before
their response is sent, which closes that moment for them.

SQLite has no notifications; its version read costs microseconds and stays per request.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from typing import Any

from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

CHANNEL = "catalogue_version"
#: The listening connections' application_name (pg_stat_activity tells them apart).
LISTENER_APPLICATION_NAME = "catalogue-listener"
VERSION_QUERY = "SELECT version FROM catalogue_version WHERE id = 1"
#: Whether the catalogue triggers notify (migration 0009): without it, LISTEN hears nothing.
_TRIGGERS_NOTIFY = (
    "SELECT EXISTS (SELECT FROM pg_trigger WHERE tgname = 'catalogue_version_notify')"
)
#: Seconds between checks that an idle listening connection still answers (SELECT 1), and
#: after which a version not confirmed by the server is no longer trusted.
HEARTBEAT_SECONDS = 0.5
FRESH_SECONDS = 1.5
#: Seconds between attempts to listen again.
RETRY_SECONDS = 1.0
#: Seconds before a database whose triggers do not notify is asked again (after a migration).
NOT_NOTIFYING_RECHECK_SECONDS = 60.0


class CatalogueListener:
    """One process's LISTEN connection to the primary and the last version it heard."""

    def __init__(self, engine: Engine, connect_args: dict[str, Any]) -> None:
        self.engine = engine
        self.connect_args = connect_args
        self._version: int | None = None
        self._heard_at = 0.0
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._stopped = threading.Event()

    @property
    def version(self) -> int | None:
        """The catalogue version, or None: unknown, read it from the database. Also None
        when the server has not answered for ``FRESH_SECONDS`` (frozen, or cut off by the
        network while other hosts may still write): the listener cannot vouch for it."""
        if time.monotonic() - self._heard_at > FRESH_SECONDS:
            return None
        return self._version

    def start(self) -> CatalogueListener:
        """Start the thread in this process, once (a forked worker starts its own)."""
        if self._pid == os.getpid():
            return self
        with self._lock:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._version = None
                threading.Thread(target=self._run, name="catalogue-listener", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        failing = False
        while not self._stopped.is_set():
            try:
                self._listen()
                failing = False
            except Exception as error:  # connection lost or refused: per-request reads
                self._version = None
                if not failing:
                    logger.warning(
                        "Catalogue cache: reading the version per request until the "
                        "listening connection is back (%s)",
                        next(iter(str(error).splitlines()), type(error).__name__),
                    )
                failing = True
            self._stopped.wait(RETRY_SECONDS)

    def _connect(self) -> Any:
        dialect = self.engine.dialect
        cargs, cparams = dialect.create_connect_args(self.engine.url)
        connection = dialect.loaded_dbapi.connect(
            *cargs,
            **{**cparams, **self.connect_args, "application_name": LISTENER_APPLICATION_NAME},
        )
        connection.autocommit = True
        return connection

    def _listen(self) -> None:
        connection = self._connect()
        try:
            cursor = connection.cursor()
            cursor.execute(f"LISTEN {CHANNEL}")
            cursor.execute(_TRIGGERS_NOTIFY)
            if not cursor.fetchone()[0]:
                self._version = None
                self._stopped.wait(NOT_NOTIFYING_RECHECK_SECONDS)
                return
            cursor.execute(VERSION_QUERY)
            row = cursor.fetchone()
            self._version = int(row[0]) if row else None
            self._take_notifications(connection)
            while not self._stopped.is_set():
                readable, _, _ = select.select([connection], [], [], HEARTBEAT_SECONDS)
                if readable:
                    connection.poll()
                else:
                    cursor.execute("SELECT 1")  # the server still answers (notifies too)
                self._take_notifications(connection)
        finally:
            self._version = None
            connection.close()

    def _take_notifications(self, connection: Any) -> None:
        """Apply the last notification received (they come in commit order), and note
        that the server answered just now."""
        if connection.notifies:
            payload = connection.notifies[-1].payload
            connection.notifies.clear()
            self._version = int(payload) if payload else None
        self._heard_at = time.monotonic()
