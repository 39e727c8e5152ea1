"""GET /sites:search: every term must appear in the name, address or description."""

from datetime import UTC, datetime

from backend.models import ItemStatus
from factories import SiteFactory


def names(response):
    return [item["name"] for item in response.json["items"]]


def test_a_term_matches_name_address_or_description(client):
    SiteFactory(name="CESNET-MCC", address="cz", description="Metacentrum cloud")
    SiteFactory(name="IFCA", address="cesnet-mirror.es", description="Santander")
    SiteFactory(name="BIFI", address="es", description="Zaragoza, CESNET partner")
    SiteFactory(name="other", address="de", description="nothing")

    response = client.get("/sites:search?terms=cesnet")

    assert response.status_code == 200
    assert names(response) == ["BIFI", "CESNET-MCC", "IFCA"]


def test_every_term_must_match(client):
    SiteFactory(name="CESNET-MCC", address="cz", description="cloud")
    SiteFactory(name="CESNET-HPC", address="cz", description="cluster")

    response = client.get("/sites:search?terms=cesnet&terms=cloud")

    assert names(response) == ["CESNET-MCC"]


def test_terms_are_case_insensitive_substrings(client):
    SiteFactory(name="CESNET-MCC")

    assert names(client.get("/sites:search?terms=sNeT-m")) == ["CESNET-MCC"]


def test_an_empty_term_matches_every_site(client):
    SiteFactory.create_batch(3)

    response = client.get("/sites:search?terms=")

    assert response.status_code == 200
    assert response.json["total"] == 3


def test_no_terms_matches_every_site(client):
    SiteFactory.create_batch(3)

    assert client.get("/sites:search").json["total"] == 3


def test_percent_and_underscore_are_literal(client):
    SiteFactory(name="100% cloud")
    SiteFactory(name="1000 cloud")
    SiteFactory(name="site_a")
    SiteFactory(name="siteba")

    assert names(client.get("/sites:search?terms=0%25")) == ["100% cloud"]
    assert names(client.get("/sites:search?terms=e_")) == ["site_a"]


def test_axios_style_array_arguments_are_accepted(client):
    SiteFactory(name="CESNET-MCC", description="cloud")
    SiteFactory(name="CESNET-HPC", description="cluster")

    response = client.get("/sites:search?terms[]=cesnet&terms[]=cloud")

    assert response.status_code == 200
    assert names(response) == ["CESNET-MCC"]


def test_search_shows_sites_on_review_only_when_asked_for(client):
    SiteFactory(name="approved site")
    SiteFactory(name="pending site", status=ItemStatus.on_review)

    assert names(client.get("/sites:search?terms=site")) == ["approved site"]
    assert names(client.get("/sites:search?terms=site&status=on_review")) == ["pending site"]


def test_search_sorts_and_paginates(client):
    SiteFactory(name="site-a")
    SiteFactory(name="site-b")
    SiteFactory(name="site-c")

    response = client.get("/sites:search?terms=site&sort_by=-name&per_page=2&page=2")

    assert names(response) == ["site-a"]
    assert response.json["total"] == 3
    assert response.json["has_prev"] is True
    assert response.json["next_num"] is None


def test_search_filters_by_upload_dates(client):
    SiteFactory(name="site-old", upload_datetime=datetime(2020, 1, 1, tzinfo=UTC))
    SiteFactory(name="site-new", upload_datetime=datetime(2022, 1, 1, tzinfo=UTC))

    assert names(client.get("/sites:search?terms=site&upload_after=2021-01-01")) == ["site-new"]
    assert names(client.get("/sites:search?terms=site&upload_before=2021-01-01")) == ["site-old"]
