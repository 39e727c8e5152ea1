"""The issuer itself: its identity (URL, signing key), its tokens and its server thread."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any, Self

import jwt

from backend.devtools.oidc_issuer.material import (
    CA_BUNDLE_FILE,
    CA_CERT_FILE,
    SERVER_CERT_FILE,
    SERVER_KEY_FILE,
    jwk_thumbprint,
    prepare_state,
    public_jwk,
)
from backend.devtools.oidc_issuer.server import HTTPSServer, https_server

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"
DEFAULT_AUDIENCE = "eosc-performance"
DEFAULT_SCOPE = "openid email profile eduperson_entitlement"

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
        self._server: HTTPSServer | None = None
        self._thread: threading.Thread | None = None

        self.ca_file: Path = self.state_dir / CA_CERT_FILE
        """PEM of the private CA that signed the server certificate."""
        self.ca_bundle: Path = self.state_dir / CA_BUNDLE_FILE
        """Private CA + system CAs: point REQUESTS_CA_BUNDLE and SSL_CERT_FILE here."""
        self._signing_key = prepare_state(self.state_dir, host)

        jwk = public_jwk(self._signing_key)
        self.kid: str = jwk_thumbprint(jwk)
        """Key id of the signing key (its RFC 7638 thumbprint)."""
        self.jwk: dict[str, str] = {**jwk, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}
        """The public signing key, as the JWKS endpoint lists it."""

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
        server = https_server(
            self, self.state_dir / SERVER_CERT_FILE, self.state_dir / SERVER_KEY_FILE
        )
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
        iss: str | None = None,
        email: str | None = None,
        email_verified: bool = True,
        entitlements: list[str] | None = None,
        expires_in: int = 3600,
        issued_at: int | None = None,
        extra_claims: dict[str, Any] | None = None,
        omit_claims: Collection[str] = (),
    ) -> str:
        """Return an RS256 JWT access token issued by this issuer (``iss`` = :attr:`url`).

        ``iss`` names the URL of this issuer served elsewhere from the same state dir
        (the ``mint`` command, which serves nothing). email/email_verified/
        eduperson_entitlement go into the token itself so that flaat sees them even
        without the userinfo endpoint. A negative ``expires_in`` gives an already
        expired token. ``issued_at`` (Unix seconds, default now) sets ``iat`` and
        ``nbf``, and ``exp`` counts from it: a token from an issuer whose clock is
        ahead or behind. ``extra_claims`` are applied last and may override any claim
        (e.g. ``aud``); ``omit_claims`` are removed after that (a token without ``exp``
        or ``sub``).
        """
        now = int(time.time()) if issued_at is None else issued_at
        claims: dict[str, Any] = {
            "iss": self.url if iss is None else iss,
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

    def userinfo(self, token: str) -> dict[str, Any]:
        """What /userinfo answers for ``token``: its user claims, once its signature, expiry
        and iss check out (else ``jwt.PyJWTError``)."""
        claims = jwt.decode(
            token,
            self._signing_key.public_key(),
            algorithms=[ALGORITHM],
            issuer=self.url,
            options={"verify_aud": False, "require": ["exp", "iat", "iss", "sub"]},
        )
        return {name: claims[name] for name in _USERINFO_CLAIMS if name in claims}

    def discovery_document(self) -> dict[str, Any]:
        """The OIDC Discovery document (``/.well-known/openid-configuration``)."""
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
