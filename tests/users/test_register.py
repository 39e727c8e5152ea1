"""POST /users:register, GET /users/self and POST /users/self:update: a user's own record."""

from datetime import UTC, datetime, timedelta

from factories import UserFactory
from tests.conftest import bearer


def test_register_with_a_token(client, issuer):
    headers = bearer(issuer.mint("alice", email="alice@example.org"))

    response = client.post("/users:register", headers=headers)

    assert response.status_code == 201
    assert response.json | {"registration_datetime": None} == {
        "sub": "alice",
        "iss": issuer.url,
        "email": "alice@example.org",
        "registration_datetime": None,
    }
    registered = datetime.fromisoformat(response.json["registration_datetime"])
    assert response.json["registration_datetime"].endswith("+00:00")
    assert abs(datetime.now(UTC) - registered) < timedelta(minutes=1)
    assert client.get("/users/self", headers=headers).json == response.json


def test_register_twice_is_409(client, issuer):
    headers = bearer(issuer.mint("alice", email="alice@example.org"))
    client.post("/users:register", headers=headers)

    response = client.post("/users:register", headers=headers)

    assert response.status_code == 409
    assert "already registered" in response.json["message"]


def test_register_without_email_in_the_token_is_422(client, issuer):
    response = client.post("/users:register", headers=bearer(issuer.mint("alice")))

    assert response.status_code == 422
    assert "email" in response.json["message"]
    assert client.get("/users/self", headers=bearer(issuer.mint("alice"))).status_code == 404


def test_register_with_an_unverified_email_is_422(client, issuer):
    token = issuer.mint("alice", email="alice@example.org", email_verified=False)

    response = client.post("/users:register", headers=bearer(token))

    assert response.status_code == 422
    assert "not verified" in response.json["message"]


def test_register_needs_a_token(client):
    response = client.post("/users:register")

    assert response.status_code == 401
    assert "Bearer" in response.json["message"]


def test_register_with_a_garbage_token_is_401(client):
    assert client.post("/users:register", headers=bearer("not-a-jwt")).status_code == 401


def test_register_with_an_expired_token_is_401(client, issuer):
    token = issuer.mint("alice", email="alice@example.org", expires_in=-60)

    assert client.post("/users:register", headers=bearer(token)).status_code == 401


def test_same_sub_at_another_issuer_is_another_user(client, issuer):
    UserFactory(sub="alice", iss="https://other-issuer.example.org")

    response = client.post(
        "/users:register", headers=bearer(issuer.mint("alice", email="alice@example.org"))
    )

    assert response.status_code == 201


def test_get_self(client, user, user_headers):
    response = client.get("/users/self", headers=user_headers)

    assert response.status_code == 200
    assert response.json == {
        "sub": user.sub,
        "iss": user.iss,
        "email": user.email,
        "registration_datetime": user.registration_datetime.isoformat(),
    }


def test_get_self_when_not_registered_is_404(client, token_headers):
    response = client.get("/users/self", headers=token_headers)

    assert response.status_code == 404
    assert "register" in response.json["message"]


def test_get_self_needs_a_token(client):
    assert client.get("/users/self").status_code == 401


def test_update_refreshes_the_email_from_the_token(client, issuer, user):
    headers = bearer(issuer.mint(user.sub, email="new-address@example.org"))

    response = client.post("/users/self:update", headers=headers)

    assert response.status_code == 204
    assert client.get("/users/self", headers=headers).json["email"] == "new-address@example.org"


def test_update_without_email_in_the_token_is_422(client, issuer, user):
    response = client.post("/users/self:update", headers=bearer(issuer.mint(user.sub)))

    assert response.status_code == 422
    stored = client.get("/users/self", headers=bearer(issuer.mint(user.sub, email=user.email)))
    assert stored.json["email"] == user.email


def test_update_with_an_unverified_email_is_422(client, issuer, user):
    token = issuer.mint(user.sub, email="new@example.org", email_verified=False)

    assert client.post("/users/self:update", headers=bearer(token)).status_code == 422


def test_update_needs_a_token(client):
    assert client.post("/users/self:update").status_code == 401


def test_update_needs_a_registered_user(client, token_headers):
    assert client.post("/users/self:update", headers=token_headers).status_code == 403
