"""GET, PUT and DELETE /sites/{id}: anyone reads a site, admins change and delete it."""

import uuid

import pytest

from backend.models import ItemStatus
from factories import FlavorFactory, ResultFactory, SiteFactory


def test_get_site(client):
    site = SiteFactory(name="CESNET-MCC", address="cz", description="cloud")

    response = client.get(f"/sites/{site.id}")

    assert response.status_code == 200
    assert response.json == {
        "id": str(site.id),
        "name": "CESNET-MCC",
        "address": "cz",
        "description": "cloud",
        "upload_datetime": site.upload_datetime.isoformat(),
    }


def test_get_site_on_review(client):
    site = SiteFactory(status=ItemStatus.on_review)

    assert client.get(f"/sites/{site.id}").status_code == 200


def test_get_unknown_site_is_404(client):
    response = client.get(f"/sites/{uuid.uuid4()}")

    assert response.status_code == 404
    assert "site" in response.json["message"]


def test_get_malformed_id_is_404(client):
    response = client.get("/sites/not-a-uuid")

    assert response.status_code == 404
    assert "not-a-uuid" in response.json["message"]


def test_admin_updates_a_site(client, admin_headers):
    site = SiteFactory(name="old", address="old.example.org", description="old")

    response = client.put(f"/sites/{site.id}", json={"name": "new"}, headers=admin_headers)

    assert response.status_code == 204
    assert response.data == b""
    assert client.get(f"/sites/{site.id}").json | {"upload_datetime": None} == {
        "id": str(site.id),
        "name": "new",
        "address": "old.example.org",
        "description": "old",
        "upload_datetime": None,
    }


def test_update_can_clear_the_description(client, admin_headers):
    site = SiteFactory(description="something")

    response = client.put(f"/sites/{site.id}", json={"description": None}, headers=admin_headers)

    assert response.status_code == 204
    assert client.get(f"/sites/{site.id}").json["description"] is None


def test_update_to_an_existing_name_is_409(client, admin_headers):
    SiteFactory(name="taken")
    site = SiteFactory(name="mine")

    response = client.put(f"/sites/{site.id}", json={"name": "taken"}, headers=admin_headers)

    assert response.status_code == 409
    assert client.get(f"/sites/{site.id}").json["name"] == "mine"


@pytest.mark.parametrize("body", [{"name": ""}, {"address": None}, {"colour": "red"}])
def test_update_with_bad_body_is_422(client, admin_headers, body):
    site = SiteFactory()

    response = client.put(f"/sites/{site.id}", json=body, headers=admin_headers)

    assert response.status_code == 422


def test_update_unknown_site_is_404(client, admin_headers):
    response = client.put(f"/sites/{uuid.uuid4()}", json={"name": "x"}, headers=admin_headers)

    assert response.status_code == 404


def test_admin_deletes_a_site_with_its_flavors(client, admin_headers):
    flavor = FlavorFactory()
    site_id, flavor_id = flavor.site_id, flavor.id

    response = client.delete(f"/sites/{site_id}", headers=admin_headers)

    assert response.status_code == 204
    assert client.get(f"/sites/{site_id}").status_code == 404
    assert client.get(f"/flavors/{flavor_id}").status_code == 404


def test_delete_site_with_results_is_409(client, admin_headers):
    result = ResultFactory()

    response = client.delete(f"/sites/{result.site_id}", headers=admin_headers)

    assert response.status_code == 409
    assert client.get(f"/sites/{result.site_id}").status_code == 200


def test_delete_unknown_site_is_404(client, admin_headers):
    response = client.delete(f"/sites/{uuid.uuid4()}", headers=admin_headers)

    assert response.status_code == 404


ADMIN_OPERATIONS = [
    ("PUT", "/sites/{id}"),
    ("DELETE", "/sites/{id}"),
    ("POST", "/sites/{id}:approve"),
    ("POST", "/sites/{id}:reject"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_OPERATIONS)
def test_admin_operations_need_a_token(client, method, path):
    site = SiteFactory(status=ItemStatus.on_review)

    response = client.open(path.format(id=site.id), method=method, json={"name": "x"})

    assert response.status_code == 401
    assert client.get(f"/sites/{site.id}").json["name"] == site.name


@pytest.mark.parametrize(("method", "path"), ADMIN_OPERATIONS)
def test_admin_operations_refuse_unregistered_users(client, token_headers, method, path):
    site = SiteFactory(status=ItemStatus.on_review)

    response = client.open(
        path.format(id=site.id), method=method, json={"name": "x"}, headers=token_headers
    )

    assert response.status_code == 403


@pytest.mark.parametrize(("method", "path"), ADMIN_OPERATIONS)
def test_admin_operations_refuse_users(client, user_headers, method, path):
    site = SiteFactory(status=ItemStatus.on_review)

    response = client.open(
        path.format(id=site.id), method=method, json={"name": "x"}, headers=user_headers
    )

    assert response.status_code == 403
    assert "administrators" in response.json["message"]
    assert client.get(f"/sites/{site.id}").json["name"] == site.name
