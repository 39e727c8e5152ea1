"""Claims on results (HasClaims) and the other per-result operations: tags, uploader,
delete, and the caller's own results and claims."""

import uuid

from factories import ClaimFactory, ResultFactory, TagFactory, UserFactory
from tests.conftest import bearer


def ids(response):
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


def test_claim_hides_the_result_and_reaches_the_admins(client, user, user_headers, admin_headers):
    result = ResultFactory()
    response = client.post(
        f"/results/{result.id}:claim", json={"message": "Too fast"}, headers=user_headers
    )
    assert response.status_code == 201
    claim = response.json
    assert claim["message"] == "Too fast"
    assert claim["resource_type"] == "result"
    assert claim["resource_id"] == str(result.id)
    assert claim["uploader"]["email"] == user.email
    assert ids(client.get("/results")) == []
    assert ids(client.get("/results:search")) == []
    assert client.get(f"/results/{result.id}").status_code == 200
    submits = client.get("/reports/submits", headers=admin_headers).json["items"]
    assert [(s["resource_type"], s["resource_id"]) for s in submits] == [("claim", claim["id"])]
    pending = client.get("/reports/claims?status=on_review", headers=admin_headers)
    assert ids(pending) == [claim["id"]]


def test_claim_needs_a_registered_user_and_a_message(client, token_headers, user_headers):
    result = ResultFactory()
    assert client.post(f"/results/{result.id}:claim", json={"message": "x"}).status_code == 401
    response = client.post(
        f"/results/{result.id}:claim", json={"message": "x"}, headers=token_headers
    )
    assert response.status_code == 403
    assert (
        client.post(f"/results/{result.id}:claim", json={}, headers=user_headers).status_code == 422
    )
    response = client.post(
        f"/results/{uuid.uuid4()}:claim", json={"message": "x"}, headers=user_headers
    )
    assert response.status_code == 404


def test_approving_a_claim_keeps_the_result_hidden(client, admin_headers):
    claim = ClaimFactory()
    response = client.post(f"/reports/claims/{claim.id}:approve", headers=admin_headers)
    assert response.status_code == 204
    assert ids(client.get("/results")) == []
    assert (
        client.post(f"/reports/claims/{claim.id}:approve", headers=admin_headers).status_code == 422
    )


def test_rejecting_a_claim_restores_the_result_unless_another_claim_remains(client, admin_headers):
    first = ClaimFactory()
    result = first.resource
    second = ClaimFactory(resource=result)
    assert (
        client.post(f"/reports/claims/{first.id}:reject", headers=admin_headers).status_code == 204
    )
    assert ids(client.get("/results")) == []
    assert (
        client.post(f"/reports/claims/{second.id}:reject", headers=admin_headers).status_code == 204
    )
    assert ids(client.get("/results")) == [str(result.id)]
    assert client.get(f"/reports/claims/{first.id}").status_code == 404


def test_claim_review_is_for_admins(client, user_headers):
    claim = ClaimFactory()
    assert client.post(f"/reports/claims/{claim.id}:approve").status_code == 401
    assert (
        client.post(f"/reports/claims/{claim.id}:reject", headers=user_headers).status_code == 403
    )


def test_own_results_include_claimed_ones_and_take_every_filter(client, user, user_headers):
    mine = ResultFactory(uploader=user, json={"n": 1})
    claimed = ClaimFactory(resource=ResultFactory(uploader=user, json={"n": 2})).resource
    ResultFactory()
    assert set(ids(client.get("/users/self/results", headers=user_headers))) == {
        str(mine.id),
        str(claimed.id),
    }
    response = client.get(
        "/users/self/results", query_string={"filters": "n > 1"}, headers=user_headers
    )
    assert ids(response) == [str(claimed.id)]
    assert client.get("/users/self/results").status_code == 401


def test_own_claims(client, user, user_headers):
    mine = ClaimFactory(uploader=user)
    ClaimFactory()
    response = client.get("/users/self/claims?status=on_review", headers=user_headers)
    assert ids(response) == [str(mine.id)]


def test_result_claims_for_owner_or_admin_only(client, issuer, user, user_headers, admin_headers):
    result = ResultFactory(uploader=user)
    claim = ClaimFactory(resource=result)
    url = f"/results/{result.id}/claims?status=on_review"
    assert ids(client.get(url, headers=user_headers)) == [str(claim.id)]
    assert ids(client.get(url, headers=admin_headers)) == [str(claim.id)]
    stranger = UserFactory(iss=issuer.url)
    headers = bearer(issuer.mint(stranger.sub, email=stranger.email))
    assert client.get(url, headers=headers).status_code == 403
    assert client.get(url).status_code == 401


def test_claimer_email_is_shown_to_admins_and_the_claimer_only(
    client, issuer, user, user_headers, admin_headers
):
    claim = ClaimFactory(uploader=user)
    assert client.get(f"/reports/claims/{claim.id}", headers=user_headers).json["uploader"]["email"]
    assert client.get(f"/reports/claims/{claim.id}", headers=admin_headers).json["uploader"][
        "email"
    ]
    public = client.get(f"/reports/claims/{claim.id}").json
    assert public["id"] == str(claim.id)
    assert "email" not in public["uploader"]


def test_owner_or_admin_replaces_tags(client, issuer, user, user_headers, admin_headers):
    result = ResultFactory(uploader=user)
    gpu, hpc = TagFactory(name="gpu"), TagFactory(name="hpc")
    url = f"/results/{result.id}/tags"
    assert (
        client.put(url, json={"tags_ids": [str(gpu.id)]}, headers=user_headers).status_code == 204
    )
    assert [t["name"] for t in client.get(f"/results/{result.id}").json["tags"]] == ["gpu"]
    body = {"tags_ids": [str(hpc.id), str(gpu.id)]}
    assert client.put(url, json=body, headers=admin_headers).status_code == 204
    assert [t["name"] for t in client.get(f"/results/{result.id}").json["tags"]] == ["gpu", "hpc"]
    stranger = UserFactory(iss=issuer.url)
    headers = bearer(issuer.mint(stranger.sub, email=stranger.email))
    assert client.put(url, json={"tags_ids": []}, headers=headers).status_code == 403
    assert (
        client.put(url, json={"tags_ids": [str(uuid.uuid4())]}, headers=user_headers).status_code
        == 404
    )
    assert client.put(url, json={"tags_ids": ["nope"]}, headers=user_headers).status_code == 422


def test_uploader_is_for_admins(client, user, user_headers, admin_headers):
    result = ResultFactory(uploader=user)
    response = client.get(f"/results/{result.id}/uploader", headers=admin_headers)
    assert response.status_code == 200
    assert response.json["sub"] == user.sub
    assert client.get(f"/results/{result.id}/uploader", headers=user_headers).status_code == 403


def test_delete_is_for_admins(client, user_headers, admin_headers):
    result = ResultFactory()
    assert client.delete(f"/results/{result.id}", headers=user_headers).status_code == 403
    assert client.delete(f"/results/{result.id}", headers=admin_headers).status_code == 204
    assert client.get(f"/results/{result.id}").status_code == 404
    assert client.delete(f"/results/{result.id}", headers=admin_headers).status_code == 404


def test_results_are_immutable(client, admin_headers):
    result = ResultFactory()
    assert client.put(f"/results/{result.id}", json={}, headers=admin_headers).status_code == 405
