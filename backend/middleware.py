"""What stands between the reverse proxy, the browser and the views.

- ``X-Forwarded-*`` headers are honoured only as far as ``PROXY_FIX_*`` says (werkzeug's
  ProxyFix), so behind a proxy the service sees the client's address and scheme and can live
  under a path prefix such as ``/api/v1``; the OpenAPI document's ``servers`` entry then
  names that prefix, so Swagger UI's "Try it out" calls the right URLs.
- CORS for the origins in ``CORS_ORIGINS`` (none by default). A few lines rather than
  flask-cors: the API needs one policy for every path (bearer tokens, no cookies), and this
  way it is all in view.
- A body over ``MAX_CONTENT_LENGTH`` is a 413. A chunked one (no Content-Length) is read
  here, at most one byte past the limit: werkzeug stops such a stream at the limit
  without an error, so the parser saw a truncated body and answered 400 "Invalid JSON
  body". A view marked with ``@body_limit("SETTING")`` (large latency lists, artifact
  uploads) gets ``app.config["SETTING"]`` instead; ``@body_limit(None)`` leaves the body
  to a view that streams it and counts as it reads.
- Security headers on every response; the CSP allows exactly what the locally served
  Swagger UI needs (its scripts and styles from this origin, plus the inline styles it
  injects at run time).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import IO, TypeVar

from flask import Flask, Request, Response, current_app, json, request
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from backend.extensions import api

SPEC_ENDPOINT = "api-docs.openapi_json"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}

View = TypeVar("View", bound=Callable)

CORS_ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
CORS_ALLOW_HEADERS = "Authorization, Content-Type, X-Request-ID"
CORS_EXPOSE_HEADERS = "X-Request-ID"
CORS_MAX_AGE_SECONDS = 600


def register_middleware(app: Flask) -> None:
    """Proxy headers, no cookie sessions, body size, CORS, security headers and the
    prefix-aware OpenAPI document."""
    trust_proxy_headers(app)
    app.session_interface = NoCookieSessions()
    limit_body_size(app)
    allow_cross_origin_requests(app)
    add_security_headers(app)
    serve_spec_with_servers(app)


class NoCookieSessions(SessionInterface):
    """Flask's session, always empty and never sent: callers authenticate with bearer
    tokens, and nothing here reads ``flask.session``. Flask's cookie sessions built a
    signing serializer and parsed the Cookie header on every request (about 25 us)."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin:
        return self.make_null_session(app)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


def trust_proxy_headers(app: Flask) -> None:
    """Wrap the WSGI app in ProxyFix when any PROXY_FIX_* count is set."""
    counts = {
        argument: app.config[f"PROXY_FIX_{argument.upper()}"]
        for argument in ("x_for", "x_proto", "x_host", "x_port", "x_prefix")
    }
    if any(counts.values()):
        app.wsgi_app = ProxyFix(app.wsgi_app, **counts)  # type: ignore[method-assign]


def body_limit(setting: str | None) -> Callable[[View], View]:
    """Mark a view (function or MethodView method) whose body may exceed MAX_CONTENT_LENGTH.

    ``setting`` names the config key holding its limit in bytes; ``None`` means the view
    streams the body itself and enforces its own limit as it reads (no limit is applied
    here, and a chunked body stays a stream).
    """

    def mark(view: View) -> View:
        view.body_limit_setting = setting  # type: ignore[attr-defined]
        return view

    return mark


UNMARKED = object()


def body_limit_of_request() -> tuple[int | None, str]:
    """The body limit in bytes for the current request and the setting it comes from: the
    matched view's own, if marked with ``body_limit``, else MAX_CONTENT_LENGTH; None when
    nothing is to be enforced here."""
    config = current_app.config
    view = current_app.view_functions.get(request.endpoint or "")
    setting = getattr(view, "body_limit_setting", UNMARKED)
    view_class = getattr(view, "view_class", None)
    if setting is UNMARKED and view_class is not None:
        method = getattr(view_class, request.method.lower(), None)
        setting = getattr(method, "body_limit_setting", UNMARKED)
    if setting is UNMARKED:
        return config["MAX_CONTENT_LENGTH"], "MAX_CONTENT_LENGTH"
    if setting is None:
        return None, "the view's own limit"
    return config[setting], setting


def limit_body_size(app: Flask) -> None:
    """A body over its limit (MAX_CONTENT_LENGTH, or the view's own: ``body_limit``) is a
    413 before anything else, whether its Content-Length says so or it comes chunked; a
    chunked one within the limit reaches the views as a body with a Content-Length (at most
    the limit, which the JSON parser would hold in memory anyway)."""

    @app.before_request
    def refuse_large_bodies() -> None:
        environ = request.environ
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not chunked and not request.content_length:
            return  # no body (most requests): no limit to look up
        limit, name = body_limit_of_request()
        # Flask and werkzeug check request.max_content_length again when they read the
        # body; None there would mean MAX_CONTENT_LENGTH, so a streaming view gets maxsize.
        request.max_content_length = sys.maxsize if limit is None else limit
        if limit is None:
            return
        too_large = f"The request body is larger than {limit:,} bytes ({name})."
        if request.content_length is not None:
            if request.content_length > limit:
                raise RequestEntityTooLarge(too_large)
            return
        if not chunked:
            return
        body = read_at_most(environ["wsgi.input"], limit + 1)
        if len(body) > limit:
            raise RequestEntityTooLarge(too_large)
        del environ["HTTP_TRANSFER_ENCODING"]
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)


def read_at_most(stream: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes of ``stream``, fewer only at its end (a read may return less)."""
    chunks = []
    while size > 0:
        chunk = stream.read(min(size, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def allow_cross_origin_requests(app: Flask) -> None:
    """Answer preflights and add CORS headers for the origins in CORS_ORIGINS."""
    origins = {origin.rstrip("/") for origin in app.config["CORS_ORIGINS"]}
    if not origins:
        return

    def allowed(origin: str | None) -> bool:
        return bool(origin) and ("*" in origins or origin in origins)

    @app.before_request
    def answer_preflight() -> Response | None:
        is_preflight = (
            request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
        )
        if not is_preflight or request.url_rule is None:
            return None
        if not allowed(request.headers.get("Origin")):
            return None
        response = current_app.make_response(("", 204))
        response.headers["Access-Control-Allow-Methods"] = CORS_ALLOW_METHODS
        response.headers["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = str(CORS_MAX_AGE_SECONDS)
        return response

    @app.after_request
    def add_cors_headers(response: Response) -> Response:
        response.vary.add("Origin")
        origin = request.headers.get("Origin")
        if allowed(origin):
            response.headers["Access-Control-Allow-Origin"] = "*" if "*" in origins else origin
            response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE_HEADERS
        return response


def add_security_headers(app: Flask) -> None:
    """Set SECURITY_HEADERS on every response that does not set them itself.

    One pass over the response's headers: ``Headers.setdefault`` scans them per name and
    raises a KeyError for each one missing, about 40 us a response (5% of a result's)."""
    lowered = [(name.lower(), name, value) for name, value in SECURITY_HEADERS.items()]

    @app.after_request
    def set_security_headers(response: Response) -> Response:
        headers = response.headers
        present = {name.lower() for name, _ in headers}
        for lower, name, value in lowered:
            if lower not in present:
                headers.add(name, value)
        return response


def serve_spec_with_servers(app: Flask) -> None:
    """Serve the OpenAPI document with ``servers`` naming the prefix the request came by.

    flask-smorest builds the document once and serves it as is; this replaces its view with
    one that adds ``servers: [{"url": <script root>}]`` per request (a relative URL, so
    scheme and host stay whatever the client used), on a copy of the document built once.
    """
    spec = api.spec
    document: dict = {}

    def openapi_json() -> Response:
        if not document:
            document.update(spec.to_dict())
        body = {**document, "servers": [{"url": request.script_root or "/"}]}
        return current_app.response_class(
            json.dumps(body, indent=2, sort_keys=False), mimetype="application/json"
        )

    app.view_functions[SPEC_ENDPOINT] = openapi_json
