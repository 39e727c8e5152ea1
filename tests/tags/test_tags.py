"""/tags: free labels on results; users create them, admins change and delete them."""

import uuid

import pytest

from factories import ResultFactory, TagFactory


def names(response):
    return [item["name"] for item in response.json["items"]]


def test_lists_tags_sorted_by_name(client):
    TagFactory(name="gpu")
    tag = TagFactory(name="cpu", description="Runs on CPUs")

    response = client.get("/tags")

    assert response.status_code == 200
    assert names(response) == ["cpu", "gpu"]
    assert response.json["items"][0] == {
        "id": str(tag.id),
        "name": "cpu",
        "description": "Runs on CPUs",
    }


def test_tag_list_pagination_fields(client):
    TagFactory.create_batch(3)

    first = client.get("/tags?per_page=2")
    last = client.get("/tags?per_page=2&page=2")

    assert first.json | {"items": None} == {
        "items": None,
        "total": 3,
        "page": 1,
        "pages": 2,
        "per_page": 2,
        "has_next": True,
        "has_prev": False,
        "next_num": 2,
        "prev_num": None,
    }
    assert last.json | {"items": None} == {
        "items": None,
        "total": 3,
        "page": 2,
        "pages": 2,
        "per_page": 2,
        "has_next": False,
        "has_prev": True,
        "next_num": None,
        "prev_num": 1,
    }
    assert len(first.json["items"]) == 2
    assert len(last.json["items"]) == 1


def test_filter_tags_by_name(client):
    TagFactory(name="gpu")
    TagFactory(name="cpu")

    assert names(client.get("/tags?name=gpu")) == ["gpu"]


def test_sort_tags(client):
    for name in ("b", "c", "a"):
        TagFactory(name=name)

    assert names(client.get("/tags?sort_by=-name")) == ["c", "b", "a"]
    assert names(client.get("/tags?sort_by=%2Bname")) == ["a", "b", "c"]


@pytest.mark.parametrize("path", ["/tags", "/tags:search"])
@pytest.mark.parametrize(
    ("query", "argument"),
    [
        ("colour=red", "colour"),
        ("status=on_review", "status"),
        ("upload_after=2022-01-01", "upload_after"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("page=2", "page"),
        ("sort_by=name", "sort_by"),
        ("sort_by=-description", "sort_by"),
    ],
)
def test_bad_tag_list_arguments_are_422(client, path, query, argument):
    response = client.get(f"{path}?{query}")

    assert response.status_code == 422
    assert argument in response.json["errors"]["query"]


def test_search_tags_by_name_and_description(client):
    TagFactory(name="gpu", description="accelerated")
    TagFactory(name="hpc", description="GPU cluster")
    TagFactory(name="cpu", description="plain")

    assert names(client.get("/tags:search?terms=GPU")) == ["gpu", "hpc"]


def test_search_tags_needs_every_term(client):
    TagFactory(name="gpu", description="accelerated")
    TagFactory(name="hpc", description="GPU cluster")

    assert names(client.get("/tags:search?terms=gpu&terms=cluster")) == ["hpc"]
    assert names(client.get("/tags:search?terms[]=gpu&terms[]=cluster")) == ["hpc"]


def test_search_tags_with_an_empty_term_matches_all(client):
    TagFactory.create_batch(3)

    assert client.get("/tags:search?terms=").json["total"] == 3


def test_search_tags_treats_percent_and_underscore_literally(client):
    TagFactory(name="top_10")
    TagFactory(name="top-10")
    TagFactory(name="10%")

    assert names(client.get("/tags:search?terms=p_1")) == ["top_10"]
    assert names(client.get("/tags:search?terms=0%25")) == ["10%"]


def test_user_creates_a_tag(client, user_headers):
    response = client.post(
        "/tags", json={"name": "gpu", "description": "Uses a GPU"}, headers=user_headers
    )

    assert response.status_code == 201
    assert response.json["name"] == "gpu"
    assert response.json["description"] == "Uses a GPU"
    assert client.get(f"/tags/{response.json['id']}").json == response.json
    assert names(client.get("/tags")) == ["gpu"]


def test_duplicate_tag_name_is_409(client, user_headers):
    TagFactory(name="gpu")

    response = client.post("/tags", json={"name": "gpu"}, headers=user_headers)

    assert response.status_code == 409
    assert "name" in response.json["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "name"), ({"name": ""}, "name"), ({"name": 1}, "name"), ({"name": "a", "x": 1}, "x")],
)
def test_create_tag_with_bad_body_is_422(client, user_headers, body, field):
    response = client.post("/tags", json=body, headers=user_headers)

    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


def test_create_tag_needs_a_token(client):
    assert client.post("/tags", json={"name": "gpu"}).status_code == 401


def test_create_tag_needs_a_registered_user(client, token_headers):
    assert client.post("/tags", json={"name": "gpu"}, headers=token_headers).status_code == 403


def test_get_tag(client):
    tag = TagFactory(name="gpu", description=None)

    response = client.get(f"/tags/{tag.id}")

    assert response.status_code == 200
    assert response.json == {"id": str(tag.id), "name": "gpu", "description": None}


def test_get_unknown_tag_is_404(client):
    assert client.get(f"/tags/{uuid.uuid4()}").status_code == 404
    assert client.get("/tags/gpu").status_code == 404


def test_admin_updates_a_tag(client, admin_headers):
    tag = TagFactory(name="gpu", description="old")

    response = client.put(f"/tags/{tag.id}", json={"description": "new"}, headers=admin_headers)

    assert response.status_code == 204
    assert client.get(f"/tags/{tag.id}").json == {
        "id": str(tag.id),
        "name": "gpu",
        "description": "new",
    }


def test_update_to_a_taken_tag_name_is_409(client, admin_headers):
    TagFactory(name="taken")
    tag = TagFactory(name="mine")

    response = client.put(f"/tags/{tag.id}", json={"name": "taken"}, headers=admin_headers)

    assert response.status_code == 409


def test_update_tag_with_bad_body_is_422(client, admin_headers):
    tag = TagFactory()

    response = client.put(f"/tags/{tag.id}", json={"name": ""}, headers=admin_headers)

    assert response.status_code == 422


def test_update_unknown_tag_is_404(client, admin_headers):
    response = client.put(f"/tags/{uuid.uuid4()}", json={"name": "x"}, headers=admin_headers)

    assert response.status_code == 404


def test_admin_deletes_a_tag_and_results_lose_it(client, admin_headers):
    tag = TagFactory()
    result = ResultFactory(tags=[tag])
    tag_id = tag.id

    response = client.delete(f"/tags/{tag_id}", headers=admin_headers)

    assert response.status_code == 204
    assert client.get(f"/tags/{tag_id}").status_code == 404
    assert result.tags == []


def test_delete_unknown_tag_is_404(client, admin_headers):
    assert client.delete(f"/tags/{uuid.uuid4()}", headers=admin_headers).status_code == 404


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_admin_operations_need_a_token(client, method):
    tag = TagFactory()

    response = client.open(f"/tags/{tag.id}", method=method, json={"name": "x"})

    assert response.status_code == 401


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_admin_operations_refuse_unregistered_users(client, token_headers, method):
    tag = TagFactory()

    response = client.open(
        f"/tags/{tag.id}", method=method, json={"name": "x"}, headers=token_headers
    )

    assert response.status_code == 403


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_admin_operations_refuse_users(client, user_headers, method):
    tag = TagFactory(name="gpu")

    response = client.open(
        f"/tags/{tag.id}", method=method, json={"name": "x"}, headers=user_headers
    )

    assert response.status_code == 403
    assert client.get(f"/tags/{tag.id}").json["name"] == "gpu"
