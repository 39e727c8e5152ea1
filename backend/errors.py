"""Domain errors and the one layer that turns every error into the API's JSON shape.

Models and services raise these; they know nothing of HTTP. ``register_error_handlers``
maps them (and werkzeug's, webargs' and the database's errors) onto flask-smorest's error body
``{"code", "status", "message", "errors"}`` so clients see one shape everywhere.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, jsonify
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of every error the domain raises; ``status_code`` picks the HTTP answer (422
    unless a subclass names another: ``class NotFound(DomainError, status_code=404)``)."""

    status_code: int = 422

    def __init_subclass__(cls, status_code: int | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if status_code is not None:
            cls.status_code = status_code

    def __init__(self, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


class BadRequest(DomainError, status_code=400):
    """A request that cannot be used as sent."""


class Unauthorized(DomainError, status_code=401):
    pass


class Forbidden(DomainError, status_code=403):
    pass


class NotFound(DomainError, status_code=404):
    pass


class Conflict(DomainError, status_code=409):
    """The change would duplicate something unique."""


class PayloadTooLarge(DomainError, status_code=413):
    """More bytes than the service accepts."""


class ServiceUnavailable(DomainError, status_code=503):
    """A dependency (database, registry...) cannot be reached right now."""


class InvalidArguments(DomainError):
    """Arguments that are individually valid but do not make sense together."""


class InvalidState(DomainError):
    """The item is not in a state that allows the operation (approve an approved item...)."""


class AlreadyApproved(InvalidState):
    pass


class SchemaViolation(DomainError):
    """A result document does not satisfy its benchmark's JSON Schema."""


class InvalidJsonSchema(DomainError):
    """A benchmark's ``json_schema`` is not a valid JSON Schema."""


class ImageNotFound(DomainError):
    """The benchmark's container image:tag does not exist in its registry."""


def error_body(code: int, message: str, errors: dict[str, Any] | None = None) -> dict:
    body: dict[str, Any] = {"code": code, "status": HTTPStatus(code).phrase, "message": message}
    if errors:
        body["errors"] = errors
    return body


def register_error_handlers(app: Flask) -> None:
    """Install the handlers that give every failure the same JSON body."""

    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError):
        response = jsonify(error_body(error.status_code, error.message, error.errors))
        if error.status_code == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return response, error.status_code

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException):
        code = error.code or 500
        data = getattr(error, "data", None) or {}
        errors = data.get("messages")
        message = data.get("message") or error.description or HTTPStatus(code).phrase
        if errors and code == 422:
            message = "The request arguments are invalid: " + _summarize(errors)
        response = jsonify(error_body(code, message, errors))
        # Keep the headers the status requires (Allow on 405, Retry-After on 429...).
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        return response, code

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        logger.exception("Unhandled error")
        return jsonify(
            error_body(500, "Internal server error; this is a bug, please report it.")
        ), 500

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def handle_database_error(error: Exception):
        """A database that is down, restarting or saturated is a 503 the client may retry,
        not a bug (500); any other database error is one."""
        if not database_unavailable(error):
            return handle_unexpected(error)
        logger.warning("Database unavailable: %s", first_line(error))
        return jsonify(
            error_body(503, "The database is unavailable right now; please retry shortly.")
        ), 503


#: SQLSTATE classes that mean "not now" rather than "never": connection exception,
#: transaction rollback (deadlock, serialization), insufficient resources (too many
#: connections), operator intervention (shutdown, starting up, statement timeout).
_RETRYABLE_SQLSTATE_CLASSES = {"08", "40", "53", "57"}
_RETRYABLE_SQLITE_ERRORS = {"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN"}


def database_unavailable(error: BaseException) -> bool:
    """Whether a database error says the database cannot serve right now (503).

    DB-API's OperationalError also covers lasting faults (a value too large for an index,
    SQLite's "no such table"), which stay 500s: retrying would not help.
    """
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError):
        return False
    sqlstate = getattr(error.orig, "pgcode", None)
    if sqlstate is not None:
        return sqlstate[:2] in _RETRYABLE_SQLSTATE_CLASSES
    sqlite_error = getattr(error.orig, "sqlite_errorname", None)
    if sqlite_error is not None:
        return sqlite_error in _RETRYABLE_SQLITE_ERRORS
    return True  # no SQLSTATE: the driver could not reach the server


def first_line(error: BaseException) -> str:
    """The first line of an error's message (database errors append SQL and a link)."""
    return next(iter(str(error).splitlines()), type(error).__name__)


def _summarize(errors: dict[str, Any]) -> str:
    """Flatten webargs' nested ``{location: {field: [messages]}}`` into one readable line."""
    parts: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list):
            texts = [v for v in value if isinstance(v, str)]
            if texts:
                parts.append(f"{prefix}: {' '.join(texts)}")
            for item in value:
                if not isinstance(item, str):
                    walk(prefix, item)
        else:
            parts.append(f"{prefix}: {value}")

    for location, fields in errors.items():
        walk(
            "",
            fields
            if location in {"query", "json", "path", "headers", "form"}
            else {location: fields},
        )
    return "; ".join(parts) if parts else "see errors"
