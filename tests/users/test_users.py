"""GET /users, GET /users:search and POST /users:remove: admins manage users."""

from datetime import UTC, datetime

import pytest

from backend.models import ItemStatus
from factories import ClaimFactory, SiteFactory, UserFactory


def emails(response):
    return [item["email"] for item in response.json["items"]]


def test_admin_lists_users_by_registration_date(client, admin, admin_headers):
    UserFactory(email="late@example.org", registration_datetime=datetime(2022, 1, 1, tzinfo=UTC))
    UserFactory(
        sub="early",
        iss="https://aai.example.org",
        email="early@example.org",
        registration_datetime=datetime(2020, 1, 1, tzinfo=UTC),
    )

    response = client.get("/users", headers=admin_headers)

    assert response.status_code == 200
    assert emails(response) == ["early@example.org", "late@example.org", admin.email]
    assert response.json["items"][0] == {
        "sub": "early",
        "iss": "https://aai.example.org",
        "email": "early@example.org",
        "registration_datetime": "2020-01-01T00:00:00+00:00",
    }
    assert response.json["total"] == 3
    assert response.json["next_num"] is None


def test_filter_users_by_sub_iss_and_email(client, admin_headers):
    UserFactory(sub="a", iss="https://one.example.org", email="a@example.org")
    UserFactory(sub="b", iss="https://two.example.org", email="b@example.org")

    assert emails(client.get("/users?sub=a", headers=admin_headers)) == ["a@example.org"]
    assert emails(client.get("/users?iss=https://two.example.org", headers=admin_headers)) == [
        "b@example.org"
    ]
    assert emails(client.get("/users?email=b@example.org", headers=admin_headers)) == [
        "b@example.org"
    ]


def test_sort_and_paginate_users(client, admin_headers):
    UserFactory(email="b@example.org")
    UserFactory(email="c@example.org")

    first = client.get("/users?sort_by=%2Bemail&per_page=2", headers=admin_headers)
    last = client.get("/users?sort_by=%2Bemail&per_page=2&page=2", headers=admin_headers)

    assert emails(first) == ["admin@example.org", "b@example.org"]
    assert first.json["next_num"] == 2
    assert emails(last) == ["c@example.org"]
    assert last.json["next_num"] is None
    assert emails(client.get("/users?sort_by=-email", headers=admin_headers)) == [
        "c@example.org",
        "b@example.org",
        "admin@example.org",
    ]


@pytest.mark.parametrize("path", ["/users", "/users:search"])
@pytest.mark.parametrize(
    ("query", "argument"),
    [
        ("colour=red", "colour"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("page=2", "page"),
        ("sort_by=email", "sort_by"),
        ("sort_by=%2Bid", "sort_by"),
        ("status=on_review", "status"),
    ],
)
def test_bad_user_list_arguments_are_422(client, admin_headers, path, query, argument):
    response = client.get(f"{path}?{query}", headers=admin_headers)

    assert response.status_code == 422
    assert argument in response.json["errors"]["query"]


def test_search_users_by_email(client, admin_headers):
    UserFactory(email="Alice.Smith@cesnet.cz")
    UserFactory(email="bob@cesnet.cz")
    UserFactory(email="alice@ifca.es")

    assert emails(client.get("/users:search?terms=alice&terms=CESNET", headers=admin_headers)) == [
        "Alice.Smith@cesnet.cz"
    ]
    assert emails(
        client.get("/users:search?terms[]=cesnet&sort_by=-email", headers=admin_headers)
    ) == ["bob@cesnet.cz", "Alice.Smith@cesnet.cz"]
    assert client.get("/users:search?terms=", headers=admin_headers).json["total"] == 4


def test_search_users_treats_underscore_literally(client, admin_headers):
    UserFactory(email="a_b@example.org")
    UserFactory(email="axb@example.org")

    assert emails(client.get("/users:search?terms=a_b", headers=admin_headers)) == [
        "a_b@example.org"
    ]


def test_admin_removes_a_user_by_email(client, admin_headers):
    UserFactory(email="leaving@example.org")
    UserFactory(email="staying@example.org")

    response = client.post("/users:remove?email=leaving@example.org", headers=admin_headers)

    assert response.status_code == 204
    assert emails(client.get("/users?sort_by=%2Bemail", headers=admin_headers)) == [
        "admin@example.org",
        "staying@example.org",
    ]


def test_remove_by_sub_and_iss(client, admin_headers):
    UserFactory(sub="x", iss="https://one.example.org", email="one@example.org")
    UserFactory(sub="x", iss="https://two.example.org", email="two@example.org")

    response = client.post("/users:remove?sub=x&iss=https://one.example.org", headers=admin_headers)

    assert response.status_code == 204
    assert emails(client.get("/users?sub=x", headers=admin_headers)) == ["two@example.org"]


def test_remove_without_arguments_is_422(client, admin_headers):
    UserFactory()

    response = client.post("/users:remove", headers=admin_headers)

    assert response.status_code == 422
    assert client.get("/users", headers=admin_headers).json["total"] == 2


def test_remove_with_an_unknown_argument_is_422(client, admin_headers):
    response = client.post("/users:remove?name=x", headers=admin_headers)

    assert response.status_code == 422
    assert "name" in response.json["errors"]["query"]


def test_uploads_of_a_removed_user_remain_without_uploader(client, admin_headers):
    leaving = UserFactory(email="leaving@example.org")
    site = SiteFactory(uploader=leaving, status=ItemStatus.on_review)

    response = client.post("/users:remove?email=leaving@example.org", headers=admin_headers)

    assert response.status_code == 204
    assert client.get(f"/sites/{site.id}").status_code == 200
    submits = client.get("/reports/submits", headers=admin_headers).json["items"]
    assert [(s["resource_id"], s["uploader"]) for s in submits] == [(str(site.id), None)]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/users"), ("GET", "/users:search"), ("POST", "/users:remove?email=x@y.z")],
)
def test_user_administration_is_for_admins(client, token_headers, user_headers, method, path):
    assert client.open(path, method=method).status_code == 401
    assert client.open(path, method=method, headers=token_headers).status_code == 403
    assert client.open(path, method=method, headers=user_headers).status_code == 403


def test_own_claims(client, user, user_headers):
    mine = ClaimFactory(uploader=user, message="wrong score")
    ClaimFactory(message="someone else's")

    response = client.get("/users/self/claims?status=on_review", headers=user_headers)

    assert response.status_code == 200
    assert [item["id"] for item in response.json["items"]] == [str(mine.id)]
    assert response.json["items"][0]["message"] == "wrong score"
    assert response.json["items"][0]["uploader"]["email"] == user.email


def test_own_claims_needs_a_registered_user(client, token_headers):
    assert client.get("/users/self/claims").status_code == 401
    assert client.get("/users/self/claims", headers=token_headers).status_code == 403
