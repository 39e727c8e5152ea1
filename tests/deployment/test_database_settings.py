"""How the service reaches its database in a deployment: the password from a secret file
beside the URL, and bounded connection attempts on PostgreSQL."""

from __future__ import annotations

from sqlalchemy import make_url

from backend import create_app


def test_the_password_joins_the_url_however_odd_its_characters(app_settings):
    app = create_app(
        **{
            **app_settings,
            "DATABASE_URL": "postgresql://perf@db:5432/perf",
            "DATABASE_PASSWORD": "p@ss:w/rd%#",
        }
    )
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    assert (url.username, url.password, url.host, url.database) == (
        "perf",
        "p@ss:w/rd%#",
        "db",
        "perf",
    )
    assert url.drivername == "postgresql+psycopg2"


def test_the_password_can_come_from_a_secret_file(monkeypatch, tmp_path):
    secret = tmp_path / "db_password"
    secret.write_text("from-the-secret\n")
    monkeypatch.setenv("DATABASE_PASSWORD_FILE", str(secret))
    app = create_app(APP_ENV="development", DATABASE_URL="postgresql://perf@db/perf")
    assert make_url(app.config["SQLALCHEMY_DATABASE_URI"]).password == "from-the-secret"


def test_postgresql_connections_time_out(app_settings):
    app = create_app(
        **{**app_settings, "DATABASE_URL": "postgresql://perf@db/perf", "DB_CONNECT_TIMEOUT": 3}
    )
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert "pool_pre_ping" not in options  # idle connections are checked instead
    assert options["connect_args"]["connect_timeout"] == 3


def test_sqlite_gets_no_postgresql_options(app_settings):
    app = create_app(**{**app_settings, "DATABASE_URL": "sqlite:///:memory:"})
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"] == {}
