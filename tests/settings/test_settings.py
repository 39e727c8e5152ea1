"""Settings come from the environment; production refuses to start without what it needs."""

import pytest

from backend import create_app
from backend.settings import SettingsError, database_uri


@pytest.fixture
def clean_environment(monkeypatch):
    for name in ("APP_ENV", "SECRET_KEY", "SECRET_KEY_FILE", "DATABASE_URL", "TRUSTED_OP_LIST"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "TRUSTED_OP_LIST"])
def test_production_refuses_to_start_without_required_settings(clean_environment, missing):
    environment = {
        "SECRET_KEY": "s3cret",
        "DATABASE_URL": "sqlite:///:memory:",
        "TRUSTED_OP_LIST": "https://issuer.example.org",
    }
    for name, value in environment.items():
        if name != missing:
            clean_environment.setenv(name, value)
    with pytest.raises(SettingsError, match=missing):
        create_app()


def test_production_starts_with_required_settings_from_the_environment(clean_environment):
    clean_environment.setenv("SECRET_KEY", "s3cret")
    clean_environment.setenv("DATABASE_URL", "sqlite:///:memory:")
    clean_environment.setenv("TRUSTED_OP_LIST", "https://a.example.org/, https://b.example.org")
    app = create_app()
    assert app.config["APP_ENV"] == "production"
    assert app.config["TRUSTED_OP_LIST"] == ["https://a.example.org", "https://b.example.org"]
    assert app.config["IMAGE_VALIDATION"] is True


def test_secrets_can_come_from_files(clean_environment, tmp_path):
    secret = tmp_path / "secret_key"
    secret.write_text("from-a-file\n")
    clean_environment.setenv("SECRET_KEY_FILE", str(secret))
    clean_environment.setenv("DATABASE_URL", "sqlite:///:memory:")
    clean_environment.setenv("TRUSTED_OP_LIST", "https://issuer.example.org")
    assert create_app().config["SECRET_KEY"] == "from-a-file"


def test_an_unreadable_secret_file_is_named(clean_environment, tmp_path):
    clean_environment.setenv("SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(SettingsError, match="SECRET_KEY_FILE"):
        create_app()


def test_development_defaults_to_sqlite_in_the_instance_folder(clean_environment):
    app = create_app(APP_ENV="development")
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("performance.db")
    assert app.config["IMAGE_VALIDATION"] is False


def test_image_validation_must_be_on_or_off(clean_environment):
    with pytest.raises(SettingsError, match="IMAGE_VALIDATION"):
        create_app(APP_ENV="development", IMAGE_VALIDATION="maybe")


def test_plain_postgresql_urls_use_the_shipped_driver():
    assert database_uri("postgresql://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert database_uri("postgres://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert database_uri("sqlite:///x.db") == "sqlite:///x.db"
