"""Artifacts: the files behind results and experiments (models, datasets, logs, outputs).

The row describes the file; the bytes live in an artifact store (``backend.artifact_stores``)
under ``blob_key``. A row is ``pending`` while its bytes have not arrived (an upload URL was
handed out) and ``ready`` once they have and match what was declared.

Links to a result, an experiment or a parent artifact (a model's algorithm) are set to NULL
when those are deleted: an artifact is its own entity, owned by its uploader, and deleting
a result must not silently take a user's file with it. Only deleting the artifact deletes
its bytes (``backend.routes.artifacts``), and only once no other row names the same blob.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    Uuid,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.dialects import JsonDocument
from backend.extensions import db
from backend.models.core import PkModel
from backend.models.experiment import Experiment
from backend.models.types import UTCDateTime, utc_now
from backend.models.uploader import HasUploader
from backend.models.user import User


class ArtifactKind(enum.Enum):
    algo = "algo"
    data = "data"
    model = "model"
    prediction = "prediction"
    problem = "problem"
    log = "log"
    config = "config"
    other = "other"


class Visibility(enum.Enum):
    public = "public"
    private = "private"


class ArtifactState(enum.Enum):
    pending = "pending"
    ready = "ready"


def _enum(kind: type[enum.Enum]) -> Enum:
    return Enum(kind, native_enum=False, length=16, validate_strings=True)


class Artifact(HasUploader, PkModel):
    """A stored file and what is known about it."""

    __tablename__ = "artifacts"
    resource_type = "artifact"

    kind: Mapped[ArtifactKind] = mapped_column(_enum(ArtifactKind), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    #: Free JSON (provenance, DOI, runtime requirements); ``metadata`` is SQLAlchemy's.
    properties: Mapped[Any] = mapped_column("metadata", JsonDocument, nullable=False, default=dict)
    visibility: Mapped[Visibility] = mapped_column(
        _enum(Visibility), nullable=False, default=Visibility.public
    )
    state: Mapped[ArtifactState] = mapped_column(
        _enum(ArtifactState), nullable=False, default=ArtifactState.ready
    )
    #: Size and sha256 of the stored bytes (ready), or as declared (pending; may be None).
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    #: Where the bytes are in the store; several rows may name the same blob.
    blob_key: Mapped[str | None] = mapped_column(String(255), index=True)
    #: When a pending artifact whose bytes never came is removed.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    result_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("results.id", ondelete="SET NULL"), index=True
    )
    experiment_pk: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("experiments.id", ondelete="SET NULL"), index=True
    )
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("artifacts.id", ondelete="SET NULL"), index=True
    )
    experiment: Mapped[Experiment | None] = relationship(lazy="joined")

    @property
    def experiment_id(self) -> str | None:
        """The linked experiment's public id (``experiments.experiment_id``)."""
        return self.experiment.experiment_id if self.experiment is not None else None

    @property
    def is_ready(self) -> bool:
        return self.state == ArtifactState.ready

    @staticmethod
    def visible_to(user: User | None, admin: bool) -> ColumnElement[bool]:
        """Which artifacts a caller may know of: admins all; others the public ready ones
        and their own. Anything else does not exist for them (404, absent from lists)."""
        if admin:
            return true()
        public = (Artifact.visibility == Visibility.public) & (
            Artifact.state == ArtifactState.ready
        )
        return or_(public, Artifact.uploader_id == user.id) if user is not None else public

    def is_visible_to(self, user: User | None, admin: bool) -> bool:
        """``visible_to`` for this one artifact."""
        public = self.visibility == Visibility.public and self.is_ready
        return admin or public or self.is_owned_by(user)

    @staticmethod
    def bytes_used_by(user: User) -> int:
        """Bytes of a user's artifacts, ready and pending (declared size; not those past
        their expiry, which ``flask artifacts gc`` removes), for the quota."""
        used = select(func.coalesce(func.sum(Artifact.size), 0)).where(
            Artifact.uploader_id == user.id,
            (Artifact.state == ArtifactState.ready) | (Artifact.expires_at >= utc_now()),
        )
        return int(db.session.execute(used).scalar_one())

    @staticmethod
    def blob_is_named(key: str) -> bool:
        """Whether any row still names the blob ``key`` (then it must be kept)."""
        named = select(Artifact.id).where(Artifact.blob_key == key).limit(1)
        return db.session.execute(named).first() is not None
