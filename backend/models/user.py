"""Users: people identified by their OIDC subject and issuer."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from backend.errors import InvalidArguments
from backend.extensions import db
from backend.models import events
from backend.models.types import UTCDateTime, utc_now

#: One addr-spec a mail relay accepts without extensions: a dot-atom local part (RFC 5322
#: atext, at most 64 characters; no quoted strings) and a domain of two or more LDH labels
#: (IDNs in their xn-- form). ASCII only: UTF-8 addresses need SMTPUTF8 at every relay.
_EMAIL = re.compile(
    r"(?=[^@]{1,64}@)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
    re.ASCII,
)
#: RFC 5321's limit on a forward path, less its angle brackets.
MAX_EMAIL_LENGTH = 254


def issuer_key(iss: str) -> str:
    """An issuer as users are stored under it: with and without a trailing slash, an
    issuer URL names the same provider."""
    return iss.rstrip("/")


def usable_email(value: object) -> str:
    """``value`` if it is one plain email address, else InvalidArguments (422).

    The address comes from the identity provider's token, so a bad one is theirs to fix;
    storing it would make every mail to it fail at each retry (a NUL was even a 500, and
    CR/LF, lists or display names could add recipients or headers).
    """
    if not isinstance(value, str) or len(value) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(value):
        raise InvalidArguments(
            "The email your identity provider gives in your token is unusable: it must be one "
            f"plain address (name@example.org), at most {MAX_EMAIL_LENGTH} ASCII characters, "
            "without a display name, spaces or control characters. Ask your identity provider "
            "to correct it.",
            errors={"email": ["Not one plain email address."]},
        )
    return value


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
        """Add a new user to the session and announce it (a welcome mail, sent after commit)."""
        user = cls(id=uuid.uuid4(), sub=sub, iss=issuer_key(iss), email=usable_email(email))
        db.session.add(user)
        events.user_registered.send(user)
        return user

    def change_email(self, email: str) -> None:
        """Store a new email address and confirm it there; the same address sends nothing."""
        email = usable_email(email)
        if email != self.email:
            self.email = email
            events.email_changed.send(self)

    @classmethod
    def find(cls, sub: str, iss: str) -> User | None:
        return db.session.execute(
            db.select(cls).where(cls.sub == sub, cls.iss == issuer_key(iss))
        ).scalar_one_or_none()

    def __repr__(self) -> str:
        return f"<User {self.sub}@{self.iss}>"
