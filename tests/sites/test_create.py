"""POST /sites: any registered user submits a site; it waits on review for an admin."""

import pytest

from factories import SiteFactory


def test_user_submits_a_site_on_review(client, user_headers):
    body = {"name": "CESNET-MCC", "address": "cloud.metacentrum.cz", "description": "OpenStack"}

    response = client.post("/sites", json=body, headers=user_headers)

    assert response.status_code == 201
    assert response.json["name"] == "CESNET-MCC"
    assert response.json["address"] == "cloud.metacentrum.cz"
    assert response.json["description"] == "OpenStack"
    assert response.json["upload_datetime"].endswith("+00:00")
    site_id = response.json["id"]
    assert client.get(f"/sites/{site_id}").json == response.json
    assert client.get("/sites").json["items"] == []
    assert client.get("/sites?status=on_review").json["items"] == [response.json]


def test_description_is_optional(client, user_headers):
    response = client.post("/sites", json={"name": "a", "address": "b"}, headers=user_headers)

    assert response.status_code == 201
    assert response.json["description"] is None


def test_needs_a_token(client):
    response = client.post("/sites", json={"name": "a", "address": "b"})

    assert response.status_code == 401


def test_needs_a_registered_user(client, token_headers):
    response = client.post("/sites", json={"name": "a", "address": "b"}, headers=token_headers)

    assert response.status_code == 403


def test_duplicate_name_is_409(client, user_headers):
    SiteFactory(name="CESNET-MCC")

    response = client.post(
        "/sites", json={"name": "CESNET-MCC", "address": "x"}, headers=user_headers
    )

    assert response.status_code == 409
    assert "name" in response.json["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"address": "cz"}, "name"),
        ({"name": "CESNET"}, "address"),
        ({"name": "", "address": "cz"}, "name"),
        ({"name": 42, "address": "cz"}, "name"),
        ({"name": "x" * 256, "address": "cz"}, "name"),
        ({"name": "CESNET", "address": "cz", "colour": "red"}, "colour"),
        ({"name": "CESNET", "address": "cz", "id": "not-settable"}, "id"),
    ],
)
def test_bad_body_is_422_naming_the_field(client, user_headers, body, field):
    response = client.post("/sites", json=body, headers=user_headers)

    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


def test_body_that_is_not_an_object_is_422(client, user_headers):
    response = client.post("/sites", json=["CESNET"], headers=user_headers)

    assert response.status_code == 422
