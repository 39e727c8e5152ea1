"""Claims: users' reports that a result is wrong, and the HasClaims mixin of results."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Index, Text, Uuid, exists, select, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from backend.errors import Conflict, NotFound
from backend.extensions import db
from backend.models import events
from backend.models.approval import ItemStatus, NeedsApprove
from backend.models.core import PkModel
from backend.models.uploader import HasUploader
from backend.models.user import User
from backend.unit_of_work import OPEN_CLAIM, lock

if TYPE_CHECKING:
    from backend.models.result import Result


class Claim(NeedsApprove, HasUploader, PkModel):
    """A report on a result. Approving it keeps the result hidden (the claim was right);
    rejecting it deletes the claim and shows the result again unless other claims remain."""

    __tablename__ = "claims"
    __table_args__ = (
        # One open claim per user and result: every claim mails the result's uploader and
        # support. HasClaims.claim checks it first, for a clear message.
        Index(
            "uq_claims_open_resource_id_uploader_id",
            "resource_id",
            "uploader_id",
            unique=True,
            postgresql_where=text("status = 'on_review'"),
            sqlite_where=text("status = 'on_review'"),
        ),
    )
    resource_type = "claim"

    message: Mapped[str] = mapped_column(Text, nullable=False)
    resource_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("results.id", ondelete="CASCADE"), nullable=False, index=True
    )
    resource: Mapped[Result] = relationship("Result", back_populates="claims")

    def reject(self) -> None:
        result = self.resource
        # The result first (as deleting a result does, then its claims): of two claims
        # rejected at once, the second sees the first gone and shows the result again.
        if result is not None:
            lock(result)
        super().reject()
        others = select(exists().where(Claim.resource_id == result.id, Claim.id != self.id))
        if not db.session.scalar(others):
            result.hidden = False
            events.result_restored.send(result)


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
        """Report the resource as wrong: hide it and tell its uploader (cc support).

        One open claim per user and resource (Conflict otherwise), so that nobody can
        flood the uploader's and support's mailboxes. The resource is locked first, so
        that claims sent at the same moment see each other.
        """
        if not lock(self):
            raise NotFound(f"No {self.resource_type} with id {self.id}.")
        open_claim = exists().where(
            Claim.resource_id == self.id,
            Claim.uploader_id == uploader.id,
            Claim.status == ItemStatus.on_review,
        )
        if db.session.scalar(select(open_claim)):
            raise Conflict(OPEN_CLAIM)
        claim = Claim.create(id=uuid.uuid4(), message=message, uploader=uploader, resource=self)
        self.hidden = True
        events.result_claimed.send(self, claim=claim)
        return claim
