"""Claims: users' reports that a result is wrong, and the HasClaims mixin of results."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Text, Uuid, exists, select
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from backend.extensions import db
from backend.models.approval import NeedsApprove
from backend.models.core import PkModel
from backend.models.uploader import HasUploader
from backend.models.user import User

if TYPE_CHECKING:
    from backend.models.result import Result


class Claim(NeedsApprove, HasUploader, PkModel):
    """A report on a result. Approving it keeps the result hidden (the claim was right);
    rejecting it deletes the claim and shows the result again unless other claims remain."""

    __tablename__ = "claims"
    resource_type = "claim"

    message: Mapped[str] = mapped_column(Text, nullable=False)
    resource_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("results.id", ondelete="CASCADE"), nullable=False, index=True
    )
    resource: Mapped[Result] = relationship("Result", back_populates="claims")

    def reject(self) -> None:
        from backend.notifications import events

        super().reject()
        result = self.resource
        others = select(exists().where(Claim.resource_id == result.id, Claim.id != self.id))
        if not db.session.scalar(others):
            result.hidden = False
            events.claim_rejected_result_restored(result)


class HasClaims:
    """Mixin for resources anyone may report; a claimed resource leaves the public lists."""

    @declared_attr
    def hidden(cls) -> Mapped[bool]:
        return mapped_column(Boolean, nullable=False, default=False)

    @declared_attr
    def claims(cls) -> Mapped[list[Claim]]:
        return relationship(
            Claim, back_populates="resource", cascade="all, delete-orphan", passive_deletes=True
        )

    def claim(self, message: str, uploader: User) -> Claim:
        """Report the resource as wrong: hide it and tell its uploader (cc support)."""
        from backend.notifications import events

        claim = Claim.create(id=uuid.uuid4(), message=message, uploader=uploader, resource=self)
        self.hidden = True
        events.result_claimed(self, claim)
        return claim
