"""GET /reports/claims/{id} and the admins' :approve / :reject of claims on results."""

import uuid

import pytest

from backend.extensions import db
from backend.models import ItemStatus, Result
from factories import ClaimFactory, UserFactory


def is_hidden(result_id) -> bool:
    db.session.expire_all()
    return db.session.get(Result, result_id).hidden


def test_anyone_reads_a_claim_without_the_claimers_email(client):
    claimer = UserFactory(sub="claimer", iss="https://aai.example.org")
    claim = ClaimFactory(uploader=claimer, message="The score is impossible")

    response = client.get(f"/reports/claims/{claim.id}")

    assert response.status_code == 200
    assert response.json == {
        "id": str(claim.id),
        "message": "The score is impossible",
        "resource_type": "result",
        "resource_id": str(claim.resource_id),
        "upload_datetime": claim.upload_datetime.isoformat(),
        "uploader": {"sub": "claimer", "iss": "https://aai.example.org"},
    }
    assert response.json["upload_datetime"].endswith("+00:00")


def test_another_user_does_not_see_the_claimers_email(client, user_headers):
    claim = ClaimFactory()

    response = client.get(f"/reports/claims/{claim.id}", headers=user_headers)

    assert response.status_code == 200
    assert "email" not in response.json["uploader"]


def test_the_claimer_sees_their_email(client, user, user_headers):
    claim = ClaimFactory(uploader=user)

    response = client.get(f"/reports/claims/{claim.id}", headers=user_headers)

    assert response.status_code == 200
    assert response.json["uploader"]["email"] == user.email


def test_admins_see_the_claimers_email(client, admin_headers):
    claim = ClaimFactory(uploader__email="claimer@example.org")

    response = client.get(f"/reports/claims/{claim.id}", headers=admin_headers)

    assert response.json["uploader"]["email"] == "claimer@example.org"


def test_an_invalid_token_does_not_hide_a_public_claim(client):
    claim = ClaimFactory()

    response = client.get(f"/reports/claims/{claim.id}", headers={"Authorization": "Bearer x"})

    assert response.status_code == 200
    assert "email" not in response.json["uploader"]


def test_get_unknown_claim_is_404(client):
    assert client.get(f"/reports/claims/{uuid.uuid4()}").status_code == 404
    assert client.get("/reports/claims/not-an-id").status_code == 404


def test_approve_keeps_the_result_hidden(client, admin_headers):
    claim = ClaimFactory()

    response = client.post(f"/reports/claims/{claim.id}:approve", headers=admin_headers)

    assert response.status_code == 204
    assert is_hidden(claim.resource_id)
    assert client.get("/reports/submits", headers=admin_headers).json["items"] == []
    assert client.get(f"/reports/claims/{claim.id}").status_code == 200


def test_approve_an_approved_claim_is_422(client, admin_headers):
    claim = ClaimFactory(status=ItemStatus.approved)

    response = client.post(f"/reports/claims/{claim.id}:approve", headers=admin_headers)

    assert response.status_code == 422


def test_reject_deletes_the_claim_and_restores_the_result(client, admin_headers):
    claim = ClaimFactory()
    claim_id, result_id = claim.id, claim.resource_id

    response = client.post(f"/reports/claims/{claim_id}:reject", headers=admin_headers)

    assert response.status_code == 204
    assert client.get(f"/reports/claims/{claim_id}").status_code == 404
    assert not is_hidden(result_id)


def test_reject_keeps_the_result_hidden_while_another_claim_is_pending(client, admin_headers):
    claim = ClaimFactory()
    other = ClaimFactory(resource=claim.resource)

    response = client.post(f"/reports/claims/{claim.id}:reject", headers=admin_headers)

    assert response.status_code == 204
    assert is_hidden(other.resource_id)


def test_reject_an_approved_claim_is_422(client, admin_headers):
    claim = ClaimFactory(status=ItemStatus.approved)

    response = client.post(f"/reports/claims/{claim.id}:reject", headers=admin_headers)

    assert response.status_code == 422
    assert client.get(f"/reports/claims/{claim.id}").status_code == 200


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_review_unknown_claim_is_404(client, admin_headers, action):
    response = client.post(f"/reports/claims/{uuid.uuid4()}:{action}", headers=admin_headers)

    assert response.status_code == 404


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_claim_review_is_for_admins(client, token_headers, user, user_headers, action):
    claim = ClaimFactory(uploader=user)
    path = f"/reports/claims/{claim.id}:{action}"

    assert client.post(path).status_code == 401
    assert client.post(path, headers=token_headers).status_code == 403
    assert client.post(path, headers=user_headers).status_code == 403
    assert is_hidden(claim.resource_id)
