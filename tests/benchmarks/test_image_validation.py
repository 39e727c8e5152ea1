"""POST/PUT /benchmarks with IMAGE_VALIDATION on, against a real local registry."""

# ruff: noqa: F811  (test parameters named after the imported image_registry fixture)
import socket

import pytest

from backend import create_app
from factories import BenchmarkFactory
from tests.support.registry import image_registry  # noqa: F401


@pytest.fixture
def validating_client(app_settings, image_registry):
    """A client of an app that checks images; it shares the test database."""
    app = create_app(
        **{
            **app_settings,
            "IMAGE_VALIDATION": "on",
            "IMAGE_REGISTRY_INSECURE": [image_registry.host],
        }
    )
    return app.test_client()


def closed_port_host() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once it is closed


def body(image: str, tag: str) -> dict:
    return {
        "docker_image": image,
        "docker_tag": tag,
        "url": "https://example.org/docs",
        "json_schema": {},
    }


def test_existing_image_is_accepted(validating_client, image_registry, user_headers):
    image_registry.push("team/solver", "1.0")

    response = validating_client.post(
        "/benchmarks", json=body(image_registry.image("team/solver"), "1.0"), headers=user_headers
    )

    assert response.status_code == 201
    assert response.json["docker_image"] == image_registry.image("team/solver")


def test_missing_tag_is_422_naming_the_image(validating_client, image_registry, user_headers):
    image_registry.push("team/solver", "1.0")
    image = image_registry.image("team/solver")

    response = validating_client.post("/benchmarks", json=body(image, "2.0"), headers=user_headers)

    assert response.status_code == 422
    assert f"{image}:2.0" in response.json["message"]
    assert "no tag '2.0'" in response.json["message"]
    assert validating_client.get("/benchmarks?status=on_review").json["total"] == 0


def test_missing_repository_is_422(validating_client, image_registry, user_headers):
    image = image_registry.image("team/never-pushed")

    response = validating_client.post("/benchmarks", json=body(image, "1.0"), headers=user_headers)

    assert response.status_code == 422
    assert "does not exist" in response.json["message"]


def test_malformed_image_name_is_422(validating_client, user_headers):
    response = validating_client.post(
        "/benchmarks", json=body("Team/Solver", "1.0"), headers=user_headers
    )

    assert response.status_code == 422
    assert "lowercase" in response.json["message"]


def test_registry_down_is_503(app_settings, user_headers):
    host = closed_port_host()
    app = create_app(
        **{
            **app_settings,
            "IMAGE_VALIDATION": "on",
            "IMAGE_REGISTRY_INSECURE": [host],
            "IMAGE_REGISTRY_TIMEOUT": 1.0,
        }
    )

    response = app.test_client().post(
        "/benchmarks", json=body(f"{host}/team/solver", "1.0"), headers=user_headers
    )

    assert response.status_code == 503
    assert response.json["code"] == 503
    assert f"{host}/team/solver:1.0" in response.json["message"]


def test_update_to_a_missing_tag_is_422(validating_client, image_registry, admin_headers):
    image_registry.push("team/updated", "1.0")
    benchmark = BenchmarkFactory(
        docker_image=image_registry.image("team/updated"), docker_tag="1.0"
    )

    response = validating_client.put(
        f"/benchmarks/{benchmark.id}", json={"docker_tag": "9.9"}, headers=admin_headers
    )

    assert response.status_code == 422
    assert validating_client.get(f"/benchmarks/{benchmark.id}").json["docker_tag"] == "1.0"


def test_update_to_an_existing_tag_is_accepted(validating_client, image_registry, admin_headers):
    image_registry.push("team/updated", "1.0")
    image_registry.push("team/updated", "1.1")
    benchmark = BenchmarkFactory(
        docker_image=image_registry.image("team/updated"), docker_tag="1.0"
    )

    response = validating_client.put(
        f"/benchmarks/{benchmark.id}", json={"docker_tag": "1.1"}, headers=admin_headers
    )

    assert response.status_code == 204


def test_update_without_image_fields_does_not_ask_the_registry(app_settings, admin_headers):
    host = closed_port_host()
    app = create_app(
        **{**app_settings, "IMAGE_VALIDATION": "on", "IMAGE_REGISTRY_INSECURE": [host]}
    )
    benchmark = BenchmarkFactory(docker_image=f"{host}/team/solver")

    response = app.test_client().put(
        f"/benchmarks/{benchmark.id}", json={"description": "new"}, headers=admin_headers
    )

    assert response.status_code == 204
