"""The email in a token is checked before it is stored (POST /users:register and
POST /users/self:update): one plain address that a mail relay accepts, or 422.

Before, NUL was a 500, and CR/LF, address lists, HTML and 5,000-character values were
registered and then made their mails fail at every retry for days.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.extensions import db
from backend.models import User
from backend.notifications.outbox import OutboxMessage
from tests.conftest import bearer
from tests.notifications.conftest import (  # noqa: F401 (the real SMTP server's fixtures)
    deliver,
    mail_app,
    mail_client,
    make_mail_app,
    smtp_server,
)

UNUSABLE = {
    "NUL": "alice@example.org\x00",
    "CR LF header injection": "alice@example.org\r\nBcc: victim@example.org",
    "LF": "alice@example.org\n",
    "tab": "alice\t@example.org",
    "DEL": "alice\x7f@example.org",
    "C1 control": "alice\x85@example.org",
    "line separator": "alice\u2028@example.org",
    "comma list": "alice@example.org, bob@example.org",
    "semicolon list": "alice@example.org;bob@example.org",
    "display name": "Alice <alice@example.org>",
    "angle brackets": "<alice@example.org>",
    "HTML": "<b>alice</b>@example.org",
    "script": "<script>alert(1)</script>@example.org",
    "5,000 characters": "a" * 4988 + "@example.org",
    "255 characters": "a" * 62 + "@" + ("b" * 62 + ".") * 3 + "org",
    "local part over 64": "a" * 65 + "@example.org",
    "no at": "alice.example.org",
    "two ats": "alice@bob@example.org",
    "empty local part": "@example.org",
    "empty domain": "alice@",
    "no dot in domain": "alice@localhost",
    "leading dot": ".alice@example.org",
    "double dot": "alice..smith@example.org",
    "domain label with hyphen at the end": "alice@example-.org",
    "space": "alice smith@example.org",
    "trailing space": "alice@example.org ",
    "quoted local part": '"alice smith"@example.org',
    "IP literal": "alice@[127.0.0.1]",
    "non-ASCII": "jörg@example.org",
    "list value": ["alice@example.org"],
    "number": 42,
}

USABLE = [
    "alice@example.org",
    "o'brien+perf@mail.example.co.uk",
    "First.Last@Sub-Domain.Example.ORG",
    "x@xn--bcher-kva.example",
    "a" * 64 + "@example.org",
    "a" * 61 + "@" + ("b" * 62 + ".") * 3 + "org",  # 254 characters
]


def stored_users() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def queued_messages() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def assert_unusable_email(response):
    assert response.status_code == 422
    assert "identity provider" in response.json["message"]
    assert "email" in response.json["message"]


@pytest.mark.parametrize("email", UNUSABLE.values(), ids=UNUSABLE.keys())
def test_register_with_an_unusable_email_is_422(client, issuer, email):
    token = issuer.mint("alice", extra_claims={"email": email, "email_verified": True})

    response = client.post("/users:register", headers=bearer(token))

    assert_unusable_email(response)
    assert stored_users() == 0
    assert queued_messages() == 0


@pytest.mark.parametrize("email", UNUSABLE.values(), ids=UNUSABLE.keys())
def test_update_with_an_unusable_email_is_422(client, issuer, user, email):
    token = issuer.mint(user.sub, extra_claims={"email": email, "email_verified": True})

    response = client.post("/users/self:update", headers=bearer(token))

    assert_unusable_email(response)
    db.session.expire_all()
    assert db.session.get(User, user.id).email == user.email
    assert queued_messages() == 0


@pytest.mark.parametrize("email", USABLE)
def test_register_and_update_accept_plain_addresses(client, issuer, email):
    assert len(email) <= 254
    token = bearer(issuer.mint("alice", email=email))

    assert client.post("/users:register", headers=token).status_code == 201
    assert client.post("/users/self:update", headers=token).status_code == 204
    assert client.get("/users/self", headers=token).json["email"] == email


def test_an_accepted_unusual_address_gets_its_mail(
    mail_app,  # noqa: F811
    mail_client,  # noqa: F811
    smtp_server,  # noqa: F811
    issuer,
):
    email = "o'brien+perf@mail.example.co.uk"

    response = mail_client.post("/users:register", headers=bearer(issuer.mint("ob", email=email)))

    assert response.status_code == 201
    report = deliver(mail_app)
    assert (report.sent, report.failed) == (1, 0)
    assert smtp_server.received[0].recipients == [email]
