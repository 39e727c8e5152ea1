"""Every operation that needs a token checks it, whatever its arguments.

The operations come from the live OpenAPI document, so a new endpoint is checked as soon as
it exists. Path parameters are random UUIDs and no body is sent: the caller is checked
before the arguments are parsed and before anything is looked up.
"""

import pytest

from factories import UserFactory
from tests.api.spec import access_label, operations, with_random_ids
from tests.conftest import bearer

NEEDS_REGISTRATION = {"(Users)", "(Admins)", "(Owner or admin)"}


@pytest.fixture(scope="module")
def tokens(issuer):
    """Tokens minted once for the module (flaat then validates each only once)."""
    return {
        "unregistered": bearer(issuer.mint("access-unregistered", email="u@example.org")),
        "user": bearer(issuer.mint("access-user", email="user@example.org")),
    }


def protected_operations(client):
    spec = client.get("/api-spec.json").json
    found = [
        (method, path, operation)
        for method, path, operation in operations(spec)
        if operation.get("security")
    ]
    assert found, "the document lists no protected operation"
    return found


def call(client, method, path, operation, headers=None):
    return client.open(with_random_ids(path, operation), method=method, headers=headers)


def test_every_protected_operation_needs_a_token(client):
    wrong = []
    for method, path, operation in protected_operations(client):
        response = call(client, method, path, operation)
        if response.status_code != 401:
            wrong.append(f"{method} {path}: {response.status_code}")

    assert wrong == []


def test_every_protected_operation_refuses_a_garbage_token(client):
    wrong = []
    for method, path, operation in protected_operations(client):
        response = call(client, method, path, operation, {"Authorization": "Bearer garbage"})
        if response.status_code != 401:
            wrong.append(f"{method} {path}: {response.status_code}")

    assert wrong == []


def test_operations_for_registered_users_refuse_unregistered_ones(client, tokens):
    wrong = []
    for method, path, operation in protected_operations(client):
        if access_label(operation) not in NEEDS_REGISTRATION:
            continue
        response = call(client, method, path, operation, tokens["unregistered"])
        if response.status_code != 403:
            wrong.append(f"{method} {path}: {response.status_code}")

    assert wrong == []


def test_operations_for_admins_refuse_users(client, issuer, tokens):
    UserFactory(sub="access-user", iss=issuer.url, email="user@example.org")

    wrong = []
    for method, path, operation in protected_operations(client):
        if access_label(operation) != "(Admins)":
            continue
        response = call(client, method, path, operation, tokens["user"])
        if response.status_code != 403:
            wrong.append(f"{method} {path}: {response.status_code}")

    assert wrong == []


def test_public_operations_declare_no_security(client):
    spec = client.get("/api-spec.json").json

    secured_public = [
        f"{method} {path}"
        for method, path, operation in operations(spec)
        if access_label(operation) == "(Public)" and operation.get("security")
    ]

    assert secured_public == []
