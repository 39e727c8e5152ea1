"""After ``flask import-v1``, every v1 GET answers as v1 did for the same ids and queries:
what is listed and counted, what is hidden, claims, pending submissions, pagination."""

from datetime import datetime

import pytest

from backend.bulk.v1_source import import_v1
from tests.conftest import bearer


@pytest.fixture
def imported(v1, v1_url):
    report = import_v1(v1_url)
    assert report.ok, report.summary()
    return v1


def ids(page) -> list[str]:
    return [item["id"] for item in page.json["items"]]


def test_results_lists_the_visible_results_in_execution_order(client, imported):
    page = client.get("/results")

    assert page.status_code == 200
    assert ids(page) == [str(i) for i in imported.visible]
    assert page.json["total"] == len(imported.visible)


def test_results_pages_like_v1(client, imported):
    page = client.get("/results?per_page=2&page=2")

    assert ids(page) == [str(i) for i in imported.visible[2:4]]
    assert page.json["pages"] == 3
    assert (page.json["has_prev"], page.json["has_next"]) == (True, True)
    assert (page.json["prev_num"], page.json["next_num"]) == (1, 3)


def test_a_result_keeps_its_document_times_and_catalogue(client, imported):
    result_id = imported.visible[1]

    body = client.get(f"/results/{result_id}").json

    assert body["json"] == {"score": 2.0, "machine": {"cpu": {"count": 2}}}
    assert datetime.fromisoformat(body["execution_datetime"]) == imported.executed[result_id]
    assert datetime.fromisoformat(body["upload_datetime"]) == imported.uploaded[result_id]
    assert body["benchmark"]["id"] == str(imported.benchmarks["approved"])
    assert body["site"]["id"] == str(imported.sites["approved"])
    assert body["flavor"]["id"] == str(imported.flavors["approved"])
    assert sorted(tag["name"] for tag in body["tags"]) == ["cpu", "gpu"]


@pytest.mark.parametrize("hidden", ["claimed_pending", "claimed_approved", "deleted"])
def test_hidden_results_are_not_listed_but_readable_by_id(client, imported, hidden):
    result_id = str(getattr(imported, hidden))

    assert result_id not in ids(client.get("/results"))
    assert client.get(f"/results/{result_id}").status_code == 200


def test_results_filter_by_tag_and_flavor(client, imported):
    cpu = imported.tags["cpu"]
    second = imported.flavors["second"]

    assert ids(client.get(f"/results?tags_ids={cpu}")) == [
        str(imported.visible[i]) for i in (0, 1, 4)
    ]
    assert ids(client.get(f"/results?flavor_id={second}")) == [str(imported.visible[2])]


def test_results_search_and_json_filters(client, imported):
    assert client.get("/results:search?terms=gpu").json["total"] == 2
    assert ids(client.get("/results?filters=machine.cpu.count >= 4")) == [
        str(imported.visible[3]),
        str(imported.visible[4]),
    ]


def test_catalogue_lists_only_approved_items(client, imported):
    assert ids(client.get("/sites")) == [str(imported.sites["approved"])]
    assert ids(client.get("/benchmarks")) == [str(imported.benchmarks["approved"])]
    flavors = client.get(f"/sites/{imported.sites['approved']}/flavors?sort_by=%2Bname")
    assert ids(flavors) == [str(imported.flavors["second"]), str(imported.flavors["approved"])]


def test_pending_submissions_stay_pending_with_their_times(client, imported, admin_headers):
    pending_sites = client.get("/sites?status=on_review")
    # A NULL status is on_review to v1.
    assert sorted(ids(pending_sites)) == sorted(
        str(imported.sites[s]) for s in ("on_review", "null")
    )
    pending = client.get("/benchmarks?status=on_review")
    assert sorted(ids(pending)) == sorted(
        str(imported.benchmarks[s]) for s in ("on_review", "null")
    )
    submits = client.get("/reports/submits", headers=admin_headers).json
    kinds = sorted((item["resource_type"], item["resource_id"]) for item in submits["items"])
    assert kinds == sorted(
        [("site", str(imported.sites[s])) for s in ("on_review", "null")]
        + [("flavor", str(imported.flavors["on_review"]))]
        + [("benchmark", str(imported.benchmarks[s])) for s in ("on_review", "null")]
        + [("claim", str(imported.claims["on_review"]))]
    )


def test_catalogue_items_keep_their_ids_fields_and_uploaders(client, imported, admin_headers):
    site = client.get(f"/sites/{imported.sites['approved']}").json
    benchmark = client.get(f"/benchmarks/{imported.benchmarks['approved']}").json
    uploader = client.get(f"/results/{imported.visible[0]}/uploader", headers=admin_headers)

    assert (site["name"], site["address"], site["description"]) == ("SITE-A", "a.example.org", "A")
    assert benchmark["json_schema"]["required"] == ["score"]
    assert (uploader.json["sub"], uploader.json["iss"]) == imported.alice


def test_tags_keep_their_ids(client, imported):
    tags = client.get("/tags?sort_by=%2Bname").json

    assert [(t["id"], t["name"]) for t in tags["items"]] == [
        (str(imported.tags["cpu"]), "cpu"),
        (str(imported.tags["gpu"]), "gpu"),
    ]


def test_claims_keep_claimer_message_status_and_time(client, imported, admin_headers):
    # Like every list with a status, claims lists show approved ones unless asked.
    approved = client.get("/reports/claims", headers=admin_headers).json
    pending = client.get("/reports/claims?status=on_review", headers=admin_headers).json

    assert [(c["id"], c["message"]) for c in approved["items"]] == [
        (str(imported.claims["approved"]), "duplicate")
    ]
    assert [(c["id"], c["message"]) for c in pending["items"]] == [
        (str(imported.claims["on_review"]), "wrong score")
    ]
    claim = client.get(f"/reports/claims/{imported.claims['approved']}").json
    assert claim["resource_id"] == str(imported.claimed_approved)
    assert claim["upload_datetime"].startswith("2022-04-01T12:00:00")


def test_users_keep_their_identity_and_see_their_own_results(client, imported, issuer):
    alice = bearer(issuer.mint(imported.alice[0], email="alice@example.org"))

    me = client.get("/users/self", headers=alice).json
    mine = client.get("/users/self/results", headers=alice).json

    assert (me["sub"], me["email"]) == ("alice-sub", "alice@example.org")
    assert me["registration_datetime"].startswith("2022-03-01T12:00:00")
    # Her own results include the claimed ones.
    assert mine["total"] == 4 + 2 + 1


def test_the_claimer_sees_their_claims(client, imported, issuer):
    bob = bearer(issuer.mint(imported.bob[0], email="bob@example.org"))

    approved = client.get("/users/self/claims", headers=bob).json
    pending = client.get("/users/self/claims?status=on_review", headers=bob).json

    assert [c["id"] for c in approved["items"]] == [str(imported.claims["approved"])]
    assert [c["id"] for c in pending["items"]] == [str(imported.claims["on_review"])]


def test_an_admin_can_go_on_with_the_claims(client, imported, admin_headers):
    claim = imported.claims["on_review"]

    rejected = client.post(f"/reports/claims/{claim}:reject", headers=admin_headers)

    assert rejected.status_code == 204
    assert str(imported.claimed_pending) in ids(client.get("/results"))


def test_what_the_v1_frontend_asks_answers_as_before(client, imported):
    site = imported.sites["approved"]
    flavor = imported.flavors["approved"]

    # Its selectors send one empty term and no paging; only approved items answer.
    assert ids(client.get("/benchmarks:search?terms=")) == [str(imported.benchmarks["approved"])]
    assert ids(client.get("/sites:search?terms=")) == [str(site)]
    assert client.get("/tags:search?terms=").json["total"] == 2
    assert client.get(f"/sites/{site}/flavors:search?terms=").json["total"] == 2
    assert client.get(f"/flavors/{flavor}").json["name"] == "m1.small"
    assert client.get(f"/flavors/{flavor}/site").json["id"] == str(site)
    by_site_name = client.get("/results?sort_by=%2Bsite_name&per_page=100").json
    assert by_site_name["total"] == len(imported.visible)


def test_admins_see_the_users_and_a_results_claims(client, imported, admin_headers):
    users = client.get("/users", headers=admin_headers).json
    found = client.get("/users:search?terms=alice", headers=admin_headers).json
    claims = client.get(f"/results/{imported.claimed_approved}/claims", headers=admin_headers).json

    # The three v1 users, and the admin registered here for this test.
    assert users["total"] == 3 + 1
    assert [u["sub"] for u in found["items"]] == ["alice-sub"]
    assert [c["id"] for c in claims["items"]] == [str(imported.claims["approved"])]
