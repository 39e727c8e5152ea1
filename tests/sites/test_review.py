"""POST /sites/{id}:approve and :reject: admins decide on submitted sites."""

import uuid

from backend.models import ItemStatus
from factories import FlavorFactory, SiteFactory


def listed(client, status="approved"):
    return [item["id"] for item in client.get(f"/sites?status={status}").json["items"]]


def test_approve_lists_the_site_and_closes_its_submit(client, admin_headers):
    site = SiteFactory(status=ItemStatus.on_review)

    response = client.post(f"/sites/{site.id}:approve", headers=admin_headers)

    assert response.status_code == 204
    assert listed(client) == [str(site.id)]
    assert listed(client, "on_review") == []
    assert client.get("/reports/submits", headers=admin_headers).json["items"] == []


def test_approve_an_approved_site_is_422(client, admin_headers):
    site = SiteFactory(status=ItemStatus.approved)

    response = client.post(f"/sites/{site.id}:approve", headers=admin_headers)

    assert response.status_code == 422
    assert "already approved" in response.json["message"]


def test_reject_deletes_the_site_and_its_submit(client, admin_headers):
    site_id = SiteFactory(status=ItemStatus.on_review).id

    response = client.post(f"/sites/{site_id}:reject", headers=admin_headers)

    assert response.status_code == 204
    assert client.get(f"/sites/{site_id}").status_code == 404
    assert client.get("/reports/submits", headers=admin_headers).json["items"] == []


def test_reject_deletes_the_flavors_of_the_site(client, admin_headers):
    site = SiteFactory(status=ItemStatus.on_review)
    flavor_id = FlavorFactory(site=site, status=ItemStatus.on_review).id

    response = client.post(f"/sites/{site.id}:reject", headers=admin_headers)

    assert response.status_code == 204
    assert client.get(f"/flavors/{flavor_id}").status_code == 404


def test_reject_an_approved_site_is_422(client, admin_headers):
    site = SiteFactory(status=ItemStatus.approved)

    response = client.post(f"/sites/{site.id}:reject", headers=admin_headers)

    assert response.status_code == 422
    assert "DELETE" in response.json["message"]
    assert client.get(f"/sites/{site.id}").status_code == 200


def test_approve_unknown_site_is_404(client, admin_headers):
    assert client.post(f"/sites/{uuid.uuid4()}:approve", headers=admin_headers).status_code == 404
    assert client.post("/sites/nonsense:approve", headers=admin_headers).status_code == 404


def test_reject_unknown_site_is_404(client, admin_headers):
    assert client.post(f"/sites/{uuid.uuid4()}:reject", headers=admin_headers).status_code == 404
