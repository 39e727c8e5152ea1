"""A small, real OpenID Connect issuer for local development and tests.

Why it exists: the service authenticates users with flaat, which verifies an
access token against the issuer named in its ``iss`` claim (discovery
document, JWKS and userinfo, all over HTTPS). Mocking flaat would hide exactly
the parts that break in production, so this package runs a genuine issuer on
localhost instead:

* a private CA signs the server certificate, so TLS is verified for real;
  clients trust it by pointing ``REQUESTS_CA_BUNDLE`` and ``SSL_CERT_FILE`` at
  :attr:`LocalIssuer.ca_bundle` (private CA + the usual public CAs);
* access tokens are RS256 JWTs that flaat verifies through the JWKS endpoint;
* keys and certificates persist in a state directory, so tokens minted before
  a restart stay valid when the issuer comes back on the same port.

There is no login flow: tokens come from :meth:`LocalIssuer.mint` or the
``mint`` command.

The issuer is never trusted implicitly: nothing here touches the app's
configuration. The service only accepts its tokens when its URL is listed in
``TRUSTED_OP_LIST``.

CLI::

    python -m backend.devtools.oidc_issuer serve --state-dir DIR [--port N]
    python -m backend.devtools.oidc_issuer mint --state-dir DIR --url URL --sub SUB \\
        [--email E] [--entitlement X ...] [--expires-in S]

The package: ``material`` (the CA, server certificate and signing key in the state
directory), ``server`` (the HTTPS endpoints), ``issuer`` (:class:`LocalIssuer`: identity,
tokens, the server thread) and ``cli``.
"""

from backend.devtools.oidc_issuer.cli import main
from backend.devtools.oidc_issuer.issuer import (
    ALGORITHM,
    DEFAULT_AUDIENCE,
    DEFAULT_SCOPE,
    LocalIssuer,
)
from backend.devtools.oidc_issuer.material import (
    CA_BUNDLE_FILE,
    CA_CERT_FILE,
    CA_KEY_FILE,
    SERVER_CERT_FILE,
    SERVER_KEY_FILE,
    SIGNING_KEY_FILE,
)

__all__ = [
    "ALGORITHM",
    "CA_BUNDLE_FILE",
    "CA_CERT_FILE",
    "CA_KEY_FILE",
    "DEFAULT_AUDIENCE",
    "DEFAULT_SCOPE",
    "SERVER_CERT_FILE",
    "SERVER_KEY_FILE",
    "SIGNING_KEY_FILE",
    "LocalIssuer",
    "main",
]
