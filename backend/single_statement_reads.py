"""Reads of one statement, sent without a transaction around them.

psycopg2 opens a transaction before a request's first statement (BEGIN) and the session
ends it (ROLLBACK): two extra round trips for a view whose whole answer is one SELECT,
such as ``GET /users/self`` or ``GET /results/{id}``. With 4 clients on a 2-core machine
shared with PostgreSQL those two round trips cost as much as the query. One statement sees
one snapshot, so nothing changes for the answer; a view that reads with several
statements must keep its transaction.

The driver's own ``autocommit`` switch is used, not SQLAlchemy's ``AUTOCOMMIT`` isolation
level: psycopg2's ``set_isolation_level`` (which that goes through, there and back) costs
a round trip each way, 0.85 ms measured, where the switch costs nothing. The connection is
switched back when it returns to the pool. SQLite starts no transaction for a SELECT.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.pool import Pool

from backend.extensions import db

_SWITCHED = "backend.single_statement_reads.autocommit"


def read_in_one_statement() -> None:
    """Send the current request's statements without a transaction (autocommit), if it has
    not started one yet. Call it first thing in a view that reads with one statement."""
    session = db.session()
    if session.in_transaction():
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    connection.connection.driver_connection.autocommit = True
    connection.info[_SWITCHED] = True


@event.listens_for(Pool, "checkin")
def _switch_back(dbapi_connection: Any, connection_record: Any) -> None:
    if dbapi_connection is None:  # invalidated (the server went away): nothing to switch
        return
    if connection_record is not None and connection_record.info.pop(_SWITCHED, False):
        dbapi_connection.autocommit = False
