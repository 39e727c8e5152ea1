"""The application factory, built from small named steps."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from backend import bearer_tokens, notifications, response_cache, settings
from backend.db_connections import ping_after_idle
from backend.errors import register_error_handlers
from backend.extensions import api, db, flaat, mail, migrate
from backend.json_provider import OrjsonProvider
from backend.middleware import register_middleware
from backend.observability import register_observability
from backend.read_routing import register_read_routing

API_TITLE = "EOSC Performance API"
API_VERSION = "1.3.0"


def create_app(config: dict[str, Any] | None = None, **overrides: Any) -> Flask:
    """Build an app from the environment's settings, then ``config`` and ``overrides``.

    Tests and tools pass overrides; production passes nothing and uses the environment.
    """
    app = Flask(__name__, instance_relative_config=False)
    app.json = OrjsonProvider(app)
    app.config.update(settings.load())
    app.config.update(config or {}, **overrides)
    settings.finalize(app.config, app.instance_path)
    configure_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    register_observability(app)
    register_middleware(app)
    register_read_routing(app)
    return app


def configure_logging(app: Flask) -> None:
    logging.getLogger("backend").setLevel(app.config["LOG_LEVEL"].upper())


def register_extensions(app: Flask) -> None:
    app.config.update(
        API_TITLE=API_TITLE,
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="api-spec.json",
        FLAAT_REQUEST_TIMEOUT=app.config["OIDC_REQUEST_TIMEOUT"],
        # backend.bearer_tokens verifies JWTs (signature, claims, leeway) before flaat sees
        # them; flaat's own verification would contact the issuer without these timeouts.
        FLAAT_VERIFY_JWT=False,
        API_SPEC_OPTIONS={
            "info": {
                "description": "Store, validate and compare benchmark results from cloud "
                "sites, VM flavors and ML systems. Drop-in compatible with the EOSC "
                "Performance API v1.",
            },
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                }
            },
        },
    )
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            ping_after_idle(engine, app.config["DB_PING_AFTER_IDLE"])
    migrate.init_app(app, db, directory=app.config["MIGRATIONS_DIR"])
    flaat.init_app(app)
    app.config["TRUSTED_OP_LIST"] = list(app.config["TRUSTED_OP_LIST"])
    mail.init_app(app)
    notifications.init_app(app)
    response_cache.init_app(app)
    bearer_tokens.init_app(app)
    api.init_app(app)


def register_blueprints(app: Flask) -> None:
    from backend.routes import API_BLUEPRINTS, docs, health
    from backend.routes.blueprint import ExperimentIdConverter, UUIDConverter

    app.url_map.converters["uuid"] = UUIDConverter
    api.register_converter(UUIDConverter, lambda converter: {"type": "string", "format": "uuid"})
    app.url_map.converters["experiment"] = ExperimentIdConverter
    api.register_converter(
        ExperimentIdConverter,
        lambda converter: {"type": "string", "minLength": 1, "maxLength": converter.max_length},
    )

    for blueprint in API_BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(health.blp)
    app.register_blueprint(docs.blp)


def register_commands(app: Flask) -> None:
    from backend.commands import register

    register(app)
