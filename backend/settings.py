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
from sqlalchemy import make_url

from backend.db_connections import UNRESPONSIVE_SERVER_PLUGIN
from backend.image_registry import PUBLIC_REGISTRIES
from backend.json_provider import dumps as json_dumps
from backend.json_provider import loads as json_loads
from backend.models.user import issuer_key

PRODUCTION = "production"
#: The repository, when the service runs from a checkout.
_CHECKOUT = Path(__file__).resolve().parent.parent


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
        # Flask's secret; signs the read-your-writes cookie (backend.read_routing).
        "SECRET_KEY": _secret(env, "SECRET_KEY"),
        # Any SQLAlchemy URL. Default (development only): SQLite file in the instance folder.
        "DATABASE_URL": _secret(env, "DATABASE_URL"),
        # Optional read replica for GET requests (see docs/scaling.md).
        "DATABASE_READ_URL": _secret(env, "DATABASE_READ_URL"),
        # Seconds a client reads from the primary after its own write (replicas lag; keep
        # it above the replica's lag, which /metrics shows as db_replica_lag_seconds).
        "READ_YOUR_WRITES_SECONDS": env.float("READ_YOUR_WRITES_SECONDS", 10.0),
        # Seconds reads go to the primary after the replica failed, before it is tried again.
        "READ_REPLICA_RETRY_SECONDS": env.float("READ_REPLICA_RETRY_SECONDS", 5.0),
        # Password for DATABASE_URL when it is kept out of the URL: compose gives the same
        # secret file to PostgreSQL (POSTGRES_PASSWORD_FILE) and to the service.
        "DATABASE_PASSWORD": _secret(env, "DATABASE_PASSWORD"),
        # Seconds to wait for a PostgreSQL connection before answering 503 (never a hung
        # worker while the database is unreachable). libpq's minimum is 2.
        "DB_CONNECT_TIMEOUT": env.int("DB_CONNECT_TIMEOUT", 3),
        # Seconds one SQL statement of a request may run on PostgreSQL before it is
        # cancelled (503); 0 means no limit. Commands of the flask CLI (migrations, import,
        # export) are never limited: they take as long as their data needs.
        "DB_STATEMENT_TIMEOUT": env.float("DB_STATEMENT_TIMEOUT", 30.0),
        # Seconds a request waits for a free pooled connection before answering 503.
        "DB_POOL_TIMEOUT": env.float("DB_POOL_TIMEOUT", 5.0),
        # Seconds after which a PostgreSQL server that stops answering (frozen, not down)
        # is given up: a connection lent out this long makes the service probe the server,
        # and without an answer within as long again its waiting requests get 503
        # (backend.db_connections).
        "DB_UNRESPONSIVE_TIMEOUT": env.float("DB_UNRESPONSIVE_TIMEOUT", 1.0),
        # Seconds a pooled connection may sit unused before it is checked (SELECT 1) ahead
        # of a request; connections in steady use are not (backend.db_connections).
        "DB_PING_AFTER_IDLE": env.float("DB_PING_AFTER_IDLE", 5.0),
        # Catalogue answers (sites, flavors, benchmarks, tags) each worker keeps, valid while
        # the catalogue is unchanged (backend.response_cache); 0 turns the cache off.
        "CATALOGUE_CACHE_ENTRIES": env.int("CATALOGUE_CACHE_ENTRIES", 1024),
        # Public pages of results each worker keeps written out (up to 1 MiB each), valid
        # while the results and the catalogue are unchanged (PostgreSQL only;
        # backend.result_finding.pages); 0 turns it off.
        "RESULT_PAGE_CACHE_ENTRIES": env.int("RESULT_PAGE_CACHE_ENTRIES", 32),
        # On PostgreSQL, learn catalogue changes by LISTEN/NOTIFY (one extra connection per
        # worker) instead of reading the catalogue version on every cached request. Turn it
        # off behind PgBouncer in transaction mode, which does not deliver notifications.
        "CATALOGUE_LISTEN": env.bool("CATALOGUE_LISTEN", True),
        # Folder of the Alembic migrations; the container image keeps them in /app/migrations.
        "MIGRATIONS_DIR": env.str("MIGRATIONS_DIR", str(_CHECKOUT / "migrations")),
        # Comma-separated OIDC issuer URLs whose tokens are accepted.
        "TRUSTED_OP_LIST": _list(env, "TRUSTED_OP_LIST"),
        # Comma-separated eduperson_entitlement values that make a registered user admin.
        # Empty means nobody is admin.
        "ADMIN_ENTITLEMENTS": _list(env, "ADMIN_ENTITLEMENTS"),
        # Seconds the service waits for each call to an issuer (discovery, JWKS, userinfo).
        "OIDC_REQUEST_TIMEOUT": env.float("OIDC_REQUEST_TIMEOUT", 3.0),
        # Calls to issuers one process makes at once; a request that finds them all busy for
        # OIDC_QUEUE_TIMEOUT seconds gets 503, so a hanging issuer cannot hold every worker.
        "OIDC_MAX_CONCURRENT_REQUESTS": env.int("OIDC_MAX_CONCURRENT_REQUESTS", 4),
        "OIDC_QUEUE_TIMEOUT": env.float("OIDC_QUEUE_TIMEOUT", 1.0),
        # Seconds of clock difference with the issuer tolerated on a token's iat, nbf and exp.
        "OIDC_CLOCK_SKEW_SECONDS": env.int("OIDC_CLOCK_SKEW_SECONDS", 60),
        # The audience this service is for: when set, a token's aud must contain it (401
        # otherwise). Empty (default): aud is not checked, so a token the issuer made for any
        # other client is accepted too; set it in production (docs/security.md).
        "OIDC_AUDIENCE": env.str("OIDC_AUDIENCE", ""),
        # Seconds a worker remembers a checked token with its userinfo (never past the token's
        # exp), so a client's next requests cost no round trip to the issuer; 0: check each.
        "OIDC_TOKEN_CACHE_SECONDS": env.float("OIDC_TOKEN_CACHE_SECONDS", 60.0),
        # "on"/"off": check that a benchmark's docker_image:docker_tag exists in its registry.
        # Default: on in production, off in development.
        "IMAGE_VALIDATION": env.str("IMAGE_VALIDATION", ""),
        # Seconds to wait for a container registry before answering 503.
        "IMAGE_REGISTRY_TIMEOUT": env.float("IMAGE_REGISTRY_TIMEOUT", 5.0),
        # Comma-separated registries (host:port) reached over plain HTTP (local mirrors).
        "IMAGE_REGISTRY_INSECURE": _list(env, "IMAGE_REGISTRY_INSECURE"),
        # Comma-separated registries (host[:port]) whose images are checked; an image in any
        # other is refused (422). A name is used only if it resolves to public addresses; an
        # IP address (e.g. 127.0.0.1:5000 in development) is trusted as written. The insecure
        # registries above are allowed too. Default: docker.io, ghcr.io, quay.io,
        # registry.gitlab.com.
        "IMAGE_REGISTRIES": _list(env, "IMAGE_REGISTRIES") or list(PUBLIC_REGISTRIES),
        # Largest accepted request body in bytes (413 beyond). Default 1 MiB.
        "MAX_CONTENT_LENGTH": env.int("MAX_CONTENT_LENGTH", 1024 * 1024),
        # Largest body in bytes of POST /latencies and POST /experiments/{id}/loadgen (413
        # beyond; MAX_CONTENT_LENGTH does not apply to them). Default 384 MiB: 10,000,000
        # latencies written as the longest doubles (~24 characters and a comma) fit.
        "LATENCIES_MAX_BODY_SIZE": env.int("LATENCIES_MAX_BODY_SIZE", 384 * 1024 * 1024),
        # Most latencies one job may hold (413 beyond). A 10,000,000-sample POST peaked at
        # 1.27 GB of worker memory while parsed; see docs/experiments.md.
        "LATENCIES_MAX_SAMPLES": env.int("LATENCIES_MAX_SAMPLES", 10_000_000),
        # Log level of the application's loggers.
        "LOG_LEVEL": env.str("LOG_LEVEL", "INFO"),
        # "json" (default): one JSON object per log line, with the request id; "text" for
        # people reading a terminal.
        "LOG_FORMAT": env.str("LOG_FORMAT", "json"),
        # Serve Prometheus metrics at /metrics (keep that path away from the public proxy).
        "METRICS_ENABLED": env.bool("METRICS_ENABLED", False),
        # Folder for prometheus_client's multi-process mode (several gunicorn workers). The
        # library reads this variable itself, so it must be in the environment, not an override.
        "PROMETHEUS_MULTIPROC_DIR": env.str("PROMETHEUS_MULTIPROC_DIR", None),
        # Comma-separated browser origins allowed to call the API (CORS), e.g.
        # https://perf.example.org; "*" allows any. Empty (default): no CORS headers.
        "CORS_ORIGINS": _list(env, "CORS_ORIGINS"),
        # How many proxies in front set each X-Forwarded-* header (werkzeug ProxyFix). 0, the
        # default, ignores the header: trust it only when a proxy you run sets it.
        "PROXY_FIX_X_FOR": env.int("PROXY_FIX_X_FOR", 0),
        "PROXY_FIX_X_PROTO": env.int("PROXY_FIX_X_PROTO", 0),
        "PROXY_FIX_X_HOST": env.int("PROXY_FIX_X_HOST", 0),
        "PROXY_FIX_X_PORT": env.int("PROXY_FIX_X_PORT", 0),
        # X-Forwarded-Prefix: serve under a path such as /api/v1 (Swagger UI and the spec follow).
        "PROXY_FIX_X_PREFIX": env.int("PROXY_FIX_X_PREFIX", 0),
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
        # Seconds the deliverer waits for the SMTP server to connect or answer a command.
        "MAIL_TIMEOUT": env.float("MAIL_TIMEOUT", 10.0),
        # "thread" (default): each process delivers the outbox in a background thread;
        # "off": only `flask notifications deliver` sends (see docs/notifications.md).
        "NOTIFICATIONS_DELIVERY": env.str("NOTIFICATIONS_DELIVERY", "thread"),
        # Seconds between two looks at the outbox when no commit wakes the deliverer.
        "NOTIFICATIONS_POLL_SECONDS": env.float("NOTIFICATIONS_POLL_SECONDS", 5.0),
        # Seconds before the first retry of a failed message; doubles up to the maximum.
        "NOTIFICATIONS_RETRY_SECONDS": env.float("NOTIFICATIONS_RETRY_SECONDS", 30.0),
        "NOTIFICATIONS_RETRY_MAX_SECONDS": env.float("NOTIFICATIONS_RETRY_MAX_SECONDS", 3600.0),
        # Attempts after which a message is given up (kept in the outbox with its error).
        "NOTIFICATIONS_MAX_ATTEMPTS": env.int("NOTIFICATIONS_MAX_ATTEMPTS", 72),
        # Where artifact bytes are stored (docs/artifacts.md): file:///path (default:
        # <instance folder>/artifacts, blobs named by their sha256) or s3://bucket/prefix.
        "ARTIFACT_STORE": env.str("ARTIFACT_STORE", ""),
        # For s3:// stores: the endpoint of an S3-compatible server (Ceph RGW, MinIO; empty
        # for AWS), its region and credentials (empty: boto3's own AWS_* variables and
        # files), and the multipart part size in bytes (the memory one upload holds).
        "ARTIFACT_S3_ENDPOINT_URL": env.str("ARTIFACT_S3_ENDPOINT_URL", ""),
        "ARTIFACT_S3_REGION": env.str("ARTIFACT_S3_REGION", ""),
        "ARTIFACT_S3_ACCESS_KEY_ID": env.str("ARTIFACT_S3_ACCESS_KEY_ID", ""),
        "ARTIFACT_S3_SECRET_ACCESS_KEY": _secret(env, "ARTIFACT_S3_SECRET_ACCESS_KEY"),
        "ARTIFACT_S3_PART_SIZE": env.int("ARTIFACT_S3_PART_SIZE", 8 * 1024 * 1024),
        # Largest artifact in bytes (413 beyond; the 1 MiB MAX_CONTENT_LENGTH of the JSON
        # routes does not apply to uploads). Default 10 GiB.
        "ARTIFACTS_MAX_SIZE": env.int("ARTIFACTS_MAX_SIZE", 10 * 1024**3),
        # Bytes of artifacts (ready and pending) one user may keep; 413 beyond. Default 100 GiB.
        "ARTIFACTS_USER_QUOTA": env.int("ARTIFACTS_USER_QUOTA", 100 * 1024**3),
        # Seconds an upload URL (POST /artifacts:upload-url) stays valid; a pending artifact
        # whose bytes have not arrived by then is removed.
        "ARTIFACT_UPLOAD_URL_SECONDS": env.int("ARTIFACT_UPLOAD_URL_SECONDS", 3600),
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
    if config.get("DATABASE_PASSWORD"):
        config["SQLALCHEMY_DATABASE_URI"] = (
            make_url(config["SQLALCHEMY_DATABASE_URI"])
            .set(password=config["DATABASE_PASSWORD"])
            .render_as_string(hide_password=False)
        )
    config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(config)
    config["SQLALCHEMY_BINDS"] = read_replica_binds(config)
    if str(config.get("LOG_FORMAT", "json")).lower() not in {"json", "text"}:
        raise SettingsError(f"LOG_FORMAT must be 'json' or 'text', not {config['LOG_FORMAT']!r}.")
    finalize_mail(config)
    finalize_artifact_store(config, instance_path)
    config["TRUSTED_OP_LIST"] = [issuer_key(iss) for iss in config["TRUSTED_OP_LIST"]]
    if config["OIDC_MAX_CONCURRENT_REQUESTS"] < 1:
        raise SettingsError("OIDC_MAX_CONCURRENT_REQUESTS must be at least 1.")


def finalize_artifact_store(config: dict[str, Any], instance_path: str) -> None:
    """Default ARTIFACT_STORE to ``<instance>/artifacts``; refuse one that cannot be opened."""
    from backend.artifact_stores import check_url

    if not config.get("ARTIFACT_STORE"):
        config["ARTIFACT_STORE"] = f"file://{Path(instance_path).resolve() / 'artifacts'}"
    try:
        check_url(config["ARTIFACT_STORE"])
    except ValueError as error:
        raise SettingsError(f"ARTIFACT_STORE={config['ARTIFACT_STORE']}: {error}.") from None


def finalize_mail(config: dict[str, Any]) -> None:
    """Map the MAIL_ settings onto flask-mailman's: SMTP when MAIL_SERVER is set, else a
    backend that writes messages to the log, so that nothing else must run."""
    if config.get("MAIL_USE_TLS") and config.get("MAIL_USE_SSL"):
        raise SettingsError("MAIL_USE_TLS and MAIL_USE_SSL exclude each other; set only one.")
    config["MAIL_BACKEND"] = config.get("MAIL_BACKEND") or (
        "smtp" if config.get("MAIL_SERVER") else "backend.notifications.log_backend.EmailBackend"
    )
    config["MAIL_DEFAULT_SENDER"] = config["MAIL_FROM"]
    delivery = str(config.get("NOTIFICATIONS_DELIVERY", "thread")).lower()
    if delivery not in {"thread", "off"}:
        raise SettingsError(f"NOTIFICATIONS_DELIVERY must be 'thread' or 'off', not {delivery!r}.")
    config["NOTIFICATIONS_DELIVERY"] = delivery


def database_uri(url: str) -> str:
    """The SQLAlchemy URL for ``url``; plain ``postgresql://`` (or ``postgres://``) URLs use
    psycopg2, the driver this service ships with (SQLAlchemy 2.1 would pick psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url.removeprefix(prefix)
    return url


def read_replica_binds(config: dict[str, Any]) -> dict[str, Any]:
    """The replica engine (bind key "replica", see backend.read_routing) when
    DATABASE_READ_URL is set; it takes DATABASE_PASSWORD like the primary."""
    if not config.get("DATABASE_READ_URL"):
        return {}
    url = database_uri(config["DATABASE_READ_URL"])
    if config.get("DATABASE_PASSWORD"):
        url = (
            make_url(url)
            .set(password=config["DATABASE_PASSWORD"])
            .render_as_string(hide_password=False)
        )
    options = engine_options({**config, "SQLALCHEMY_DATABASE_URI": url})
    return {"replica": {"url": url, **options}}


def engine_options(config: dict[str, Any]) -> dict[str, Any]:
    """SQLAlchemy engine options. On PostgreSQL, connect, statement and pool timeouts, TCP
    keepalives and the watch for a server that stops answering bound how long a request
    can wait for the database (then 503). Connections that died while the database was
    away are replaced by ``backend.db_connections``."""
    options: dict[str, Any] = {}
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # Documents are parsed and written by orjson (a page of results holds 100 of
        # them; an import writes thousands a second).
        options["json_deserializer"] = json_loads
        options["json_serializer"] = json_dumps
        options["pool_timeout"] = config.get("DB_POOL_TIMEOUT", 5.0)
        options["plugins"] = [UNRESPONSIVE_SERVER_PLUGIN]
        options["unresponsive_timeout"] = config.get("DB_UNRESPONSIVE_TIMEOUT", 1.0)
        statement_timeout_ms = round(float(config.get("DB_STATEMENT_TIMEOUT", 30.0)) * 1000)
        options["connect_args"] = {
            "connect_timeout": config.get("DB_CONNECT_TIMEOUT", 3),
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
            # Data the server's host never acknowledges (the network is gone) fails the
            # connection after 60 s, not after ~15 minutes of retransmissions.
            "tcp_user_timeout": 60_000,
            # JIT compilation adds tens of milliseconds to the queries the planner thinks
            # big (counts of large lists) and never pays off for short requests.
            "options": f"-c jit=off -c statement_timeout={statement_timeout_ms}",
        }
    return options
