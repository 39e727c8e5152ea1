"""Private artifacts exist only for their owner and admins: 404 and absent everywhere else."""

from __future__ import annotations

import pytest

from factories import ExperimentFactory, ResultFactory, UserFactory
from tests.artifacts.conftest import upload
from tests.conftest import bearer


@pytest.fixture
def other_headers(issuer):
    other = UserFactory(iss=issuer.url)
    return bearer(issuer.mint(other.sub, email=other.email))


@pytest.fixture
def private(client, user_headers):
    """A private artifact of ``user``, linked to a result and an experiment."""
    result = ResultFactory()
    ExperimentFactory(experiment_id="resnet-sweep")
    return upload(
        client,
        user_headers,
        b"secret weights",
        name="secret-model",
        description="unreleased",
        visibility="private",
        result_id=str(result.id),
        experiment_id="resnet-sweep",
        metadata='{"project": "hidden"}',
    )


def routes_of(artifact: dict) -> list[str]:
    return [
        f"/artifacts/{artifact['id']}",
        f"/artifacts/{artifact['id']}/blob",
    ]


def lists_of(artifact: dict) -> list[str]:
    return [
        "/artifacts",
        "/artifacts?terms=secret",
        "/artifacts?filters=project%20==%20hidden",
        f"/artifacts?uploader_id={artifact['uploader_id']}",
        f"/results/{artifact['result_id']}/artifacts",
        "/experiments/resnet-sweep/artifacts",
    ]


def test_a_private_artifact_is_invisible_to_others(client, private, other_headers):
    for headers in ({}, other_headers):
        for path in routes_of(private):
            assert client.get(path, headers=headers).status_code == 404, path
        assert client.head(routes_of(private)[1], headers=headers).status_code == 404
        for path in lists_of(private):
            response = client.get(path, headers=headers)
            assert response.status_code == 200, (path, response.json)
            assert response.json["items"] == [], path
            assert response.json["total"] == 0, path


def test_its_owner_sees_it_everywhere(client, private, user_headers):
    for path in routes_of(private):
        assert client.get(path, headers=user_headers).status_code == 200, path
    for path in lists_of(private):
        items = client.get(path, headers=user_headers).json["items"]
        assert [item["id"] for item in items] == [private["id"]], path


def test_admins_see_it_everywhere(client, private, admin_headers):
    for path in routes_of(private):
        assert client.get(path, headers=admin_headers).status_code == 200, path
    for path in lists_of(private):
        items = client.get(path, headers=admin_headers).json["items"]
        assert [item["id"] for item in items] == [private["id"]], path


def test_others_can_neither_change_nor_delete_it(client, private, other_headers):
    changed = client.patch(
        f"/artifacts/{private['id']}", headers=other_headers, json={"visibility": "public"}
    )
    deleted = client.delete(f"/artifacts/{private['id']}", headers=other_headers)

    assert changed.status_code == 404
    assert deleted.status_code == 404


def test_a_public_artifact_is_seen_by_all_but_changed_by_its_owner_only(
    client, user_headers, other_headers
):
    artifact = upload(client, user_headers, b"open data")

    assert client.get(f"/artifacts/{artifact['id']}").status_code == 200
    refused = client.patch(
        f"/artifacts/{artifact['id']}", headers=other_headers, json={"description": "mine"}
    )
    assert refused.status_code == 403


def test_making_it_public_shows_it(client, private, user_headers, other_headers):
    response = client.patch(
        f"/artifacts/{private['id']}", headers=user_headers, json={"visibility": "public"}
    )

    assert response.status_code == 200
    assert client.get(f"/artifacts/{private['id']}/blob", headers=other_headers).data == (
        b"secret weights"
    )


def test_the_storage_api_hides_it_too(client, private, other_headers):
    # Morpheo's view of the same artifacts: kind "data" by default.
    assert client.get(f"/storage/data/{private['id']}", headers=other_headers).status_code == 404
    blob = client.get(f"/storage/data/{private['id']}/blob", headers=other_headers)
    assert blob.status_code == 404
    assert client.get("/storage/data", headers=other_headers).json["items"] == []
