"""Read routing: GET requests read from a replica, everything else uses the primary.

With ``DATABASE_READ_URL`` set, ``db.session`` sends the statements of ``GET``/``HEAD``
requests to that database (a streaming replica of the primary) and everything else —
writes, any statement of a non-GET request, work outside requests such as CLI commands —
to ``DATABASE_URL``. Replicas lag a little behind, so a client that has just written
reads from the primary for ``READ_YOUR_WRITES_SECONDS``: a successful non-GET response sets
a cookie saying until when, and GET requests carrying it are served by the primary. Browsers
and HTTP sessions (``requests.Session``) keep the cookie by themselves; a client that drops
cookies may read its write a moment late, as from any replica.

Without ``DATABASE_READ_URL`` nothing changes: one engine, no cookie.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, has_request_context, request
from flask_sqlalchemy.session import Session
from sqlalchemy.sql.dml import UpdateBase

#: The bind key of the replica engine in SQLALCHEMY_BINDS.
REPLICA = "replica"
#: Cookie holding the Unix time until which this client reads from the primary.
READ_PRIMARY_COOKIE = "read_primary_until"
READ_METHODS = frozenset({"GET", "HEAD"})


def reads_from_replica() -> bool:
    """Whether the current request may be served by the replica: a GET or HEAD from a
    client that has not written within the read-your-writes window."""
    if not has_request_context() or request.method not in READ_METHODS:
        return False
    try:
        primary_until = float(request.cookies.get(READ_PRIMARY_COOKIE, "0"))
    except ValueError:
        primary_until = 0.0
    return primary_until <= time.time()


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


def register_read_routing(app: Flask) -> None:
    """After a successful write, send this client's reads to the primary for a while."""
    if not app.config.get("DATABASE_READ_URL"):
        return
    window = float(app.config["READ_YOUR_WRITES_SECONDS"])

    @app.after_request
    def read_your_writes(response: Response) -> Response:
        if request.method not in READ_METHODS and response.status_code < 400:
            response.set_cookie(
                READ_PRIMARY_COOKIE,
                f"{time.time() + window:.3f}",
                max_age=max(1, round(window)),
                secure=request.is_secure,
                httponly=True,
                samesite="Lax",
            )
        return response
