"""Reads sent without a transaction around them.

psycopg2 opens a transaction before a request's first statement (BEGIN) and the session
ends it (ROLLBACK): two extra round trips for a view that only reads, such as
``GET /users/self``, ``GET /results/{id}`` or a page of ``GET /results``. With 4 clients on
a 2-core machine shared with PostgreSQL those two round trips cost as much as the query
(each round trip about 0.1 ms of worker CPU). Nothing changes for the answer: requests
read at PostgreSQL's READ COMMITTED, where every statement takes its own snapshot inside a
transaction as well (a read that needs one snapshot across statements, an export, asks
for REPEATABLE READ: ``backend.dialects.snapshot_read_options``). A view that writes, or
reads under a lock, must keep its transaction.

The driver's own ``autocommit`` switch is used, not SQLAlchemy's ``AUTOCOMMIT`` isolation
level: psycopg2's ``set_isolation_level`` (which that goes through, there and back) costs
a round trip each way, 0.85 ms measured, where the switch costs nothing. The connection is
switched back at the end of the read, and when it returns to the pool whatever happened.
SQLite starts no transaction for a SELECT.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.pool import Pool

from backend.extensions import db

_SWITCHED = "backend.single_statement_reads.autocommit"


@contextmanager
def read_outside_transaction() -> Iterator[Connection]:
    """The session's connection, sending its statements without a transaction
    (autocommit) within the block if the session has not started one yet; for a view
    that only reads (it may execute Core statements on the connection directly).

    Back in the session's hands after the block, the connection opens transactions again:
    whatever the session does next (a test's next request in the same app context, say)
    keeps its atomicity."""
    session = db.session()
    switched = not session.in_transaction()
    connection = session.connection()
    switched = switched and _switch_to_autocommit(connection)
    try:
        yield connection
    finally:
        if switched:
            _switch_back_now(connection)


@contextmanager
def connection_outside_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection of ``engine`` that sends its statements without a transaction, for
    code that reads outside the session (``single_result.SingleResultFront``)."""
    with engine.connect() as connection:
        switched = _switch_to_autocommit(connection)
        try:
            yield connection
        finally:
            if switched:
                _switch_back_now(connection)


def _switch_to_autocommit(connection: Connection) -> bool:
    if connection.dialect.name != "postgresql":
        return False
    connection.connection.driver_connection.autocommit = True
    connection.info[_SWITCHED] = True
    return True


def _switch_back_now(connection: Connection) -> None:
    if connection.invalidated or not connection.info.pop(_SWITCHED, False):
        return
    driver = connection.connection.driver_connection
    if not driver.closed:  # else the pool replaces it (and the error that closed it shows)
        driver.autocommit = False


@event.listens_for(Pool, "checkin")
def _switch_back(dbapi_connection: Any, connection_record: Any) -> None:
    if dbapi_connection is None:  # invalidated (the server went away): nothing to switch
        return
    if connection_record is not None and connection_record.info.pop(_SWITCHED, False):
        dbapi_connection.autocommit = False
