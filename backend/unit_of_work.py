"""The one place where request changes are committed, and the row locks they take.

Integrity errors become 409 with a readable message; nothing else in the code base calls
``db.session.commit()`` on behalf of a request. A change that checks a row's state before
changing it (approve what is on review, one open claim per user) first takes ``lock`` on
that row, so that of concurrent requests each sees what the previous one committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from backend.errors import Conflict
from backend.extensions import db

#: Said both by ``HasClaims.claim`` and for the unique index behind it.
OPEN_CLAIM = "A claim by you on this result is already open; an admin will review it."

#: Messages for unique constraints a client can run into, by constraint-name fragment
#: (PostgreSQL names the constraint; SQLite names its columns, ``table.column``).
CONFLICT_MESSAGES = {
    "benchmarks_docker_image": "A benchmark with this docker_image and docker_tag exists.",
    "sites_name": "A site with this name exists.",
    "flavors_site_id": "This site already has a flavor with this name.",
    "tags_name": "A tag with this name exists.",
    "users_sub": "This user is already registered.",
    "uq_claims_open_resource_id_uploader_id": OPEN_CLAIM,
    "claims.resource_id, claims.uploader_id": OPEN_CLAIM,
}


def lock(instance: Any) -> bool:
    """Lock ``instance``'s row until the commit; False if the row is gone.

    Check the state a change depends on only after this: a concurrent request changing the
    same row waits here until this one commits, then sees what it did. PostgreSQL locks
    the row (``FOR NO KEY UPDATE``: rows referring to it may still be inserted). SQLite
    has no row locks but one writer at a time; an UPDATE that changes nothing makes this
    transaction the writer.
    """
    model = type(instance)
    if db.engine.dialect.name == "postgresql":
        statement = select(model.id).where(model.id == instance.id)
        return db.session.execute(statement.with_for_update(key_share=True)).first() is not None
    table = model.__table__
    touch = update(table).where(table.c.id == instance.id).values(id=table.c.id)
    return db.session.execute(touch).rowcount == 1


@contextmanager
def objects_kept_loaded() -> Iterator[None]:
    """Commits within keep the session's objects as they are instead of expiring them:
    what was just written is what is stored, so a response can be written from it without
    reading it back, and an import keeps the catalogue objects it refers to from batch to
    batch."""
    session = db.session()
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    try:
        yield
    finally:
        session.expire_on_commit = expire_on_commit


def commit(*, keep_loaded: bool = False) -> None:
    """Commit the session; a uniqueness or reference conflict becomes Conflict (409).

    ``keep_loaded``: as within ``objects_kept_loaded``, for a response written from the
    session's objects (an upload saves a round trip and a load of the result with its
    catalogue items, about a fifth of its time).
    """
    try:
        with objects_kept_loaded() if keep_loaded else nullcontext():
            db.session.commit()
    except StaleDataError:
        # A row this session changed was changed or deleted by another request meanwhile;
        # ``lock`` prevents it where known, this keeps any other case from being a 500.
        db.session.rollback()
        raise Conflict(
            "Another request changed or deleted this item meanwhile; reload it and retry."
        ) from None
    except IntegrityError as error:
        db.session.rollback()
        text = str(error.orig)
        for fragment, message in CONFLICT_MESSAGES.items():
            if fragment in text or fragment.replace("_", ".", 1) in text:
                raise Conflict(message) from None
        raise Conflict("The change conflicts with existing data.") from None
