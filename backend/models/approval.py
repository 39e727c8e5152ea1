"""The submit/approve workflow (NeedsApprove) and the admins' list of pending submits.

A pending submit is simply a resource whose status is ``on_review``; there is no second
table to keep in step. ``/reports/submits`` reads the union of all such resources.
"""

from __future__ import annotations

import enum
from typing import ClassVar

from sqlalchemy import Enum, literal, select, union_all
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.sql import Subquery

from backend.errors import AlreadyApproved


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

    def approve(self) -> None:
        if self.is_approved:
            raise AlreadyApproved(f"This {self.resource_type} is already approved.")
        self.status = ItemStatus.approved

    def reject(self) -> None:
        """Delete a pending submission; approved items must be deleted explicitly."""
        if self.is_approved:
            raise AlreadyApproved(
                f"This {self.resource_type} is approved; use DELETE to remove it."
            )
        self.delete()


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
