"""/sites/{id}/flavors and /sites/{id}/flavors:search: the VM templates a site offers."""

import uuid
from datetime import UTC, datetime

import pytest

from backend.models import ItemStatus
from factories import FlavorFactory, SiteFactory


def names(response):
    return [item["name"] for item in response.json["items"]]


def test_lists_the_approved_flavors_of_the_site(client):
    site = SiteFactory()
    flavor = FlavorFactory(site=site, name="m1.small", description="1 vCPU")
    FlavorFactory(site=site, name="m1.large")
    FlavorFactory(site=site, name="pending", status=ItemStatus.on_review)
    FlavorFactory(name="elsewhere")

    response = client.get(f"/sites/{site.id}/flavors")

    assert response.status_code == 200
    assert names(response) == ["m1.large", "m1.small"]
    assert response.json["items"][1] == {
        "id": str(flavor.id),
        "name": "m1.small",
        "description": "1 vCPU",
        "upload_datetime": flavor.upload_datetime.isoformat(),
    }
    assert response.json["items"][1]["upload_datetime"].endswith("+00:00")


def test_lists_flavors_on_review_when_asked_for(client):
    site = SiteFactory()
    FlavorFactory(site=site, name="approved")
    FlavorFactory(site=site, name="pending", status=ItemStatus.on_review)

    assert names(client.get(f"/sites/{site.id}/flavors?status=on_review")) == ["pending"]


def test_filter_flavors_by_name(client):
    site = SiteFactory()
    FlavorFactory(site=site, name="m1.small")
    FlavorFactory(site=site, name="m1.large")

    assert names(client.get(f"/sites/{site.id}/flavors?name=m1.small")) == ["m1.small"]


def test_filter_flavors_by_upload_dates(client):
    site = SiteFactory()
    FlavorFactory(site=site, name="old", upload_datetime=datetime(2020, 1, 1, tzinfo=UTC))
    FlavorFactory(site=site, name="new", upload_datetime=datetime(2022, 1, 1, tzinfo=UTC))

    assert names(client.get(f"/sites/{site.id}/flavors?upload_after=2021-01-01")) == ["new"]
    assert names(client.get(f"/sites/{site.id}/flavors?upload_before=2021-01-01")) == ["old"]


def test_sort_and_paginate_flavors(client):
    site = SiteFactory()
    for name in ("b", "a", "c"):
        FlavorFactory(site=site, name=name)

    first = client.get(f"/sites/{site.id}/flavors?sort_by=-name&per_page=2")
    last = client.get(f"/sites/{site.id}/flavors?sort_by=-name&per_page=2&page=2")

    assert names(first) == ["c", "b"]
    assert first.json["next_num"] == 2
    assert names(last) == ["a"]
    assert last.json["next_num"] is None
    assert last.json["prev_num"] == 1
    assert names(client.get(f"/sites/{site.id}/flavors?sort_by=%2Bname")) == ["a", "b", "c"]


def test_flavors_of_unknown_site_is_404(client):
    assert client.get(f"/sites/{uuid.uuid4()}/flavors").status_code == 404
    assert client.get("/sites/nonsense/flavors").status_code == 404
    assert client.get(f"/sites/{uuid.uuid4()}/flavors:search").status_code == 404


@pytest.mark.parametrize("path", ["/sites/{id}/flavors", "/sites/{id}/flavors:search"])
@pytest.mark.parametrize(
    ("query", "argument"),
    [
        ("colour=red", "colour"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("page=2", "page"),
        ("sort_by=name", "sort_by"),
        ("sort_by=%2Baddress", "sort_by"),
        ("status=rejected", "status"),
        ("upload_after=tomorrow", "upload_after"),
    ],
)
def test_bad_flavor_list_arguments_are_422(client, path, query, argument):
    site = SiteFactory()

    response = client.get(f"{path.format(id=site.id)}?{query}")

    assert response.status_code == 422
    assert argument in response.json["errors"]["query"]


def test_search_flavors_by_name_and_description(client):
    site = SiteFactory()
    FlavorFactory(site=site, name="gpu.large", description="NVIDIA V100")
    FlavorFactory(site=site, name="cpu.large", description="no GPU at all")
    FlavorFactory(site=site, name="cpu.small", description="tiny")
    FlavorFactory(name="gpu.other-site")

    response = client.get(f"/sites/{site.id}/flavors:search?terms=GPU")

    assert response.status_code == 200
    assert names(response) == ["cpu.large", "gpu.large"]


def test_search_flavors_needs_every_term(client):
    site = SiteFactory()
    FlavorFactory(site=site, name="gpu.large", description="V100")
    FlavorFactory(site=site, name="gpu.small", description="T4")

    assert names(client.get(f"/sites/{site.id}/flavors:search?terms=gpu&terms=v100")) == [
        "gpu.large"
    ]
    assert names(client.get(f"/sites/{site.id}/flavors:search?terms[]=gpu&terms[]=t4")) == [
        "gpu.small"
    ]


def test_search_flavors_with_empty_term_matches_all(client):
    site = SiteFactory()
    FlavorFactory.create_batch(3, site=site)

    assert client.get(f"/sites/{site.id}/flavors:search?terms=").json["total"] == 3


def test_search_flavors_treats_percent_and_underscore_literally(client):
    site = SiteFactory()
    FlavorFactory(site=site, name="m1_small")
    FlavorFactory(site=site, name="m1xsmall")
    FlavorFactory(site=site, name="50%")

    assert names(client.get(f"/sites/{site.id}/flavors:search?terms=1_")) == ["m1_small"]
    assert names(client.get(f"/sites/{site.id}/flavors:search?terms=%25")) == ["50%"]


def test_search_flavors_on_review(client):
    site = SiteFactory()
    FlavorFactory(site=site, name="pending", status=ItemStatus.on_review)

    assert names(client.get(f"/sites/{site.id}/flavors:search")) == []
    assert names(client.get(f"/sites/{site.id}/flavors:search?status=on_review")) == ["pending"]


def test_user_submits_a_flavor_on_review(client, user_headers):
    site = SiteFactory()

    response = client.post(
        f"/sites/{site.id}/flavors",
        json={"name": "m1.small", "description": "1 vCPU"},
        headers=user_headers,
    )

    assert response.status_code == 201
    assert response.json["name"] == "m1.small"
    assert response.json["description"] == "1 vCPU"
    assert response.json["upload_datetime"].endswith("+00:00")
    assert names(client.get(f"/sites/{site.id}/flavors")) == []
    assert names(client.get(f"/sites/{site.id}/flavors?status=on_review")) == ["m1.small"]
    assert client.get(f"/flavors/{response.json['id']}/site").json["id"] == str(site.id)


def test_same_flavor_name_on_another_site_is_fine(client, user_headers):
    FlavorFactory(name="m1.small")
    site = SiteFactory()

    response = client.post(
        f"/sites/{site.id}/flavors", json={"name": "m1.small"}, headers=user_headers
    )

    assert response.status_code == 201


def test_duplicate_flavor_name_on_the_site_is_409(client, user_headers):
    flavor = FlavorFactory(name="m1.small")

    response = client.post(
        f"/sites/{flavor.site_id}/flavors", json={"name": "m1.small"}, headers=user_headers
    )

    assert response.status_code == 409


def test_submit_flavor_to_unknown_site_is_404(client, user_headers):
    response = client.post(
        f"/sites/{uuid.uuid4()}/flavors", json={"name": "m1.small"}, headers=user_headers
    )

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": ["m1"]}, "name"),
        ({"name": "m1", "site_id": "x"}, "site_id"),
    ],
)
def test_submit_flavor_with_bad_body_is_422(client, user_headers, body, field):
    site = SiteFactory()

    response = client.post(f"/sites/{site.id}/flavors", json=body, headers=user_headers)

    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


def test_submit_flavor_needs_a_token(client):
    site = SiteFactory()

    assert client.post(f"/sites/{site.id}/flavors", json={"name": "m1"}).status_code == 401


def test_submit_flavor_needs_a_registered_user(client, token_headers):
    site = SiteFactory()

    response = client.post(f"/sites/{site.id}/flavors", json={"name": "m1"}, headers=token_headers)

    assert response.status_code == 403
