"""Every event of the notifications table in API-V1.md, as the SMTP server receives it:
recipients, cc, subject, the resource id in the body and the Resource-ID header."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.extensions import db
from backend.models import ItemStatus, User
from backend.notifications.outbox import OutboxMessage
from factories import BenchmarkFactory, ClaimFactory, FlavorFactory, ResultFactory, SiteFactory
from tests.conftest import bearer
from tests.notifications.conftest import SENDER, SUPPORT, deliver


def only_message(app, smtp_server):
    """Deliver, and return the one message the server received."""
    report = deliver(app)
    assert (report.sent, report.failed) == (1, 0)
    (received,) = smtp_server.received
    assert received.message["From"] == SENDER
    return received


def test_register_welcomes_the_user(mail_app, mail_client, smtp_server, issuer):
    headers = bearer(issuer.mint("alice", email="alice@example.org"))

    response = mail_client.post("/users:register", headers=headers)

    assert response.status_code == 201
    user_id = db.session.scalar(select(User.id).where(User.sub == "alice"))
    received = only_message(mail_app, smtp_server)
    assert received.recipients == ["alice@example.org"]
    assert received.message["To"] == "alice@example.org"
    assert received.message["Cc"] is None
    assert received.message["Subject"] == "Welcome to EOSC Performance API"
    assert received.message["Resource-ID"] == str(user_id)
    assert str(user_id) in received.text
    html = received.message.get_body(("html",)).get_content()
    assert "<strong>alice@example.org</strong>" in html


def test_self_update_confirms_the_new_address(mail_app, mail_client, smtp_server, issuer, user):
    headers = bearer(issuer.mint(user.sub, email="new-address@example.org"))

    response = mail_client.post("/users/self:update", headers=headers)

    assert response.status_code == 204
    received = only_message(mail_app, smtp_server)
    assert received.recipients == ["new-address@example.org"]
    assert received.message["Cc"] is None
    assert received.message["Subject"] == "Your email address at EOSC Performance API was updated"
    assert received.message["Resource-ID"] == str(user.id)
    assert str(user.id) in received.text
    assert "new-address@example.org" in received.text


def test_self_update_with_the_same_address_sends_nothing(
    mail_app, mail_client, smtp_server, user_headers
):
    response = mail_client.post("/users/self:update", headers=user_headers)

    assert response.status_code == 204
    assert deliver(mail_app).claimed == 0
    assert smtp_server.received == []


SUBMISSIONS = {
    "site": lambda: ("/sites", {"name": "CESNET-MCC", "address": "mcc.cesnet.cz"}),
    "flavor": lambda: (
        f"/sites/{SiteFactory().id}/flavors",
        {"name": "m1.large", "description": "8 vCPU"},
    ),
    "benchmark": lambda: (
        "/benchmarks",
        {
            "docker_image": "example/ml-bench",
            "docker_tag": "2.1",
            "url": "https://example.org/ml-bench",
            "json_schema": {"type": "object"},
        },
    ),
}


@pytest.mark.parametrize("kind", SUBMISSIONS)
def test_submission_is_acknowledged_to_uploader_cc_support(
    kind, mail_app, mail_client, smtp_server, user, user_headers
):
    path, body = SUBMISSIONS[kind]()

    response = mail_client.post(path, json=body, headers=user_headers)

    assert response.status_code == 201, response.json
    resource_id = response.json["id"]
    received = only_message(mail_app, smtp_server)
    assert received.recipients == [user.email, SUPPORT]
    assert received.message["To"] == user.email
    assert received.message["Cc"] == SUPPORT
    assert received.message["Subject"].startswith(f"Your {kind} ")
    assert received.message["Subject"].endswith(" was submitted for review")
    assert received.message["Resource-ID"] == resource_id
    assert resource_id in received.text


PENDING = {
    "site": (lambda user: SiteFactory(uploader=user, status=ItemStatus.on_review), "/sites"),
    "flavor": (lambda user: FlavorFactory(uploader=user, status=ItemStatus.on_review), "/flavors"),
    "benchmark": (
        lambda user: BenchmarkFactory(uploader=user, status=ItemStatus.on_review),
        "/benchmarks",
    ),
    "claim": (lambda user: ClaimFactory(uploader=user), "/reports/claims"),
}


@pytest.mark.parametrize("kind", PENDING)
def test_approval_is_told_to_uploader_cc_support(
    kind, mail_app, mail_client, smtp_server, user, admin_headers
):
    make, prefix = PENDING[kind]
    item = make(user)

    response = mail_client.post(f"{prefix}/{item.id}:approve", headers=admin_headers)

    assert response.status_code == 204
    received = only_message(mail_app, smtp_server)
    assert received.recipients == [user.email, SUPPORT]
    assert received.message["To"] == user.email
    assert received.message["Cc"] == SUPPORT
    assert received.message["Subject"].startswith(f"Your {kind} ")
    assert received.message["Subject"].endswith(" was approved")
    assert received.message["Resource-ID"] == str(item.id)
    assert str(item.id) in received.text


@pytest.mark.parametrize("kind", ["site", "flavor", "benchmark"])
def test_rejection_is_told_to_uploader_cc_support(
    kind, mail_app, mail_client, smtp_server, user, admin_headers
):
    make, prefix = PENDING[kind]
    item = make(user)
    item_id = str(item.id)

    response = mail_client.post(f"{prefix}/{item_id}:reject", headers=admin_headers)

    assert response.status_code == 204
    received = only_message(mail_app, smtp_server)
    assert received.recipients == [user.email, SUPPORT]
    assert received.message["Cc"] == SUPPORT
    assert received.message["Subject"].startswith(f"Your {kind} ")
    assert received.message["Subject"].endswith(" was rejected")
    assert received.message["Resource-ID"] == item_id
    assert item_id in received.text


def test_claim_is_told_to_the_results_uploader_with_the_message(
    mail_app, mail_client, smtp_server, user_headers
):
    result = ResultFactory()
    uploader_email, result_id = result.uploader.email, str(result.id)

    response = mail_client.post(
        f"/results/{result_id}:claim",
        json={"message": "The CPU count cannot be 4096."},
        headers=user_headers,
    )

    assert response.status_code == 201, response.json
    received = only_message(mail_app, smtp_server)
    assert received.recipients == [uploader_email, SUPPORT]
    assert received.message["To"] == uploader_email
    assert received.message["Cc"] == SUPPORT
    assert received.message["Subject"] == f"Your result {result_id} was claimed to be wrong"
    assert received.message["Resource-ID"] == result_id
    assert result_id in received.text
    assert "The CPU count cannot be 4096." in received.text
    assert response.json["id"] in received.text


def test_rejected_claim_is_told_to_claimer_and_restored_result_to_its_uploader(
    mail_app, mail_client, smtp_server, user, admin_headers
):
    claim = ClaimFactory(uploader=user)
    claim_id, result_id = str(claim.id), str(claim.resource.id)
    result_uploader = claim.resource.uploader.email

    response = mail_client.post(f"/reports/claims/{claim_id}:reject", headers=admin_headers)

    assert response.status_code == 204
    assert deliver(mail_app).sent == 2
    by_event = {r.message["Resource-ID"]: r for r in smtp_server.received}
    rejected, restored = by_event[claim_id], by_event[result_id]
    assert rejected.recipients == [user.email, SUPPORT]
    assert rejected.message["Subject"] == f"Your claim on result {result_id} was rejected"
    assert claim_id in rejected.text
    assert restored.recipients == [result_uploader, SUPPORT]
    assert restored.message["Cc"] == SUPPORT
    assert restored.message["Subject"] == f"Your result {result_id} is listed again"
    assert result_id in restored.text


def test_rejected_claim_with_other_claims_open_restores_nothing(
    mail_app, mail_client, smtp_server, user, admin_headers
):
    claim = ClaimFactory(uploader=user)
    ClaimFactory(resource=claim.resource)
    claim_id = str(claim.id)

    response = mail_client.post(f"/reports/claims/{claim_id}:reject", headers=admin_headers)

    assert response.status_code == 204
    received = only_message(mail_app, smtp_server)
    assert received.message["Resource-ID"] == claim_id


def test_no_support_address_means_no_cc(make_mail_app, smtp_server, user, admin_headers):
    app = make_mail_app(smtp_server.port, MAIL_SUPPORT=None)
    site = SiteFactory(uploader=user, status=ItemStatus.on_review)

    response = app.test_client().post(f"/sites/{site.id}:approve", headers=admin_headers)

    assert response.status_code == 204
    received = only_message(app, smtp_server)
    assert received.recipients == [user.email]
    assert received.message["Cc"] is None


def test_resource_without_uploader_sends_nothing(mail_app, mail_client, smtp_server, admin_headers):
    site = SiteFactory(uploader=None, status=ItemStatus.on_review)

    response = mail_client.post(f"/sites/{site.id}:approve", headers=admin_headers)

    assert response.status_code == 204
    assert deliver(mail_app).claimed == 0
    assert smtp_server.received == []


def test_items_created_approved_send_nothing(mail_app):
    """Imports and fixtures create approved items directly: no "submitted" mail."""
    ResultFactory()
    ClaimFactory(status=ItemStatus.approved)

    assert db.session.scalars(select(OutboxMessage)).all() == []
