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
- A PostgreSQL server that hangs instead of refusing (frozen by SIGSTOP, a paused VM, a
  stalled host) leaves the kernel accepting connections and acknowledging data, so neither
  TCP keepalives, ``tcp_user_timeout`` nor ``statement_timeout`` (the frozen server runs
  no timer) end the wait: measured, a query waited as long as the server was stopped.
  libpq's ``connect_timeout`` bounds new connections; for connections already lent out,
  :func:`watch_for_unresponsive_server` probes the server when one has been out for
  ``DB_UNRESPONSIVE_TIMEOUT`` seconds, and if the server does not answer two probes of that
  time each either, shuts the sockets of its lent connections down. The waiting statement then fails
  at once ("server closed the connection unexpectedly"), the request gets the usual 503,
  and SQLAlchemy replaces the pool. A probe is an SSLRequest, the first message of every
  PostgreSQL connection: the server answers one byte at once, whatever its load, without
  authentication and without a line in its log; no answer means nobody is serving.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event, exc
from sqlalchemy.dialects import plugins
from sqlalchemy.engine import CreateEnginePlugin, Engine
from sqlalchemy.pool import Pool

logger = logging.getLogger(__name__)

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
            # Hand the connection out as found: psycopg2 opened a transaction for the ping,
            # and a view switching to autocommit (single_statement_reads) needs none open.
            dbapi_connection.rollback()
        except Exception as error:
            # The pool throws this connection away and checks out a new one.
            raise exc.DisconnectionError(f"idle connection is gone: {error}") from error
        finally:
            with contextlib.suppress(Exception):  # a dead connection may refuse even that
                cursor.close()


# -- servers that stop answering ------------------------------------------------------------

#: PostgreSQL's SSLRequest: length 8, code 80877103.
_SSL_REQUEST = struct.pack("!ii", 8, 80877103)
#: How often the watch looks at lent connections.
_TICK_SECONDS = 0.25
#: Unanswered probes in a row before lent connections are cut.
_PROBES_BEFORE_CUT = 2

#: A server that answered a probe is not probed again for this long.
_REPROBE_SECONDS = 2.0
#: The plugin name engine options use (``plugins=[...]``).
UNRESPONSIVE_SERVER_PLUGIN = "backend_unresponsive_server"

#: Where a server listens: (host, port), or the path of its Unix socket.
ServerAddress = tuple[str, int] | str


def server_answers(server: ServerAddress, timeout: float) -> bool:
    """Whether the PostgreSQL server at ``server`` answers an SSLRequest within ``timeout``.

    When it offers TLS ("S"), the handshake is completed before hanging up, so that the
    server logs nothing (it does log a handshake cut short).
    """
    try:
        with _connect(server, timeout) as probe:
            probe.settimeout(timeout)
            probe.sendall(_SSL_REQUEST)
            answer = probe.recv(1)
            if answer == b"S":
                with contextlib.suppress(OSError):
                    _QUIET_TLS.wrap_socket(probe).close()
            return True
    except OSError:  # refused, unreachable or timed out
        return False


def _connect(server: ServerAddress, timeout: float) -> socket.socket:
    if isinstance(server, str):
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix.settimeout(timeout)
        try:
            unix.connect(server)
        except OSError:
            unix.close()
            raise
        return unix
    return socket.create_connection(server, timeout)


def _describe(server: ServerAddress) -> str:
    return server if isinstance(server, str) else "{}:{}".format(*server)


def _quiet_tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # nothing is sent: the handshake is only a goodbye
    return context


_QUIET_TLS = _quiet_tls_context()


def server_address(dbapi_connection: Any) -> ServerAddress | None:
    """The server a psycopg2 connection talks to (TCP or a Unix socket), None if unknown."""
    info = getattr(dbapi_connection, "info", None)
    host, port = getattr(info, "host", None), getattr(info, "port", None)
    if not host or not port:
        return None
    if host.startswith("/"):
        return f"{host}/.s.PGSQL.{port}"
    return host, int(port)


@dataclass(eq=False)
class _Lent:
    """A connection lent out of a pool: since when, its server, a duplicate of its socket.

    The duplicate keeps the socket itself alive until the connection is returned, so that
    shutting it down can never hit another socket that reused the file descriptor."""

    server: ServerAddress
    timeout: float
    socket: socket.socket
    since: float = field(default_factory=time.monotonic)
    cut: bool = False


class _UnresponsiveServerWatch:
    """The connections this process has lent out, and one thread that checks on their
    servers (one for the process, whatever the number of engines)."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._lent: dict[Any, _Lent] = {}
        self._answered_at: dict[ServerAddress, float] = {}
        self._thread: threading.Thread | None = None
        #: Per pool: the timeout it is watched with, and its server once known.
        self.pools: WeakKeyDictionary[Pool, tuple[float, ServerAddress | None]] = (
            WeakKeyDictionary()
        )

    def after_fork(self) -> None:
        for lent in self._lent.values():
            lent.socket.close()
        self._reset()

    def watch(self, engine: Engine, timeout: float) -> None:
        pool = engine.pool
        self.pools[pool] = (timeout, None)

        @event.listens_for(pool, "checkout")
        def lend(dbapi_connection: Any, connection_record: Any, proxy: Any) -> None:
            server = server_address(dbapi_connection)
            if server is None:
                return
            self.pools[pool] = (timeout, server)
            try:
                duplicate = socket.socket(fileno=os.dup(dbapi_connection.fileno()))
            except Exception:  # a connection already closed is not worth watching
                return
            self._add(connection_record, _Lent(server, timeout, duplicate))

        for returned in ("checkin", "invalidate", "soft_invalidate", "close", "detach"):
            event.listen(pool, returned, self._returned)

    def _add(self, connection_record: Any, lent: _Lent) -> None:
        with self._lock:
            previous = self._lent.pop(connection_record, None)
            self._lent[connection_record] = lent
            self._wake.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="db-unresponsive-server-watch", daemon=True
                )
                self._thread.start()
        if previous is not None:
            previous.socket.close()

    def _returned(self, dbapi_connection: Any, connection_record: Any, *args: Any) -> None:
        with self._lock:
            lent = self._lent.pop(connection_record, None)
        if lent is not None:
            lent.socket.close()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(_TICK_SECONDS)
            try:
                self._check()
            except Exception:  # the watch must outlive any surprise
                logger.exception("The database connection watch failed; it goes on")

    def _check(self) -> None:
        now = time.monotonic()
        with self._lock:
            if not self._lent:
                self._wake.clear()
                return
            overdue = [
                lent
                for lent in self._lent.values()
                if not lent.cut and now - lent.since > lent.timeout
            ]
        for server, timeout in {(lent.server, lent.timeout) for lent in overdue}:
            if now - self._answered_at.get(server, -_REPROBE_SECONDS) < _REPROBE_SECONDS:
                continue
            # Two probes: on a 2-core machine at load 14 one probe went unanswered for
            # over a second and cut a healthy export stream mid-file.
            if any(server_answers(server, timeout) for _ in range(_PROBES_BEFORE_CUT)):
                self._answered_at[server] = time.monotonic()
                continue
            cut = self._cut(server, overdue)
            logger.warning(
                "The database server at %s did not answer within %g s; dropped %d "
                "connection(s) waiting on it",
                _describe(server),
                timeout,
                cut,
            )

    def _cut(self, server: ServerAddress, overdue: list[_Lent]) -> int:
        count = 0
        with self._lock:
            current = set(map(id, self._lent.values()))
            for lent in overdue:
                if lent.server == server and id(lent) in current:
                    with contextlib.suppress(OSError):
                        lent.socket.shutdown(socket.SHUT_RDWR)
                    lent.cut = True
                    count += 1
        return count


_WATCH = _UnresponsiveServerWatch()
os.register_at_fork(after_in_child=_WATCH.after_fork)


def watch_for_unresponsive_server(engine: Engine, timeout: float) -> None:
    """Drop ``engine``'s lent connections whose server stops answering (module docstring):
    probe it once a connection has been out for ``timeout`` seconds, give it as long."""
    _WATCH.watch(engine, timeout)


def unresponsive_server(engine: Engine) -> str | None:
    """Why ``engine``'s server is not answering right now (probed at once), or None when it
    answers or its address is not known yet (no connection made so far)."""
    timeout, server = _WATCH.pools.get(engine.pool, (0.0, None))
    if server is None or server_answers(server, timeout):
        return None
    return f"the server at {_describe(server)} did not answer within {timeout:g} s"


class UnresponsiveServerPlugin(CreateEnginePlugin):
    """``create_engine(..., plugins=[UNRESPONSIVE_SERVER_PLUGIN], unresponsive_timeout=S)``
    installs the watch on psycopg2 engines, so that every engine made from the same options
    (the primary and the read replica) gets it."""

    def __init__(self, url: Any, kwargs: dict[str, Any]) -> None:
        super().__init__(url, kwargs)
        self.timeout = float(kwargs.pop("unresponsive_timeout", 1.0))

    def update_url(self, url: Any) -> Any:
        return url

    def engine_created(self, engine: Engine) -> None:
        if engine.dialect.driver == "psycopg2":
            watch_for_unresponsive_server(engine, self.timeout)


plugins.register(UNRESPONSIVE_SERVER_PLUGIN, __name__, "UnresponsiveServerPlugin")
