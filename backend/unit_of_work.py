"""The one place where request changes are committed.

Integrity errors become 409 with a readable message; nothing else in the code base calls
``db.session.commit()`` on behalf of a request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from sqlalchemy.exc import IntegrityError

from backend.errors import Conflict
from backend.extensions import db

#: Messages for unique constraints a client can run into, by constraint-name fragment.
CONFLICT_MESSAGES = {
    "benchmarks_docker_image": "A benchmark with this docker_image and docker_tag exists.",
    "sites_name": "A site with this name exists.",
    "flavors_site_id": "This site already has a flavor with this name.",
    "tags_name": "A tag with this name exists.",
    "users_sub": "This user is already registered.",
}


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
    except IntegrityError as error:
        db.session.rollback()
        text = str(error.orig)
        for fragment, message in CONFLICT_MESSAGES.items():
            if fragment in text or fragment.replace("_", ".", 1) in text:
                raise Conflict(message) from None
        raise Conflict("The change conflicts with existing data.") from None
