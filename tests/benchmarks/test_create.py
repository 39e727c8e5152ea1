"""POST /benchmarks: users submit a container image with the JSON Schema of its results.

Image validation is off in these tests (the app_settings default); see
test_image_validation.py for a real registry.
"""

import pytest

from factories import BenchmarkFactory


def body(**fields):
    return {
        "docker_image": "deephdc/tf-bench",
        "docker_tag": "1.0",
        "url": "https://github.com/deephdc/tf-bench",
        "json_schema": {},
        "description": "TensorFlow benchmark",
    } | fields


def test_user_submits_a_benchmark_on_review(client, user_headers):
    schema = {"type": "object", "required": ["score"]}

    response = client.post("/benchmarks", json=body(json_schema=schema), headers=user_headers)

    assert response.status_code == 201
    assert response.json | {"id": None, "upload_datetime": None} == {
        "id": None,
        "docker_image": "deephdc/tf-bench",
        "docker_tag": "1.0",
        "url": "https://github.com/deephdc/tf-bench",
        "json_schema": schema,
        "description": "TensorFlow benchmark",
        "upload_datetime": None,
    }
    assert response.json["upload_datetime"].endswith("+00:00")
    assert client.get(f"/benchmarks/{response.json['id']}").json == response.json
    assert client.get("/benchmarks").json["items"] == []
    assert client.get("/benchmarks?status=on_review").json["items"] == [response.json]


def test_description_is_optional(client, user_headers):
    data = body()
    del data["description"]

    response = client.post("/benchmarks", json=data, headers=user_headers)

    assert response.status_code == 201
    assert response.json["description"] is None


def test_empty_schema_accepts_anything(client, user_headers):
    response = client.post("/benchmarks", json=body(json_schema={}), headers=user_headers)

    assert response.status_code == 201
    assert response.json["json_schema"] == {}


@pytest.mark.parametrize(
    "schema",
    [
        {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"},
        {"$schema": "https://json-schema.org/draft/2019-09/schema", "type": "object"},
        {"$schema": "http://json-schema.org/draft-07/schema#", "exclusiveMinimum": 0},
        {
            "$schema": "http://json-schema.org/draft-04/schema#",
            "minimum": 0,
            "exclusiveMinimum": True,
        },
    ],
    ids=["2020-12", "2019-09", "draft-7", "draft-4"],
)
def test_schema_drafts_are_chosen_by_dollar_schema(client, user_headers, schema):
    response = client.post("/benchmarks", json=body(json_schema=schema), headers=user_headers)

    assert response.status_code == 201
    assert response.json["json_schema"] == schema


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ({"type": "nonsense"}, "nonsense"),
        ({"properties": {"score": {"type": 12}}}, "12"),
        ({"required": "score"}, "'score'"),
        ({"minimum": "zero"}, "'zero'"),
        # A number is a valid exclusiveMinimum in draft 7, not in draft 4 (a boolean there).
        (
            {
                "$schema": "http://json-schema.org/draft-04/schema#",
                "minimum": 0,
                "exclusiveMinimum": 0,
            },
            "is not of type 'boolean'",
        ),
        # ...and the reverse.
        (
            {"$schema": "http://json-schema.org/draft-07/schema#", "exclusiveMinimum": True},
            "is not of type 'number'",
        ),
        ({"$schema": "https://json-schema.org/draft/2019-09/schema", "minItems": -1}, "-1"),
    ],
)
def test_invalid_schema_is_422_naming_the_problem(client, user_headers, schema, problem):
    response = client.post("/benchmarks", json=body(json_schema=schema), headers=user_headers)

    assert response.status_code == 422
    assert "json_schema" in response.json["message"]
    assert "not a valid JSON Schema" in response.json["message"]
    assert problem in response.json["message"]
    assert "json_schema" in response.json["errors"]


@pytest.mark.parametrize("schema", [[], "a schema", 1, None, True])
def test_schema_that_is_not_an_object_is_422(client, user_headers, schema):
    response = client.post("/benchmarks", json=body(json_schema=schema), headers=user_headers)

    assert response.status_code == 422
    assert "json_schema" in response.json["errors"]["json"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"docker_image": ""}, "docker_image"),
        ({"docker_tag": ""}, "docker_tag"),
        ({"docker_image": None}, "docker_image"),
        ({"url": "not a url"}, "url"),
        ({"url": None}, "url"),
        ({"colour": "red"}, "colour"),
        ({"id": "00000000-0000-0000-0000-000000000000"}, "id"),
    ],
)
def test_bad_body_is_422_naming_the_field(client, user_headers, fields, field):
    response = client.post("/benchmarks", json=body(**fields), headers=user_headers)

    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


@pytest.mark.parametrize("field", ["docker_image", "docker_tag", "url", "json_schema"])
def test_required_fields(client, user_headers, field):
    data = body()
    del data[field]

    response = client.post("/benchmarks", json=data, headers=user_headers)

    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


def test_duplicate_image_and_tag_is_409(client, user_headers):
    BenchmarkFactory(docker_image="deephdc/tf-bench", docker_tag="1.0")

    response = client.post("/benchmarks", json=body(), headers=user_headers)

    assert response.status_code == 409
    assert "docker_image" in response.json["message"]


def test_same_image_with_another_tag_is_fine(client, user_headers):
    BenchmarkFactory(docker_image="deephdc/tf-bench", docker_tag="0.9")

    response = client.post("/benchmarks", json=body(), headers=user_headers)

    assert response.status_code == 201


def test_needs_a_token(client):
    assert client.post("/benchmarks", json=body()).status_code == 401


def test_needs_a_registered_user(client, token_headers):
    assert client.post("/benchmarks", json=body(), headers=token_headers).status_code == 403
