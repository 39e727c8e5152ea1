"""HasUploader: resources that remember who uploaded them."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Uuid
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from backend.models.user import User


class HasUploader:
    """Mixin for resources that remember who uploaded them.

    Removing a user keeps what they uploaded: the link is set to NULL, not cascaded.
    """

    @declared_attr
    def uploader_id(cls) -> Mapped[uuid.UUID | None]:
        return mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"), index=True)

    @declared_attr
    def uploader(cls) -> Mapped[User | None]:
        return relationship(User, lazy="joined", innerjoin=False)

    def is_owned_by(self, user: User | None) -> bool:
        return user is not None and self.uploader_id == user.id
