"""The base every stored resource builds on: a UUID primary key and small CRUD helpers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Self

from sqlalchemy import Uuid
from sqlalchemy.orm import Mapped, mapped_column

from backend.errors import NotFound
from backend.extensions import db
from backend.models.types import UTCDateTime, utc_now


class PkModel(db.Model):
    """A resource identified by a random UUID, with the time it was uploaded."""

    __abstract__ = True

    #: Human name of the resource type, used in messages ("site", "benchmark"...).
    resource_type: str = "resource"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    upload_datetime: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utc_now, index=True
    )

    @classmethod
    def create(cls, **properties: Any) -> Self:
        """Build an instance and add it to the session; the caller commits."""
        instance = cls(**properties)
        db.session.add(instance)
        return instance

    @classmethod
    def get_or_404(cls, id: uuid.UUID, **options: Any) -> Self:
        """The instance with this id, or a NotFound that names the resource type."""
        instance = db.session.get(cls, id, **options)
        if instance is None:
            raise NotFound(f"No {cls.resource_type} with id {id}.")
        return instance

    def update(self, properties: Mapping[str, Any]) -> None:
        for name, value in properties.items():
            setattr(self, name, value)

    def delete(self) -> None:
        db.session.delete(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"
