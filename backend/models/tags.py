"""Tags, free labels on results, and the HasTags mixin that attaches them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, Uuid, select
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from backend.errors import NotFound
from backend.extensions import db
from backend.models.core import PkModel
from backend.unit_of_work import lock


class Tag(PkModel):
    """A label people attach to results so that others can find them (no approval)."""

    __tablename__ = "tags"
    resource_type = "tag"

    name: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    description: Mapped[str | None] = mapped_column(Text)

    @classmethod
    def get_all_or_404(cls, ids: Iterable[uuid.UUID]) -> list[Tag]:
        """The tags with these ids (duplicates ignored), or NotFound naming a missing one."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        found = {t.id: t for t in db.session.scalars(select(cls).where(cls.id.in_(wanted)))}
        for tag_id in wanted:
            if tag_id not in found:
                raise NotFound(f"No tag with id {tag_id}.")
        return [found[tag_id] for tag_id in wanted]


results_tags = Table(
    "results_tags",
    db.metadata,
    Column("result_id", Uuid, ForeignKey("results.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", Uuid, ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_results_tags_tag_id_result_id", "tag_id", "result_id"),
)


class HasTags:
    """Mixin for results, which people label with tags to find them later."""

    @declared_attr
    def tags(cls) -> Mapped[list[Tag]]:
        return relationship(Tag, secondary=results_tags, lazy="selectin", order_by=Tag.name)

    def replace_tags(self, tags: list[Tag]) -> None:
        """Make ``tags`` the resource's tags. The row is locked and its tags read again
        first: concurrent replacements then apply one after the other (the last one
        wins) instead of each changing a set another one has changed meanwhile."""
        if not lock(self):
            raise NotFound(f"No {self.resource_type} with id {self.id}.")
        db.session.refresh(self, ["tags"])
        self.tags = tags
