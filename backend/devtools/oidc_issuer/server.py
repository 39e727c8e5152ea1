"""The issuer's HTTPS server: discovery, JWKS and userinfo, TLS verified for real.

It knows HTTP only; what it answers comes from the :class:`LocalIssuer` it serves.
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jwt

if TYPE_CHECKING:
    from backend.devtools.oidc_issuer.issuer import LocalIssuer

logger = logging.getLogger(__name__)


def https_server(issuer: LocalIssuer, cert_file: Path, key_file: Path) -> HTTPSServer:
    """A server bound to the issuer's host and port (0: any free one), not serving yet."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return HTTPSServer((issuer.host, issuer.port), issuer, context)


class HTTPSServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that does TLS per connection, in the handler thread.

    The TLS handshake runs in the request thread (not in the accept loop), so a
    client that stalls or rejects the certificate cannot block other clients.
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], issuer: LocalIssuer, context: ssl.SSLContext):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.issuer = issuer
        self.ssl_context = context
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() calls socket.getfqdn(), a DNS lookup that can
        # take seconds on a badly configured machine; we don't need it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        tls_sock = self.ssl_context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        )
        return tls_sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that reject our certificate end up here; not worth stderr noise.
        logger.debug("Error handling request from %s", client_address, exc_info=sys.exc_info())


class _Handler(BaseHTTPRequestHandler):
    server: HTTPSServer
    timeout = 10  # seconds, also bounds the TLS handshake
    server_version = "LocalOIDCIssuer/1"
    sys_version = ""

    def setup(self) -> None:
        self.request.settimeout(self.timeout)
        self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        issuer = self.server.issuer
        path = urlsplit(self.path).path
        if path == "/.well-known/openid-configuration":
            self._send_json(200, issuer.discovery_document())
        elif path == "/jwks":
            self._send_json(200, {"keys": [issuer.jwk]})
        elif path == "/userinfo":
            self._userinfo()
        else:
            self._not_found()

    def do_POST(self) -> None:
        if urlsplit(self.path).path == "/userinfo":
            # OIDC Core 5.3.1: the userinfo endpoint must accept POST as well.
            self._discard_body()
            self._userinfo()
        else:
            self._not_found()

    def _not_found(self) -> None:
        """Every other method is a 404 too (instead of http.server's HTML 501)."""
        self._discard_body()
        if self.command == "HEAD":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send_json(404, {"error": "not_found"})

    do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _not_found

    def _discard_body(self) -> None:
        # Unread request bytes would make closing the connection reset it
        # before the client has read our response.
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if 0 < length <= 1 << 20:
            self.rfile.read(length)

    def _userinfo(self) -> None:
        realm = f'Bearer realm="{self.server.issuer.url}"'
        scheme, _, token = (self.headers.get("Authorization") or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            self._send_json(
                401,
                {"error": "invalid_request", "error_description": "Bearer token required"},
                {"WWW-Authenticate": realm},
            )
            return
        try:
            userinfo = self.server.issuer.userinfo(token)
        except jwt.PyJWTError as e:
            self._send_json(
                401,
                {"error": "invalid_token", "error_description": str(e)},
                {"WWW-Authenticate": f'{realm}, error="invalid_token"'},
            )
            return
        self._send_json(200, userinfo)

    def _send_json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
