"""Read routing: GET requests read from a replica, everything else uses the primary.

With ``DATABASE_READ_URL`` set, ``db.session`` sends the statements of ``GET``/``HEAD``
requests to that database (a streaming replica of the primary) and everything else —
writes, any statement of a non-GET request, work outside requests such as CLI commands —
to ``DATABASE_URL``.

Read-your-writes: replicas lag a little behind, so a client that has just written reads from
the primary for ``READ_YOUR_WRITES_SECONDS``. A successful non-GET response sets a cookie
signed with ``SECRET_KEY`` (itsdangerous, with its time of issue), and GET requests carrying
a valid one younger than the window are served by the primary; anything else in the cookie
(unsigned, forged, older than the window) is ignored, so no client can pin its reads to the
primary. Browsers and HTTP sessions keep the cookie by themselves; a client that drops
cookies may read its write a moment late, as from any replica. The window assumes the
replica lags less than it: ``db_replica_lag_seconds`` and ``db_replica_lag_bytes`` (sampled
at each scrape of ``/metrics``) are there to alert on that.

A replica that goes away must not take reads down: a per-process circuit breaker sends the
reads to the primary as soon as the replica fails to connect or loses a connection (refused,
reset, or cut by ``backend.db_connections``' watch because the server stopped answering).
After ``READ_REPLICA_RETRY_SECONDS`` a background thread tries the replica (connect and
``SELECT 1``, so no request waits on a connect timeout) and reads return to it when it
answers. A request whose replica connection cannot be opened is served by the primary at
once; a request whose statement was already running on the replica when it failed answers
503 (it cannot be replayed safely midway), so at most the requests in flight at the moment of
the failure see an error. Each switch is logged, and the gauge ``db_reads_served_by``
(label ``database``: primary, replica) says where each worker's reads go.

Without ``DATABASE_READ_URL`` nothing changes: one engine, no cookie.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Flask, Response, current_app, has_request_context, request
from flask_sqlalchemy.session import Session
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase

logger = logging.getLogger(__name__)

#: The bind key of the replica engine in SQLALCHEMY_BINDS.
REPLICA = "replica"
#: Cookie holding a signed time of this client's last write.
READ_PRIMARY_COOKIE = "read_primary"
#: itsdangerous salt of that cookie (keeps its signature useless for anything else).
READ_PRIMARY_SALT = "backend.read_routing.read-your-writes"
READ_METHODS = frozenset({"GET", "HEAD"})
T = TypeVar("T")
_BREAKER = "backend.read_routing.breaker"


def reads_from_replica() -> bool:
    """Whether the current request may be served by the replica: a GET or HEAD from a
    client without a valid read-your-writes cookie, while the replica is usable."""
    if not has_request_context() or request.method not in READ_METHODS:
        return False
    if wrote_recently():
        return False
    breaker = current_app.extensions.get(_BREAKER)
    return breaker is None or breaker.replica_usable()


def wrote_recently() -> bool:
    """Whether the request carries a read-your-writes cookie signed by this service within
    READ_YOUR_WRITES_SECONDS."""
    value = request.cookies.get(READ_PRIMARY_COOKIE)
    if not value:
        return False
    window = float(current_app.config["READ_YOUR_WRITES_SECONDS"])
    try:
        _signer(current_app).unsign(value, max_age=window)
    except BadSignature:  # forged, unsigned, expired (SignatureExpired) or garbled
        return False
    return True


def _signer(app: Flask) -> TimestampSigner:
    return TimestampSigner(app.config["SECRET_KEY"], salt=READ_PRIMARY_SALT)


class ReplicaBreaker:
    """Where this process sends its reads: the replica, or the primary for a while after the
    replica failed (module docstring)."""

    def __init__(self, replica: Engine, retry_seconds: float) -> None:
        self.replica = replica
        self.retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._open_until: float | None = None  # None: closed, reads go to the replica
        self._probing = False
        _record_reads_database("replica")

    @property
    def is_open(self) -> bool:
        return self._open_until is not None

    def replica_usable(self) -> bool:
        """True while closed; when open, False, and past its time a probe is started."""
        open_until = self._open_until
        if open_until is None:
            return True
        if time.monotonic() >= open_until:
            self._start_probe()
        return False

    def replica_failed(self, reason: object) -> None:
        with self._lock:
            was_open = self.is_open
            self._open_until = time.monotonic() + self.retry_seconds
        if not was_open:
            logger.warning(
                "Reads go to the primary: the read replica failed (%s); trying it again in %g s",
                _first_line(reason),
                self.retry_seconds,
            )
            _record_reads_database("primary")

    def _start_probe(self) -> None:
        with self._lock:
            if self._probing:
                return
            self._probing = True
        threading.Thread(target=self._probe, name="read-replica-probe", daemon=True).start()

    def _probe(self) -> None:
        try:
            with self.replica.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:  # still down: another retry period on the primary
            self.replica_failed(error)
        else:
            with self._lock:
                self._open_until = None
            logger.warning("Reads go to the replica again: it answers")
            _record_reads_database("replica")
        finally:
            with self._lock:
                self._probing = False


def _first_line(reason: object) -> str:
    return next(iter(str(reason).splitlines()), type(reason).__name__)


def _record_reads_database(database: str) -> None:
    from backend.metrics import READS_SERVED_BY  # the metrics module imports db

    for name in ("primary", "replica"):
        READS_SERVED_BY.labels(name).set(1 if name == database else 0)


def watch_replica_failures(breaker: ReplicaBreaker) -> None:
    """Open ``breaker`` when a connection to its replica cannot be made or is lost."""
    engine = breaker.replica

    @event.listens_for(engine, "do_connect")
    def connect(dialect: Any, connection_record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except dialect.loaded_dbapi.Error as error:
            breaker.replica_failed(error)
            raise

    @event.listens_for(engine.pool, "invalidate")
    def lost(dbapi_connection: Any, connection_record: Any, error: BaseException | None) -> None:
        if error is not None:  # a connection found dead (None: closed on purpose)
            breaker.replica_failed(error)


class RoutingSession(Session):
    """``db.session``'s class: Flask-SQLAlchemy's session, with the replica for reads."""

    def get_bind(self, mapper: Any = None, clause: Any = None, bind: Any = None, **kwargs: Any):
        engines = self._db.engines
        if (
            bind is None
            and REPLICA in engines
            and not self._flushing
            and not isinstance(clause, UpdateBase)
            and reads_from_replica()
        ):
            return engines[REPLICA]
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)

    def _connection_for_bind(self, engine: Any, execution_options: Any = None, **kw: Any):
        connect = super()._connection_for_bind
        return on_the_primary_if_the_replica_fails(
            self._db.engines, engine, lambda chosen: connect(chosen, execution_options, **kw)
        )


def on_the_primary_if_the_replica_fails(
    engines: Mapping[str | None, Engine], engine: Engine, use: Callable[[Engine], T]
) -> T:
    """``use(engine)``; if ``engine`` is the replica and cannot be used (the breaker just
    opened), ``use`` the primary for this request at once instead of answering 503."""
    try:
        return use(engine)
    except DBAPIError:
        if engine is not engines.get(REPLICA) or reads_from_replica():
            raise
    return use(engines[None])


def register_read_routing(app: Flask) -> None:
    """Watch the replica for failures, and after a successful write send this client's
    reads to the primary for a while."""
    if not app.config.get("DATABASE_READ_URL"):
        return
    window = float(app.config["READ_YOUR_WRITES_SECONDS"])
    with app.app_context():
        from backend.extensions import db

        replica = db.engines[REPLICA]
    breaker = ReplicaBreaker(replica, float(app.config["READ_REPLICA_RETRY_SECONDS"]))
    app.extensions[_BREAKER] = breaker
    watch_replica_failures(breaker)

    @app.after_request
    def read_your_writes(response: Response) -> Response:
        if request.method not in READ_METHODS and response.status_code < 400:
            response.set_cookie(
                READ_PRIMARY_COOKIE,
                _signer(app).sign("primary").decode(),
                max_age=max(1, round(window)),
                secure=request.is_secure,
                httponly=True,
                samesite="Lax",
            )
        return response


def replica_breaker(app: Flask) -> ReplicaBreaker | None:
    """``app``'s breaker (None without a replica)."""
    return app.extensions.get(_BREAKER)


_REPLAY_POSITION = text(
    "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END,"
    " pg_last_wal_replay_lsn()::text"
)
_BYTES_BEHIND = text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), CAST(:replayed AS pg_lsn))")


def replica_lag(app: Flask) -> tuple[float, float] | None:
    """(seconds, bytes) the replica's replay is behind the primary; None without a
    PostgreSQL replica, while the breaker keeps reads off it, or when either database
    does not answer (the metrics then keep their last value)."""
    breaker = replica_breaker(app)
    if breaker is None or breaker.is_open or breaker.replica.dialect.name != "postgresql":
        return None
    from backend.extensions import db

    try:
        with breaker.replica.connect() as connection:
            seconds, replayed = connection.execute(_REPLAY_POSITION).one()
        if replayed is None:  # not a replica
            return None
        with db.engines[None].connect() as connection:
            behind = connection.scalar(_BYTES_BEHIND, {"replayed": replayed})
    except DBAPIError as error:
        logger.warning("The replica's lag could not be measured: %s", _first_line(error))
        return None
    return float(seconds or 0), max(float(behind), 0.0)
