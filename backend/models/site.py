"""Sites (where benchmarks run) and their flavors (VM templates)."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, Uuid, exists, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.errors import Conflict
from backend.extensions import db
from backend.models.approval import NeedsApprove
from backend.models.core import PkModel
from backend.models.uploader import HasUploader


class Site(NeedsApprove, HasUploader, PkModel):
    """A place (cloud site, cluster) where benchmarks run."""

    __tablename__ = "sites"
    resource_type = "site"

    name: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    address: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)

    flavors: Mapped[list[Flavor]] = relationship(
        back_populates="site", cascade="all, delete-orphan", passive_deletes=True
    )

    def delete(self) -> None:
        from backend.models.result import Result

        if db.session.scalar(select(exists().where(Result.site_id == self.id))):
            raise Conflict("This site has results; delete them before the site.")
        super().delete()


class Flavor(NeedsApprove, HasUploader, PkModel):
    """A virtual machine template offered by one site."""

    __tablename__ = "flavors"
    __table_args__ = (UniqueConstraint("site_id", "name"),)
    resource_type = "flavor"

    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    site_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False, index=True
    )
    site: Mapped[Site] = relationship(back_populates="flavors", lazy="joined")

    def delete(self) -> None:
        from backend.models.result import Result

        if db.session.scalar(select(exists().where(Result.flavor_id == self.id))):
            raise Conflict("This flavor has results; delete them before the flavor.")
        super().delete()
