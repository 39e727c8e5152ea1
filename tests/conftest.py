"""Shared test fixtures: a real database (SQLite, or PostgreSQL when TEST_DATABASE_URL is
set), a real local OIDC issuer whose tokens flaat validates over HTTPS, and callers.

Each test starts from empty tables; the schema is made once per run by the migrations.
"""

from __future__ import annotations

import os
import uuid

import flask_migrate
import pytest

from backend import create_app
from backend.devtools.databases import throwaway_database
from backend.devtools.oidc_issuer import LocalIssuer
from backend.extensions import db
from backend.models import result_counts
from factories import UserFactory

ADMIN_ENTITLEMENT = "urn:mace:egi.eu:group:perf.eosc:role=admin"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A throw-away database for this test run (and xdist worker), dropped at the end."""
    with throwaway_database(
        os.environ.get("TEST_DATABASE_URL"), tmp_path_factory.mktemp("db"), f"test_{os.getpid()}"
    ) as url:
        yield url


@pytest.fixture(scope="session")
def issuer(tmp_path_factory):
    """A local HTTPS OIDC issuer; its private CA is trusted through the environment."""
    local_issuer = LocalIssuer(tmp_path_factory.mktemp("issuer")).start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", str(local_issuer.ca_bundle))
        patch.setenv("SSL_CERT_FILE", str(local_issuer.ca_bundle))
        yield local_issuer
    local_issuer.stop()


@pytest.fixture(scope="session")
def app_settings(database_url, issuer, tmp_path_factory):
    """The overrides every test app gets; tests needing other settings extend a copy."""
    return {
        "ARTIFACT_STORE": f"file://{tmp_path_factory.mktemp('artifacts')}",
        "APP_ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        "TRUSTED_OP_LIST": [issuer.url],
        "ADMIN_ENTITLEMENTS": [ADMIN_ENTITLEMENT],
        "IMAGE_VALIDATION": "off",
        "MAIL_SERVER": None,
        "NOTIFICATIONS_DELIVERY": "off",
    }


@pytest.fixture(scope="session")
def app(app_settings):
    app = create_app(**app_settings)
    with app.app_context():
        flask_migrate.upgrade()
    return app


@pytest.fixture(autouse=True)
def app_context(request, app):
    """Every test runs in an app context and leaves empty tables behind."""
    with app.app_context():
        yield
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())
        with db.engine.begin() as connection:
            # PostgreSQL folds counter deltas in at commit: those of the rows just deleted.
            connection.execute(result_counts.delete())


@pytest.fixture
def client(app):
    return app.test_client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def user(issuer):
    """A registered user (no admin rights)."""
    return UserFactory(iss=issuer.url)


@pytest.fixture
def user_headers(issuer, user):
    return bearer(issuer.mint(user.sub, email=user.email))


@pytest.fixture
def admin(issuer):
    return UserFactory(iss=issuer.url, email="admin@example.org")


@pytest.fixture
def admin_headers(issuer, admin):
    return bearer(issuer.mint(admin.sub, email=admin.email, entitlements=[ADMIN_ENTITLEMENT]))


@pytest.fixture
def token_headers(issuer):
    """A valid token of somebody who has not registered."""
    return bearer(issuer.mint(f"new-{uuid.uuid4()}", email="newcomer@example.org"))
