"""The submit/approve workflow (NeedsApprove) and the admins' list of pending submits.

A pending submit is simply a resource whose status is ``on_review``; there is no second
table to keep in step. ``/reports/submits`` reads the union of all such resources.

Submitting, approving and rejecting announce themselves (``backend.models.events``; the
notifications package turns that into mail to the uploader). Approving and
rejecting lock the item first: of admins acting on one item at the same moment exactly
one succeeds, and the uploader gets one message.
"""

from __future__ import annotations

import enum
import uuid
from typing import Any, ClassVar, Self

from sqlalchemy import Enum, literal, select, union_all
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.sql import Subquery

from backend.errors import AlreadyApproved, Conflict
from backend.extensions import db
from backend.models import events
from backend.unit_of_work import lock


class ItemStatus(enum.Enum):
    on_review = "on_review"
    approved = "approved"


class NeedsApprove:
    """Mixin for resources that are created ``on_review`` and shown once an admin approves."""

    approvable_models: ClassVar[list[type]] = []

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("__abstract__", False):
            NeedsApprove.approvable_models.append(cls)

    @declared_attr
    def status(cls) -> Mapped[ItemStatus]:
        return mapped_column(
            Enum(ItemStatus, native_enum=False, length=16, validate_strings=True),
            nullable=False,
            default=ItemStatus.on_review,
            index=True,
        )

    @property
    def is_approved(self) -> bool:
        return self.status == ItemStatus.approved

    @classmethod
    def submit(cls, **properties: Any) -> Self:
        """Create the resource on review and tell its uploader (cc support) it arrived.

        Items created approved (imports, fixtures) use ``create`` and send nothing.
        """
        resource = cls.create(id=uuid.uuid4(), status=ItemStatus.on_review, **properties)
        events.resource_submitted.send(resource)
        return resource

    def approve(self) -> None:
        self.lock_on_review(if_approved=f"This {self.resource_type} is already approved.")
        self.status = ItemStatus.approved
        events.resource_approved.send(self)

    def reject(self) -> None:
        """Delete a pending submission; approved items must be deleted explicitly."""
        self.lock_on_review(
            if_approved=f"This {self.resource_type} is approved; use DELETE to remove it."
        )
        self.delete()
        events.resource_rejected.send(self)

    def lock_on_review(self, *, if_approved: str) -> None:
        """Lock the item until the commit and make sure it is still on review, as another
        admin may have approved or rejected it since it was loaded: AlreadyApproved (422)
        with ``if_approved``, or Conflict (409) if it is gone."""
        if not lock(self):
            raise Conflict(f"This {self.resource_type} was rejected or deleted meanwhile.")
        db.session.refresh(self, ["status"])
        if self.is_approved:
            raise AlreadyApproved(if_approved)


def pending_submits() -> Subquery:
    """Every pending submission as (resource_type, resource_id, upload_datetime, uploader_id)."""
    parts = [
        select(
            literal(model.resource_type).label("resource_type"),
            model.id.label("resource_id"),
            model.upload_datetime.label("upload_datetime"),
            model.uploader_id.label("uploader_id"),
        ).where(model.status == ItemStatus.on_review)
        for model in NeedsApprove.approvable_models
    ]
    return union_all(*parts).subquery("submits")
