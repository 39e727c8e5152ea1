"""/flavors/{id}: read a flavor and its site; admins change, delete and review flavors."""

import uuid

import pytest

from backend.models import ItemStatus
from factories import FlavorFactory, ResultFactory


def flavor_names(client, site_id, status="approved"):
    response = client.get(f"/sites/{site_id}/flavors?status={status}")
    return [item["name"] for item in response.json["items"]]


def test_get_flavor(client):
    flavor = FlavorFactory(name="m1.small", description="1 vCPU")

    response = client.get(f"/flavors/{flavor.id}")

    assert response.status_code == 200
    assert response.json == {
        "id": str(flavor.id),
        "name": "m1.small",
        "description": "1 vCPU",
        "upload_datetime": flavor.upload_datetime.isoformat(),
    }
    assert response.json["upload_datetime"].endswith("+00:00")


def test_get_unknown_flavor_is_404(client):
    response = client.get(f"/flavors/{uuid.uuid4()}")

    assert response.status_code == 404
    assert "flavor" in response.json["message"]


def test_get_malformed_flavor_id_is_404(client):
    assert client.get("/flavors/m1.small").status_code == 404


def test_get_the_site_of_a_flavor(client):
    flavor = FlavorFactory(site__name="CESNET-MCC")

    response = client.get(f"/flavors/{flavor.id}/site")

    assert response.status_code == 200
    assert response.json["id"] == str(flavor.site_id)
    assert response.json["name"] == "CESNET-MCC"


def test_get_the_site_of_an_unknown_flavor_is_404(client):
    assert client.get(f"/flavors/{uuid.uuid4()}/site").status_code == 404


def test_admin_updates_a_flavor(client, admin_headers):
    flavor = FlavorFactory(name="m1.small", description="old")

    response = client.put(
        f"/flavors/{flavor.id}", json={"description": "new"}, headers=admin_headers
    )

    assert response.status_code == 204
    body = client.get(f"/flavors/{flavor.id}").json
    assert body["name"] == "m1.small"
    assert body["description"] == "new"


def test_update_to_a_name_taken_on_the_site_is_409(client, admin_headers):
    taken = FlavorFactory(name="taken")
    flavor = FlavorFactory(site=taken.site, name="mine")

    response = client.put(f"/flavors/{flavor.id}", json={"name": "taken"}, headers=admin_headers)

    assert response.status_code == 409


@pytest.mark.parametrize("body", [{"name": ""}, {"name": None}, {"site_id": str(uuid.uuid4())}])
def test_update_flavor_with_bad_body_is_422(client, admin_headers, body):
    flavor = FlavorFactory()

    response = client.put(f"/flavors/{flavor.id}", json=body, headers=admin_headers)

    assert response.status_code == 422


def test_update_unknown_flavor_is_404(client, admin_headers):
    response = client.put(f"/flavors/{uuid.uuid4()}", json={"name": "x"}, headers=admin_headers)

    assert response.status_code == 404


def test_admin_deletes_a_flavor(client, admin_headers):
    flavor_id = FlavorFactory().id

    response = client.delete(f"/flavors/{flavor_id}", headers=admin_headers)

    assert response.status_code == 204
    assert client.get(f"/flavors/{flavor_id}").status_code == 404


def test_delete_flavor_with_results_is_409(client, admin_headers):
    result = ResultFactory()

    response = client.delete(f"/flavors/{result.flavor_id}", headers=admin_headers)

    assert response.status_code == 409
    assert client.get(f"/flavors/{result.flavor_id}").status_code == 200


def test_delete_unknown_flavor_is_404(client, admin_headers):
    assert client.delete(f"/flavors/{uuid.uuid4()}", headers=admin_headers).status_code == 404


def test_approve_lists_the_flavor(client, admin_headers):
    flavor = FlavorFactory(name="m1.small", status=ItemStatus.on_review)

    response = client.post(f"/flavors/{flavor.id}:approve", headers=admin_headers)

    assert response.status_code == 204
    assert flavor_names(client, flavor.site_id) == ["m1.small"]
    assert flavor_names(client, flavor.site_id, "on_review") == []


def test_approve_an_approved_flavor_is_422(client, admin_headers):
    flavor = FlavorFactory(status=ItemStatus.approved)

    response = client.post(f"/flavors/{flavor.id}:approve", headers=admin_headers)

    assert response.status_code == 422


def test_reject_deletes_the_flavor(client, admin_headers):
    flavor = FlavorFactory(status=ItemStatus.on_review)
    flavor_id, site_id = flavor.id, flavor.site_id

    response = client.post(f"/flavors/{flavor_id}:reject", headers=admin_headers)

    assert response.status_code == 204
    assert client.get(f"/flavors/{flavor_id}").status_code == 404
    assert client.get(f"/sites/{site_id}").status_code == 200


def test_reject_an_approved_flavor_is_422(client, admin_headers):
    flavor = FlavorFactory(status=ItemStatus.approved)

    response = client.post(f"/flavors/{flavor.id}:reject", headers=admin_headers)

    assert response.status_code == 422
    assert client.get(f"/flavors/{flavor.id}").status_code == 200


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_review_unknown_flavor_is_404(client, admin_headers, action):
    response = client.post(f"/flavors/{uuid.uuid4()}:{action}", headers=admin_headers)

    assert response.status_code == 404


ADMIN_OPERATIONS = [
    ("PUT", "/flavors/{id}"),
    ("DELETE", "/flavors/{id}"),
    ("POST", "/flavors/{id}:approve"),
    ("POST", "/flavors/{id}:reject"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_OPERATIONS)
def test_admin_operations_need_a_token(client, method, path):
    flavor = FlavorFactory(status=ItemStatus.on_review)

    response = client.open(path.format(id=flavor.id), method=method, json={"name": "x"})

    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path"), ADMIN_OPERATIONS)
def test_admin_operations_refuse_unregistered_users(client, token_headers, method, path):
    flavor = FlavorFactory(status=ItemStatus.on_review)

    response = client.open(
        path.format(id=flavor.id), method=method, json={"name": "x"}, headers=token_headers
    )

    assert response.status_code == 403


@pytest.mark.parametrize(("method", "path"), ADMIN_OPERATIONS)
def test_admin_operations_refuse_users(client, user_headers, method, path):
    flavor = FlavorFactory(status=ItemStatus.on_review, name="m1.small")

    response = client.open(
        path.format(id=flavor.id), method=method, json={"name": "x"}, headers=user_headers
    )

    assert response.status_code == 403
    assert client.get(f"/flavors/{flavor.id}").json["name"] == "m1.small"
