"""Users: people identified by their OIDC subject and issuer."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.types import UTCDateTime, utc_now


class User(db.Model):
    """A registered user; registering means accepting the terms of use.

    The same person may hold accounts at several issuers with one email, so the email is
    not unique: (sub, iss) is the identity.
    """

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("sub", "iss"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    sub: Mapped[str] = mapped_column(String(255), nullable=False)
    iss: Mapped[str] = mapped_column(String(255), nullable=False)
    email: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    registration_datetime: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utc_now
    )

    @classmethod
    def register(cls, sub: str, iss: str, email: str) -> User:
        """Add a new user to the session and welcome them by email (sent after commit)."""
        from backend.notifications import events

        user = cls(id=uuid.uuid4(), sub=sub, iss=iss.rstrip("/"), email=email)
        db.session.add(user)
        events.user_welcome(user)
        return user

    def change_email(self, email: str) -> None:
        """Store a new email address and confirm it there; the same address sends nothing."""
        from backend.notifications import events

        if email != self.email:
            self.email = email
            events.email_updated(self)

    @classmethod
    def find(cls, sub: str, iss: str) -> User | None:
        return db.session.execute(
            db.select(cls).where(cls.sub == sub, cls.iss == iss.rstrip("/"))
        ).scalar_one_or_none()

    def __repr__(self) -> str:
        return f"<User {self.sub}@{self.iss}>"
