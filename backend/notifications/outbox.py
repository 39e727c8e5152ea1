"""The outbox: notifications waiting to be sent, written in the transaction that caused them.

Writing the message into the same transaction as the change means a rolled-back change
leaves no message behind, and a committed one cannot lose its message even if the mail
server is down or the process dies: the row stays until a deliverer has handed it to the
SMTP server (see ``delivery``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.types import UTCDateTime, utc_now


class OutboxMessage(db.Model):
    """One email to send: rendered when the event happened, so that sending later needs
    nothing but this row.

    A message is due when it is unsent, its ``next_attempt_at`` has come and no deliverer
    holds it (``claimed_until`` unset or past). ``next_attempt_at`` is NULL once the
    message has been given up after too many attempts; ``last_error`` says why.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_sent_at_next_attempt_at", "sent_at", "next_attempt_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    #: The event that caused the message (``resource_approved``...), for operators.
    event: Mapped[str] = mapped_column(String(64), nullable=False)
    to: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    cc: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    body_text: Mapped[str] = mapped_column(Text, nullable=False)
    body_html: Mapped[str | None] = mapped_column(Text)
    #: The resource the message is about; sent as the ``Resource-ID`` header.
    resource_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utc_now)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utc_now)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The deliverer sending the message holds it until then; past that, it is free again
    #: (its deliverer died), so a message is never stuck and rarely sent twice.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(255))

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.event} {self.id}>"
