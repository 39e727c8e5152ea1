"""A small, real OpenID Connect issuer for local development and tests.

Why it exists: the service authenticates users with flaat, which verifies an
access token against the issuer named in its ``iss`` claim (discovery
document, JWKS and userinfo, all over HTTPS). Mocking flaat would hide exactly
the parts that break in production, so this module runs a genuine issuer on
localhost instead:

* a private CA signs the server certificate, so TLS is verified for real;
  clients trust it by pointing ``REQUESTS_CA_BUNDLE`` and ``SSL_CERT_FILE`` at
  :attr:`LocalIssuer.ca_bundle` (private CA + the usual public CAs);
* access tokens are RS256 JWTs that flaat verifies through the JWKS endpoint;
* keys and certificates persist in a state directory, so tokens minted before
  a restart stay valid when the issuer comes back on the same port.

There is no login flow: tokens come from :meth:`LocalIssuer.mint` or the
``mint`` command below.

The issuer is never trusted implicitly: nothing here touches the app's
configuration. The service only accepts its tokens when its URL is listed in
``TRUSTED_OP_LIST``.

CLI::

    python -m backend.devtools.oidc_issuer serve --state-dir DIR [--port N]
    python -m backend.devtools.oidc_issuer mint --state-dir DIR --url URL --sub SUB \\
        [--email E] [--entitlement X ...] [--expires-in S]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import hashlib
import ipaddress
import json
import logging
import os
import secrets
import signal
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Collection, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import jwt
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"
DEFAULT_AUDIENCE = "eosc-performance"
DEFAULT_SCOPE = "openid email profile eduperson_entitlement"

# Files kept in state_dir. Private keys are written with mode 0600.
CA_KEY_FILE = "ca_key.pem"
CA_CERT_FILE = "ca_cert.pem"
SERVER_KEY_FILE = "server_key.pem"
SERVER_CERT_FILE = "server_cert.pem"
SIGNING_KEY_FILE = "signing_key.pem"
CA_BUNDLE_FILE = "ca_bundle.pem"

# Names the server certificate always covers, whatever host is served.
_DEFAULT_CERT_HOSTS = ("localhost", "127.0.0.1", "::1")
_SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

# Token claims the userinfo endpoint echoes back (when present in the token).
_USERINFO_CLAIMS = (
    "sub",
    "iss",
    "email",
    "email_verified",
    "eduperson_entitlement",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
)


# --------------------------------------------------------------------------
# Key and certificate material
# --------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _load_rsa_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError(f"{path} does not hold an RSA private key")
    return key


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write via temp file + rename, so a concurrent reader never sees half a PEM."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """Serialise key generation between processes sharing a state_dir (e.g. xdist workers)."""
    with open(state_dir / ".lock", "a+b") as fh:
        if fcntl is not None:
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _issue_ca(key: rsa.RSAPrivateKey) -> x509.Certificate:
    # A random suffix keeps CAs of different state dirs apart by name, so a
    # bundle trusting one of them never "almost" matches another.
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "eosc-performance local development"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Local OIDC issuer CA {secrets.token_hex(4)}"),
        ]
    )
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _issue_server_cert(
    key: rsa.RSAPrivateKey,
    ca_key: rsa.RSAPrivateKey,
    ca_cert: x509.Certificate,
    hosts: list[str],
) -> x509.Certificate:
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=397))
        .add_extension(
            x509.SubjectAlternativeName([_general_name(h) for h in hosts]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _cert_covers(cert: x509.Certificate, host: str) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    try:
        return ipaddress.ip_address(host) in san.get_values_for_type(x509.IPAddress)
    except ValueError:
        return host.lower() in (name.lower() for name in san.get_values_for_type(x509.DNSName))


def _still_valid(cert: x509.Certificate, margin: dt.timedelta) -> bool:
    return cert.not_valid_after_utc - _now() > margin


def _public_jwk(key: rsa.RSAPrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()

    def encode(n: int) -> str:
        return _b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "n": encode(numbers.n), "e": encode(numbers.e)}


def _jwk_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 SHA-256 thumbprint: a kid that is stable for as long as the key is."""
    canonical = json.dumps(
        {name: jwk[name] for name in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True
    )
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def _system_ca_bundle() -> Path | None:
    try:
        import certifi
    except ImportError:
        pass
    else:
        return Path(certifi.where())
    return _SYSTEM_CA_BUNDLE if _SYSTEM_CA_BUNDLE.is_file() else None


# --------------------------------------------------------------------------
# HTTPS server
# --------------------------------------------------------------------------


class _HTTPSServer(ThreadingHTTPServer):
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
    server: _HTTPSServer
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
            self._send_json(200, issuer._discovery_document())
        elif path == "/jwks":
            self._send_json(200, {"keys": [issuer._jwk]})
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
            claims = self.server.issuer._verify(token)
        except jwt.PyJWTError as e:
            self._send_json(
                401,
                {"error": "invalid_token", "error_description": str(e)},
                {"WWW-Authenticate": f'{realm}, error="invalid_token"'},
            )
            return
        self._send_json(200, {k: claims[k] for k in _USERINFO_CLAIMS if k in claims})

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


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


class LocalIssuer:
    """A local OIDC issuer (discovery, JWKS, userinfo) over verified HTTPS.

    Key material lives in ``state_dir`` and is created on first use, so a new
    instance on the same state_dir and port is the same issuer as far as
    clients are concerned: same CA, same signing key (and kid), same ``iss``.
    Pass ``port`` explicitly when tokens must outlive a restart; ``port=0``
    picks a free port at :meth:`start` (and keeps it for later ``start()``
    calls on this instance).
    """

    def __init__(self, state_dir: str | Path, host: str = "127.0.0.1", port: int = 0) -> None:
        """Load the key material in ``state_dir``, creating whatever is missing."""
        self.state_dir = Path(state_dir).resolve()
        self.host = host
        self._port = port
        self._server: _HTTPSServer | None = None
        self._thread: threading.Thread | None = None

        self.ca_file: Path = self.state_dir / CA_CERT_FILE
        """PEM of the private CA that signed the server certificate."""
        self.ca_bundle: Path = self.state_dir / CA_BUNDLE_FILE
        """Private CA + system CAs: point REQUESTS_CA_BUNDLE and SSL_CERT_FILE here."""
        self._server_key_file = self.state_dir / SERVER_KEY_FILE
        self._server_cert_file = self.state_dir / SERVER_CERT_FILE

        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _locked(self.state_dir):
            ca_key, ca_cert = self._load_or_create_ca()
            self._ensure_server_cert(ca_key, ca_cert)
            self._signing_key = self._load_or_create_signing_key()
            self._write_ca_bundle(ca_cert)

        jwk = _public_jwk(self._signing_key)
        self.kid: str = _jwk_thumbprint(jwk)
        """Key id of the signing key (its RFC 7638 thumbprint)."""
        self._jwk = {**jwk, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    # -- state ---------------------------------------------------------------

    def _load_or_create_ca(self) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
        key_file = self.state_dir / CA_KEY_FILE
        try:
            key = _load_rsa_key(key_file)
            cert = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
            if cert.public_key() == key.public_key() and _still_valid(cert, dt.timedelta(0)):
                return key, cert
        except (OSError, ValueError, TypeError):
            pass
        logger.info("Creating a new local CA in %s", self.state_dir)
        key = _new_rsa_key()
        cert = _issue_ca(key)
        _write_atomic(key_file, _key_pem(key), mode=0o600)
        _write_atomic(self.ca_file, _cert_pem(cert))
        return key, cert

    def _ensure_server_cert(self, ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate) -> None:
        """Reuse the server certificate unless it no longer fits (new CA, host, expiry)."""
        try:
            key = _load_rsa_key(self._server_key_file)
            cert = x509.load_pem_x509_certificate(self._server_cert_file.read_bytes())
            cert.verify_directly_issued_by(ca_cert)
            if (
                cert.public_key() == key.public_key()
                and _cert_covers(cert, self.host)
                and _still_valid(cert, dt.timedelta(days=1))
            ):
                return
        except (OSError, ValueError, TypeError, InvalidSignature):
            pass
        hosts = list(_DEFAULT_CERT_HOSTS)
        if self.host not in hosts:
            hosts.append(self.host)
        key = _new_rsa_key()
        cert = _issue_server_cert(key, ca_key, ca_cert, hosts)
        _write_atomic(self._server_key_file, _key_pem(key), mode=0o600)
        _write_atomic(self._server_cert_file, _cert_pem(cert))

    def _load_or_create_signing_key(self) -> rsa.RSAPrivateKey:
        path = self.state_dir / SIGNING_KEY_FILE
        if path.exists():
            # Deliberately no silent regeneration: that would invalidate every
            # token minted so far, so a broken file should fail loudly.
            return _load_rsa_key(path)
        key = _new_rsa_key()
        _write_atomic(path, _key_pem(key), mode=0o600)
        return key

    def _write_ca_bundle(self, ca_cert: x509.Certificate) -> None:
        data = _cert_pem(ca_cert)
        system = _system_ca_bundle()
        if system is not None:
            data += b"\n" + system.read_bytes()
        if not self.ca_bundle.exists() or self.ca_bundle.read_bytes() != data:
            _write_atomic(self.ca_bundle, data)

    # -- serving -------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port; 0 until start() when the issuer was created with port=0."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL without trailing slash; it is also the ``iss`` claim."""
        if self._port == 0:
            raise RuntimeError("Port not chosen yet: call start() or pass port explicitly")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self._port}"

    def start(self) -> LocalIssuer:
        """Serve HTTPS in a daemon thread, so tests need no extra process; returns self."""
        if self._server is not None:
            return self
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self._server_cert_file, self._server_key_file)
        server = _HTTPSServer((self.host, self._port), self, context)
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"oidc-issuer-{self._port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("Local OIDC issuer listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and free the port (safe to call twice)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- tokens --------------------------------------------------------------

    def mint(
        self,
        sub: str,
        *,
        email: str | None = None,
        email_verified: bool = True,
        entitlements: list[str] | None = None,
        expires_in: int = 3600,
        issued_at: int | None = None,
        extra_claims: dict[str, Any] | None = None,
        omit_claims: Collection[str] = (),
    ) -> str:
        """Return an RS256 JWT access token issued by this issuer (``iss`` = :attr:`url`).

        email/email_verified/eduperson_entitlement go into the token itself so
        that flaat sees them even without the userinfo endpoint. A negative
        ``expires_in`` gives an already expired token. ``issued_at`` (Unix
        seconds, default now) sets ``iat`` and ``nbf``, and ``exp`` counts from
        it: a token from an issuer whose clock is ahead or behind.
        ``extra_claims`` are applied last and may override any claim (e.g.
        ``aud``); ``omit_claims`` are removed after that (a token without
        ``exp`` or ``sub``).
        """
        return self._mint_for(
            self.url,
            sub,
            email=email,
            email_verified=email_verified,
            entitlements=entitlements,
            expires_in=expires_in,
            issued_at=issued_at,
            extra_claims=extra_claims,
            omit_claims=omit_claims,
        )

    def _mint_for(
        self,
        iss: str,
        sub: str,
        *,
        email: str | None = None,
        email_verified: bool = True,
        entitlements: list[str] | None = None,
        expires_in: int = 3600,
        issued_at: int | None = None,
        extra_claims: dict[str, Any] | None = None,
        omit_claims: Collection[str] = (),
    ) -> str:
        now = int(time.time()) if issued_at is None else issued_at
        claims: dict[str, Any] = {
            "iss": iss,
            "sub": sub,
            # The service checks aud only when its OIDC_AUDIENCE is set.
            "aud": DEFAULT_AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + expires_in,
            "jti": secrets.token_urlsafe(16),
            "scope": DEFAULT_SCOPE,
        }
        if email is not None:
            claims["email"] = email
            claims["email_verified"] = email_verified
        if entitlements is not None:
            claims["eduperson_entitlement"] = list(entitlements)
        if extra_claims:
            claims.update(extra_claims)
        for name in omit_claims:
            claims.pop(name, None)
        return jwt.encode(claims, self._signing_key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def _verify(self, token: str) -> dict[str, Any]:
        """Check signature, expiry and iss of a token presented to /userinfo."""
        return jwt.decode(
            token,
            self._signing_key.public_key(),
            algorithms=[ALGORITHM],
            issuer=self.url,
            options={"verify_aud": False, "require": ["exp", "iat", "iss", "sub"]},
        )

    def _discovery_document(self) -> dict[str, Any]:
        url = self.url
        return {
            "issuer": url,
            "jwks_uri": f"{url}/jwks",
            "userinfo_endpoint": f"{url}/userinfo",
            # Required by OIDC Discovery. There is deliberately no
            # authorization/token endpoint: tokens only come from mint().
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "scopes_supported": DEFAULT_SCOPE.split(),
            "claims_supported": list(_USERINFO_CLAIMS),
        }


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m backend.devtools.oidc_issuer",
        description="Local OpenID Connect issuer for development and tests.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the issuer until killed")
    serve.add_argument("--state-dir", required=True, type=Path, help="keys and certificates")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default: %(default)s)")
    serve.add_argument("--port", type=int, default=0, help="default: any free port")
    serve.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")

    mint = commands.add_parser("mint", help="print an access token (no server needed)")
    mint.add_argument("--state-dir", required=True, type=Path, help="same as for serve")
    mint.add_argument("--url", required=True, help="issuer URL as printed by serve (the iss)")
    mint.add_argument("--sub", required=True)
    mint.add_argument("--email")
    mint.add_argument("--email-unverified", action="store_true", help="set email_verified to false")
    mint.add_argument(
        "--entitlement",
        dest="entitlements",
        action="extend",
        nargs="+",
        metavar="X",
        help="eduperson_entitlement value(s); repeatable",
    )
    mint.add_argument("--expires-in", type=int, default=3600, metavar="S", help="seconds")
    return parser


def _serve(args: argparse.Namespace) -> int:
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    issuer = LocalIssuer(args.state_dir, host=args.host, port=args.port).start()
    try:
        print(f"url={issuer.url}", flush=True)
        print(f"ca_bundle={issuer.ca_bundle}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        issuer.stop()
    return 0


def _mint(args: argparse.Namespace) -> int:
    if not (args.state_dir / SIGNING_KEY_FILE).exists():
        print(
            f"warning: no signing key in {args.state_dir} yet; creating one. "
            "Tokens verify only against an issuer served from this state dir.",
            file=sys.stderr,
        )
    issuer = LocalIssuer(args.state_dir)
    token = issuer._mint_for(
        args.url.rstrip("/"),
        args.sub,
        email=args.email,
        email_verified=not args.email_unverified,
        entitlements=args.entitlements,
        expires_in=args.expires_in,
    )
    print(token)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m backend.devtools.oidc_issuer``."""
    args = _build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _mint(args)


if __name__ == "__main__":
    sys.exit(main())
