"""Every setting, read once from the environment and documented where it is read.

``load()`` returns a plain dict for ``app.config``; ``create_app`` applies overrides on top
and then ``check()`` refuses to start a production app that lacks what it needs. Secrets
also accept a ``<NAME>_FILE`` variable naming a file that holds the value (Docker/compose
secrets).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from environs import Env

PRODUCTION = "production"


class SettingsError(RuntimeError):
    """A required setting is missing or malformed; the message names the variable."""


def _secret(env: Env, name: str, default: str | None = None) -> str | None:
    """``NAME`` or the content of the file ``NAME_FILE`` names (trailing newline stripped)."""
    path = env.str(f"{name}_FILE", None)
    if path:
        try:
            return Path(path).read_text().rstrip("\n")
        except OSError as error:
            raise SettingsError(f"{name}_FILE={path} cannot be read: {error}") from None
    return env.str(name, default)


def _list(env: Env, name: str) -> list[str]:
    return [item.strip() for item in env.str(name, "").split(",") if item.strip()]


def load() -> dict[str, Any]:
    """Read the settings from the process environment."""
    env = Env(eager=True)
    settings: dict[str, Any] = {
        # "production" (default) or "development". Production refuses to start without
        # SECRET_KEY, DATABASE_URL and TRUSTED_OP_LIST and checks benchmark images.
        "APP_ENV": env.str("APP_ENV", PRODUCTION),
        # Flask's secret (signs nothing user-facing today, but extensions expect it).
        "SECRET_KEY": _secret(env, "SECRET_KEY"),
        # Any SQLAlchemy URL. Default (development only): SQLite file in the instance folder.
        "DATABASE_URL": _secret(env, "DATABASE_URL"),
        # Optional read replica for GET requests (see docs/scaling.md).
        "DATABASE_READ_URL": _secret(env, "DATABASE_READ_URL"),
        # Comma-separated OIDC issuer URLs whose tokens are accepted.
        "TRUSTED_OP_LIST": _list(env, "TRUSTED_OP_LIST"),
        # Comma-separated eduperson_entitlement values that make a registered user admin.
        # Empty means nobody is admin.
        "ADMIN_ENTITLEMENTS": _list(env, "ADMIN_ENTITLEMENTS"),
        # Seconds flaat waits for each call to an issuer (discovery, JWKS, userinfo).
        "OIDC_REQUEST_TIMEOUT": env.float("OIDC_REQUEST_TIMEOUT", 3.0),
        # "on"/"off": check that a benchmark's docker_image:docker_tag exists in its registry.
        # Default: on in production, off in development.
        "IMAGE_VALIDATION": env.str("IMAGE_VALIDATION", ""),
        # Seconds to wait for a container registry before answering 503.
        "IMAGE_REGISTRY_TIMEOUT": env.float("IMAGE_REGISTRY_TIMEOUT", 5.0),
        # Comma-separated registries (host:port) reached over plain HTTP (local mirrors).
        "IMAGE_REGISTRY_INSECURE": _list(env, "IMAGE_REGISTRY_INSECURE"),
        # Largest accepted request body in bytes (413 beyond). Default 1 MiB.
        "MAX_CONTENT_LENGTH": env.int("MAX_CONTENT_LENGTH", 1024 * 1024),
        # Log level of the application's loggers.
        "LOG_LEVEL": env.str("LOG_LEVEL", "INFO"),
        # SMTP relay for notifications; without MAIL_SERVER, messages go to the log.
        "MAIL_SERVER": env.str("MAIL_SERVER", None),
        "MAIL_PORT": env.int("MAIL_PORT", 25),
        "MAIL_USE_TLS": env.bool("MAIL_USE_TLS", False),
        "MAIL_USE_SSL": env.bool("MAIL_USE_SSL", False),
        "MAIL_USERNAME": env.str("MAIL_USERNAME", None),
        "MAIL_PASSWORD": _secret(env, "MAIL_PASSWORD"),
        # Sender address of notifications, and the support address copied on submissions.
        "MAIL_FROM": env.str("MAIL_FROM", "no-reply@localhost"),
        "MAIL_SUPPORT": env.str("MAIL_SUPPORT", None),
    }
    return settings


def finalize(config: dict[str, Any], instance_path: str) -> None:
    """Fill defaults that depend on other settings, then refuse an unsafe production app."""
    production = config["APP_ENV"] == PRODUCTION
    if production:
        missing = [
            name
            for name in ("SECRET_KEY", "DATABASE_URL", "TRUSTED_OP_LIST")
            if not config.get(name)
        ]
        if missing:
            raise SettingsError(
                f"Missing required setting(s) {', '.join(missing)} (APP_ENV=production). "
                "Set them in the environment (or <NAME>_FILE for secrets); for a local "
                "run set APP_ENV=development."
            )
    else:
        config.setdefault("SECRET_KEY", None)
        config["SECRET_KEY"] = config["SECRET_KEY"] or "development-only-secret"
        if not config.get("DATABASE_URL"):
            os.makedirs(instance_path, exist_ok=True)
            config["DATABASE_URL"] = f"sqlite:///{Path(instance_path) / 'performance.db'}"
    validation = str(config.get("IMAGE_VALIDATION") or ("on" if production else "off")).lower()
    if validation not in {"on", "off", "true", "false", "1", "0"}:
        raise SettingsError(f"IMAGE_VALIDATION must be 'on' or 'off', not {validation!r}.")
    config["IMAGE_VALIDATION"] = validation in {"on", "true", "1"}
    config["SQLALCHEMY_DATABASE_URI"] = database_uri(config["DATABASE_URL"])
    config["TRUSTED_OP_LIST"] = [iss.rstrip("/") for iss in config["TRUSTED_OP_LIST"]]


def database_uri(url: str) -> str:
    """The SQLAlchemy URL for ``url``; plain ``postgresql://`` (or ``postgres://``) URLs use
    psycopg2, the driver this service ships with (SQLAlchemy 2.1 would pick psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url.removeprefix(prefix)
    return url
