"""Bearer tokens: the one place that reads the Authorization header and decides whether a
token's claims are acceptable, before flaat looks the caller up at the identity provider.

Why it is not left to flaat (1.3.1): flaat removes every ``Bearer `` it finds in the header,
fetches the discovery document and keys of whatever issuer a JWT names *before* it checks
that the issuer is trusted, with its own timeouts (5 s per discovery URL, 30 s for the keys)
whatever ``FLAAT_REQUEST_TIMEOUT`` says, verifies without leeway (a token issued 2 s "in the
future" was a 500), accepts HMAC algorithms (a 500 with an RSA key), and requires neither
``exp`` nor ``sub`` nor an audience. So here:

- the header is parsed once, strictly, and only that token goes further;
- a JWT must name a trusted issuer (compared with ``TRUSTED_OP_LIST``, no network), then is
  verified with PyJWT against that issuer's published keys (discovery through flaat's
  ``IssuerConfig``, keys through PyJWT's caching JWKS client, both with
  ``OIDC_REQUEST_TIMEOUT``): asymmetric algorithms only, ``exp``/``iss``/``sub`` required,
  ``aud`` when ``OIDC_AUDIENCE`` is set, ``OIDC_CLOCK_SKEW_SECONDS`` of leeway;
- flaat, configured with ``FLAAT_VERIFY_JWT=False`` (the signature is checked above), gets
  only that token to add the userinfo claims, and asks the trusted issuers about opaque
  (non-JWT) tokens;
- every call that may reach an identity provider holds one of
  ``OIDC_MAX_CONCURRENT_REQUESTS`` per-process slots; a request that gets none within
  ``OIDC_QUEUE_TIMEOUT`` is answered 503, so a hanging provider cannot take every worker.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
from flaat.exceptions import FlaatException
from flaat.issuers import IssuerConfig
from flaat.user_infos import UserInfos
from flask import current_app

from backend.errors import ServiceUnavailable, Unauthorized
from backend.extensions import flaat
from backend.lru_cache import LruCache
from backend.models.user import issuer_key

#: Checked tokens each worker remembers (a few hundred bytes each).
CHECKED_TOKENS_KEPT = 4096

#: ``Bearer`` (any case), one space, one token of base64url/JWT characters (RFC 6750's b64token).
_AUTHORIZATION = re.compile(r"(?i:bearer) ([A-Za-z0-9._~+/=-]+)")

#: Asymmetric signatures only: an HMAC "signature" keyed with the issuer's public key is
#: the classic forgery, and "none" is none.
ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"
)  # fmt: skip
#: The JWK key type each algorithm family needs (by the algorithm's first two letters).
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}

#: Longest accepted subject: the users table's column.
MAX_SUBJECT_LENGTH = 255
_UNUSABLE_SUBJECT = (
    f"The access token has no usable subject (sub: a string of 1 to {MAX_SUBJECT_LENGTH} "
    "characters)"
)


def token_from_header(header: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; 401 for anything else."""
    if not header:
        raise Unauthorized("No access token")
    match = _AUTHORIZATION.fullmatch(header)
    if match is None:
        raise Unauthorized(
            "The Authorization header is malformed: it must be the word Bearer, one space and "
            "one token (letters, digits and -._~+/=)"
        )
    return match.group(1)


def user_infos(header: str) -> UserInfos:
    """Everything known about the caller of a request with this Authorization header:
    verified token claims plus the issuer's userinfo. 401 for an unacceptable token, 503 when
    the identity provider cannot answer now.

    A token that passed is remembered by this worker for OIDC_TOKEN_CACHE_SECONDS (never
    past its ``exp``): a notebook's or a frontend's next requests then cost neither a
    signature check nor a userinfo round trip (about 4 ms, and a slot, each time). Only
    exactly the same token string hits, so nothing is taken on trust that was not checked.
    """
    token = token_from_header(header)
    cache = current_app.extensions.get("backend.checked_tokens")
    key = hashlib.sha256(token.encode()).digest()
    remembered = cache.get(key) if cache is not None else None
    if remembered is not None:
        valid_until, infos = remembered
        if time.time() < valid_until:
            return infos
        cache.discard(key)
    infos, expires_at = _check_token(token)
    seconds = current_app.config["OIDC_TOKEN_CACHE_SECONDS"]
    if cache is not None and seconds > 0:
        cache.put(key, (min(time.time() + seconds, expires_at), infos))
    return infos


def init_app(app: Any) -> None:
    """The per-worker memory of checked tokens (bounded: tokens are callers' input)."""
    if app.config["OIDC_TOKEN_CACHE_SECONDS"] > 0:
        app.extensions["backend.checked_tokens"] = LruCache(CHECKED_TOKENS_KEPT)


def _check_token(token: str) -> tuple[UserInfos, float]:
    """The caller's infos and until when the token is valid (Unix time)."""
    unverified = _unverified_jwt(token)
    issuer = None if unverified is None else _trusted_issuer(unverified["payload"])
    with identity_provider_slot():
        claims = None if issuer is None else _verified_claims(token, unverified, issuer)
        try:
            infos = flaat.get_user_infos_from_access_token(token)
        except FlaatException as error:
            raise Unauthorized(str(error)) from None
    if infos is None:
        raise Unauthorized("No trusted identity provider knows this access token")
    _check_user_infos(infos, claims)
    if claims is not None:
        return infos, float(claims["exp"])
    valid_for = infos.valid_for_secs
    return infos, time.time() + (valid_for if valid_for is not None else 0.0)


@contextmanager
def identity_provider_slot() -> Iterator[None]:
    """Hold one of the process's OIDC_MAX_CONCURRENT_REQUESTS slots for calls to identity
    providers; 503 after OIDC_QUEUE_TIMEOUT without one."""
    config = current_app.config
    slots = current_app.extensions.setdefault(
        "identity_provider_slots",
        threading.BoundedSemaphore(config["OIDC_MAX_CONCURRENT_REQUESTS"]),
    )
    if not slots.acquire(timeout=config["OIDC_QUEUE_TIMEOUT"]):
        raise ServiceUnavailable(
            "Too many access tokens are being checked with the identity provider right now; "
            "please retry shortly."
        )
    try:
        yield
    finally:
        slots.release()


def _unverified_jwt(token: str) -> dict[str, Any] | None:
    """Header and payload of a JWT, unverified; None for an opaque token (as flaat decides:
    what PyJWT cannot decode)."""
    try:
        return jwt.api_jwt.decode_complete(token, options={"verify_signature": False})
    except jwt.DecodeError:
        return None
    except jwt.PyJWTError as error:
        raise Unauthorized(f"The access token is malformed: {error}") from None


def _trusted_issuer(payload: dict[str, Any]) -> str:
    """The TRUSTED_OP_LIST entry the token's ``iss`` names; 401 (without contacting anybody)
    if it names none. Later requests go to the configured URL, never to the token's text."""
    claimed = payload.get("iss")
    if not isinstance(claimed, str) or not claimed:
        raise Unauthorized("The access token names no issuer (iss)")
    trusted = current_app.config["TRUSTED_OP_LIST"]
    if issuer_key(claimed) not in trusted:
        raise Unauthorized(f"The token's issuer {claimed[:200]!r} is not trusted")
    return issuer_key(claimed)


def _verified_claims(token: str, unverified: dict[str, Any], issuer: str) -> dict[str, Any]:
    """The token's claims once its signature, algorithm, times, audience and required claims
    are checked against the issuer's published keys."""
    config = current_app.config
    algorithm = unverified["header"].get("alg")
    if algorithm not in ALGORITHMS:
        raise Unauthorized(
            f"The token's signing algorithm {str(algorithm)[:20]!r} is not accepted "
            f"(accepted: {', '.join(ALGORITHMS)})"
        )
    key = _signing_key(issuer, unverified["header"], algorithm)
    audience = config["OIDC_AUDIENCE"] or None
    try:
        return jwt.decode(
            token,
            key.key,
            algorithms=[algorithm],
            audience=audience,
            issuer=unverified["payload"]["iss"],
            leeway=config["OIDC_CLOCK_SKEW_SECONDS"],
            options={"require": ["exp", "iss", "sub"], "verify_aud": audience is not None},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The access token has expired; get a new one") from None
    except jwt.ImmatureSignatureError:
        raise Unauthorized(
            "The access token is not yet valid (iat/nbf in the future, beyond the "
            f"{config['OIDC_CLOCK_SKEW_SECONDS']} s of clock skew allowed)"
        ) from None
    except jwt.MissingRequiredClaimError as error:
        raise Unauthorized(f"The access token has no '{error.claim}' claim") from None
    except jwt.exceptions.InvalidSubjectError:
        raise Unauthorized(_UNUSABLE_SUBJECT) from None
    except jwt.InvalidAudienceError:
        raise Unauthorized(
            f"The access token is not meant for this service (its aud must contain {audience!r})"
        ) from None
    except jwt.PyJWTError as error:
        raise Unauthorized(f"The access token could not be verified: {error}") from None


def _signing_key(issuer: str, header: dict[str, Any], algorithm: str) -> jwt.PyJWK:
    """The issuer's public key that signed the token: by ``kid``, or the only key of the
    algorithm's type when the token names none. 503 if the issuer cannot be reached."""
    timeout = current_app.config["OIDC_REQUEST_TIMEOUT"]
    config = IssuerConfig.get_from_string(issuer, timeout=timeout, verify_tls=flaat.verify_tls)
    jwks_uri = None if config is None else config.issuer_config.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not jwks_uri:
        raise ServiceUnavailable(
            f"The identity provider {issuer} cannot be reached or publishes no keys right now; "
            "please retry shortly."
        )
    client = _jwks_client(jwks_uri, timeout)
    kid = header.get("kid")
    try:
        if kid is not None:
            key = client.get_signing_key(str(kid))
        else:
            key = _only_key_of_type(client, _KEY_TYPES[algorithm[:2]])
    except jwt.PyJWKClientConnectionError:
        raise ServiceUnavailable(
            f"The keys of the identity provider {issuer} cannot be fetched right now; "
            "please retry shortly."
        ) from None
    except jwt.PyJWKClientError as error:
        raise Unauthorized(f"The access token's signing key is unknown: {error}") from None
    if key.key_type != _KEY_TYPES[algorithm[:2]]:
        raise Unauthorized(f"The token's algorithm {algorithm} does not fit its key ({kid})")
    return key


def _only_key_of_type(client: jwt.PyJWKClient, key_type: str) -> jwt.PyJWK:
    keys = [
        key
        for key in client.get_jwk_set().keys
        if key.public_key_use in ("sig", None) and key.key_type == key_type
    ]
    if len(keys) != 1:
        raise jwt.PyJWKClientError("the token names no key (kid) and the issuer has several")
    return keys[0]


@functools.lru_cache(maxsize=32)
def _jwks_client(jwks_uri: str, timeout: float) -> jwt.PyJWKClient:
    """One client per key set: it keeps the keys for 5 minutes and refetches for an unknown
    kid at most every 30 s, so forged kids cannot make the service fetch on every request."""
    return jwt.PyJWKClient(jwks_uri, timeout=timeout)


def _check_user_infos(infos: UserInfos, claims: dict[str, Any] | None) -> None:
    """What holds for every caller, JWT or opaque token: a usable subject at a trusted issuer
    (the userinfo must agree with a JWT) and, for opaque tokens, no expiry beyond the leeway."""
    subject = infos.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT_LENGTH:
        raise Unauthorized(_UNUSABLE_SUBJECT)
    if issuer_key(infos.issuer) not in current_app.config["TRUSTED_OP_LIST"]:
        raise Unauthorized(f"The token's issuer {infos.issuer[:200]!r} is not trusted")
    if claims is not None and (subject, issuer_key(infos.issuer)) != (
        claims["sub"],
        issuer_key(claims["iss"]),
    ):
        raise Unauthorized("The identity provider's userinfo (sub) does not match the token")
    if claims is None:
        valid_for = infos.valid_for_secs
        if valid_for is not None and valid_for < -current_app.config["OIDC_CLOCK_SKEW_SECONDS"]:
            raise Unauthorized("The access token has expired; get a new one")
