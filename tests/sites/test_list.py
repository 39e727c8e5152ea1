"""GET /sites: approved sites, filtered, sorted and paginated."""

from datetime import UTC, datetime

import pytest

from backend.models import ItemStatus
from factories import SiteFactory

PAGE_FIELDS = {"items", "total", "page", "pages", "per_page", "has_next", "has_prev"}
PAGE_FIELDS |= {"next_num", "prev_num"}


def names(response):
    return [item["name"] for item in response.json["items"]]


def test_lists_approved_sites_sorted_by_name(client):
    SiteFactory(name="b-site", address="b.example.org", description="Second")
    site = SiteFactory(name="a-site", address="a.example.org", description="First")

    response = client.get("/sites")

    assert response.status_code == 200
    assert names(response) == ["a-site", "b-site"]
    item = response.json["items"][0]
    assert item == {
        "id": str(site.id),
        "name": "a-site",
        "address": "a.example.org",
        "description": "First",
        "upload_datetime": site.upload_datetime.isoformat(),
    }
    assert item["upload_datetime"].endswith("+00:00")


def test_empty_list_is_one_empty_page(client):
    response = client.get("/sites")

    assert response.status_code == 200
    assert response.json == {
        "items": [],
        "total": 0,
        "page": 1,
        "pages": 0,
        "per_page": 100,
        "has_next": False,
        "has_prev": False,
        "next_num": None,
        "prev_num": None,
    }


def test_first_page_has_every_pagination_field(client):
    SiteFactory.create_batch(5)

    response = client.get("/sites?per_page=2")

    assert response.status_code == 200
    assert set(response.json) == PAGE_FIELDS
    assert len(response.json["items"]) == 2
    assert response.json["total"] == 5
    assert response.json["page"] == 1
    assert response.json["pages"] == 3
    assert response.json["per_page"] == 2
    assert response.json["has_next"] is True
    assert response.json["has_prev"] is False
    assert response.json["next_num"] == 2
    assert response.json["prev_num"] is None


def test_last_page_has_no_next_page(client):
    SiteFactory.create_batch(5)

    response = client.get("/sites?per_page=2&page=3")

    assert response.status_code == 200
    assert set(response.json) == PAGE_FIELDS
    assert len(response.json["items"]) == 1
    assert response.json["has_next"] is False
    assert response.json["next_num"] is None
    assert response.json["has_prev"] is True
    assert response.json["prev_num"] == 2


def test_pages_neither_repeat_nor_skip_sites(client):
    sites = SiteFactory.create_batch(7, address="same.example.org")

    seen = []
    for page in (1, 2, 3):
        response = client.get(f"/sites?per_page=3&page={page}&sort_by=%2Baddress")
        seen += names(response)

    assert sorted(seen) == sorted(site.name for site in sites)


def test_page_past_the_end_is_422(client):
    SiteFactory.create_batch(3)

    response = client.get("/sites?per_page=2&page=3")

    assert response.status_code == 422
    assert "page" in response.json["errors"]["query"]


def test_sites_on_review_are_listed_only_when_asked_for(client):
    SiteFactory(name="approved")
    SiteFactory(name="pending", status=ItemStatus.on_review)

    assert names(client.get("/sites")) == ["approved"]
    assert names(client.get("/sites?status=on_review")) == ["pending"]
    assert names(client.get("/sites?status=approved")) == ["approved"]


def test_filter_by_name(client):
    SiteFactory(name="CESNET-MCC")
    SiteFactory(name="IFCA-LCG2")

    response = client.get("/sites?name=IFCA-LCG2")

    assert response.status_code == 200
    assert names(response) == ["IFCA-LCG2"]


def test_filter_by_address(client):
    SiteFactory(name="one", address="cloud.cesnet.cz")
    SiteFactory(name="two", address="cloud.ifca.es")

    response = client.get("/sites?address=cloud.ifca.es")

    assert names(response) == ["two"]


def test_filter_by_upload_dates(client):
    SiteFactory(name="2020", upload_datetime=datetime(2020, 6, 1, tzinfo=UTC))
    SiteFactory(name="2021", upload_datetime=datetime(2021, 6, 1, tzinfo=UTC))
    SiteFactory(name="2022", upload_datetime=datetime(2022, 6, 1, tzinfo=UTC))

    assert names(client.get("/sites?upload_after=2021-01-01")) == ["2021", "2022"]
    assert names(client.get("/sites?upload_before=2021-01-01")) == ["2020"]
    assert names(client.get("/sites?upload_after=2021-01-01&upload_before=2022-01-01")) == ["2021"]
    assert names(client.get("/sites?upload_after=2021-06-01T00:00:00%2B02:00")) == ["2021", "2022"]


def test_sort_ascending_with_encoded_plus(client):
    SiteFactory(name="b", address="2")
    SiteFactory(name="a", address="3")
    SiteFactory(name="c", address="1")

    assert names(client.get("/sites?sort_by=%2Bname")) == ["a", "b", "c"]
    assert names(client.get("/sites?sort_by=%2Baddress")) == ["c", "b", "a"]


def test_sort_descending(client):
    SiteFactory(name="b")
    SiteFactory(name="a")
    SiteFactory(name="c")

    assert names(client.get("/sites?sort_by=-name")) == ["c", "b", "a"]


def test_sort_by_several_keys(client):
    SiteFactory(name="x", address="same")
    SiteFactory(name="y", address="other")
    SiteFactory(name="z", address="same")

    assert names(client.get("/sites?sort_by=-address,-name")) == ["z", "x", "y"]


def test_sort_by_upload_datetime(client):
    SiteFactory(name="new", upload_datetime=datetime(2022, 1, 1, tzinfo=UTC))
    SiteFactory(name="old", upload_datetime=datetime(2020, 1, 1, tzinfo=UTC))

    assert names(client.get("/sites?sort_by=%2Bupload_datetime")) == ["old", "new"]
    assert names(client.get("/sites?sort_by=-upload_datetime")) == ["new", "old"]


@pytest.mark.parametrize("path", ["/sites", "/sites:search"])
@pytest.mark.parametrize(
    ("query", "argument"),
    [
        ("colour=red", "colour"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("per_page=ten", "per_page"),
        ("page=0", "page"),
        ("sort_by=name", "sort_by"),
        ("sort_by=%2Bcolour", "sort_by"),
        ("sort_by=%2Bname,", "sort_by"),
        ("status=pending", "status"),
        ("upload_before=yesterday", "upload_before"),
        ("upload_after=2022-13-01", "upload_after"),
    ],
)
def test_bad_arguments_are_422(client, path, query, argument):
    response = client.get(f"{path}?{query}")

    assert response.status_code == 422
    assert argument in response.json["errors"]["query"]
    assert argument in response.json["message"]


def test_unknown_sort_field_is_named(client):
    response = client.get("/sites?sort_by=%2Bcolour")

    assert response.status_code == 422
    assert "'colour'" in response.json["message"]


def test_sort_without_direction_says_how_to_fix_it(client):
    response = client.get("/sites?sort_by=name")

    assert response.status_code == 422
    assert "+name" in response.json["message"]
    assert "%2B" in response.json["message"]
