"""GET /reports/submits: what admins have to review."""

from datetime import UTC, datetime

import pytest

from backend.models import ItemStatus
from factories import BenchmarkFactory, ClaimFactory, FlavorFactory, SiteFactory, UserFactory

ON_REVIEW = ItemStatus.on_review


def kinds(response):
    return [(item["resource_type"], item["resource_id"]) for item in response.json["items"]]


def test_lists_every_pending_submission_oldest_first(client, admin_headers):
    uploader = UserFactory(sub="bob", iss="https://aai.example.org", email="bob@example.org")
    site = SiteFactory(
        status=ON_REVIEW, uploader=uploader, upload_datetime=datetime(2022, 1, 1, tzinfo=UTC)
    )
    benchmark = BenchmarkFactory(status=ON_REVIEW, upload_datetime=datetime(2022, 1, 2, tzinfo=UTC))
    flavor = FlavorFactory(status=ON_REVIEW, upload_datetime=datetime(2022, 1, 3, tzinfo=UTC))
    claim = ClaimFactory(upload_datetime=datetime(2022, 1, 4, tzinfo=UTC))
    SiteFactory(status=ItemStatus.approved)
    BenchmarkFactory(status=ItemStatus.approved)

    response = client.get("/reports/submits", headers=admin_headers)

    assert response.status_code == 200
    assert kinds(response) == [
        ("site", str(site.id)),
        ("benchmark", str(benchmark.id)),
        ("flavor", str(flavor.id)),
        ("claim", str(claim.id)),
    ]
    assert response.json["items"][0] == {
        "resource_type": "site",
        "resource_id": str(site.id),
        "upload_datetime": "2022-01-01T00:00:00+00:00",
        "uploader": {"sub": "bob", "iss": "https://aai.example.org", "email": "bob@example.org"},
    }
    assert response.json["total"] == 4


@pytest.mark.parametrize("resource_type", ["benchmark", "site", "flavor", "claim"])
def test_filter_by_resource_type(client, admin_headers, resource_type):
    submitted = {
        "benchmark": BenchmarkFactory(status=ON_REVIEW),
        "site": SiteFactory(status=ON_REVIEW),
        "flavor": FlavorFactory(status=ON_REVIEW),
        "claim": ClaimFactory(),
    }

    response = client.get(f"/reports/submits?resource_type={resource_type}", headers=admin_headers)

    assert response.status_code == 200
    assert kinds(response) == [(resource_type, str(submitted[resource_type].id))]


def test_a_flavor_on_review_of_a_site_on_review_is_two_submits(client, admin_headers):
    flavor = FlavorFactory(status=ON_REVIEW, site__status=ON_REVIEW)

    response = client.get("/reports/submits?sort_by=%2Bresource_type", headers=admin_headers)

    assert kinds(response) == [("flavor", str(flavor.id)), ("site", str(flavor.site_id))]


def test_submits_through_the_api_appear(client, admin_headers, user, user_headers):
    created = client.post("/sites", json={"name": "new", "address": "x"}, headers=user_headers)

    response = client.get("/reports/submits", headers=admin_headers)

    assert kinds(response) == [("site", created.json["id"])]
    assert response.json["items"][0]["uploader"]["email"] == user.email


def test_filter_and_sort_by_upload_date(client, admin_headers):
    old = SiteFactory(status=ON_REVIEW, upload_datetime=datetime(2020, 1, 1, tzinfo=UTC))
    new = SiteFactory(status=ON_REVIEW, upload_datetime=datetime(2022, 1, 1, tzinfo=UTC))

    after = client.get("/reports/submits?upload_after=2021-01-01", headers=admin_headers)
    before = client.get("/reports/submits?upload_before=2021-01-01", headers=admin_headers)
    newest_first = client.get("/reports/submits?sort_by=-upload_datetime", headers=admin_headers)

    assert kinds(after) == [("site", str(new.id))]
    assert kinds(before) == [("site", str(old.id))]
    assert kinds(newest_first) == [("site", str(new.id)), ("site", str(old.id))]


def test_submits_are_paginated(client, admin_headers):
    SiteFactory.create_batch(3, status=ON_REVIEW)

    first = client.get("/reports/submits?per_page=2", headers=admin_headers)
    last = client.get("/reports/submits?per_page=2&page=2", headers=admin_headers)

    assert len(first.json["items"]) == 2
    assert first.json["next_num"] == 2
    assert len(last.json["items"]) == 1
    assert last.json["next_num"] is None
    assert last.json["prev_num"] == 1
    assert last.json["total"] == 3


@pytest.mark.parametrize(
    ("query", "argument"),
    [
        ("resource_type=result", "resource_type"),
        ("resource_type=tag", "resource_type"),
        ("status=on_review", "status"),
        ("colour=red", "colour"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("page=2", "page"),
        ("sort_by=upload_datetime", "sort_by"),
        ("sort_by=%2Buploader", "sort_by"),
        ("upload_after=now", "upload_after"),
    ],
)
def test_bad_arguments_are_422(client, admin_headers, query, argument):
    response = client.get(f"/reports/submits?{query}", headers=admin_headers)

    assert response.status_code == 422
    assert argument in response.json["errors"]["query"]


def test_submits_are_for_admins(client, token_headers, user_headers):
    assert client.get("/reports/submits").status_code == 401
    assert client.get("/reports/submits", headers=token_headers).status_code == 403
    assert client.get("/reports/submits", headers=user_headers).status_code == 403
