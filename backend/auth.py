"""Who is calling: the token (validated by flaat against the trusted issuers), the
registered user behind it, and whether that user is an admin.

Access levels, from the v1 contract: public (nothing needed), token (any valid token),
user (token of a registered user), admin (registered user whose ``eduperson_entitlement``
shares an entry with ``ADMIN_ENTITLEMENTS``).
"""

from __future__ import annotations

import jwt
from flaat.exceptions import FlaatException
from flaat.user_infos import UserInfos
from flask import current_app, request

from backend.errors import Forbidden, Unauthorized
from backend.extensions import db, flaat
from backend.models import User


def _request_cache() -> dict:
    """Per-request memo of who the caller is (the request, not ``g``: an app context may
    outlive a request)."""
    return request.environ.setdefault("backend.auth", {})


def token_infos() -> UserInfos:
    """The caller's validated token claims, or Unauthorized (401)."""
    cache = _request_cache()
    if "infos" not in cache:
        try:
            cache["infos"] = flaat_infos()
        except FlaatException as error:
            cache["infos"], cache["error"] = None, str(error)
    if cache["infos"] is None:
        reason = cache.get("error") or "No valid access token"
        raise Unauthorized(f"{reason}. Send 'Authorization: Bearer <OIDC access token>'.")
    return cache["infos"]


def flaat_infos() -> UserInfos | None:
    """Validate the bearer token with flaat.

    flaat would fetch the discovery document and keys of whatever issuer a JWT names
    before checking that the issuer is trusted; refusing untrusted issuers first keeps
    the service from making requests to URLs chosen by the caller.
    """
    header = request.headers.get("Authorization", "")
    if not header:
        raise FlaatException("No access token")
    token = header.removeprefix("Bearer ").strip()
    try:
        claimed_issuer = jwt.decode(token, options={"verify_signature": False}).get("iss", "")
    except jwt.InvalidTokenError:
        claimed_issuer = None  # an opaque token: flaat asks the trusted issuers
    trusted = current_app.config["TRUSTED_OP_LIST"]
    if claimed_issuer is not None and str(claimed_issuer).rstrip("/") not in trusted:
        raise FlaatException(f"The token's issuer {claimed_issuer!r} is not trusted")
    return flaat.get_user_infos_from_request(request)


def has_token() -> bool:
    return bool(request.headers.get("Authorization"))


def current_user() -> User:
    """The registered user behind the token: 401 without a token, 403 if not registered."""
    cache = _request_cache()
    user = cache.get("user")
    if user is None:
        infos = token_infos()
        user = db.session.execute(
            db.select(User).where(User.sub == infos.subject, User.iss == infos.issuer.rstrip("/"))
        ).scalar_one_or_none()
        if user is None:
            raise Forbidden("You are not registered; register first with POST /users:register.")
        cache["user"] = user
    return user


def optional_user() -> User | None:
    """The registered caller if a valid token came with the request, else None."""
    if not has_token():
        return None
    try:
        return current_user()
    except (Unauthorized, Forbidden):
        return None


def entitlements(infos: UserInfos) -> set[str]:
    value = infos.get("eduperson_entitlement") or []
    return {value} if isinstance(value, str) else set(value)


def is_admin(infos: UserInfos) -> bool:
    """True if the token's entitlements meet ADMIN_ENTITLEMENTS (empty: nobody is admin)."""
    admin_entitlements = set(current_app.config["ADMIN_ENTITLEMENTS"])
    return bool(admin_entitlements & entitlements(infos))


def current_admin() -> User:
    user = current_user()
    if not is_admin(token_infos()):
        raise Forbidden("This operation is for administrators only.")
    return user


def caller_is_admin() -> bool:
    """Whether the request comes from an admin; never raises (for optional views)."""
    user = optional_user()
    return user is not None and is_admin(token_infos())


def require_owner_or_admin(owner_id) -> User:
    """The caller, if they own the resource (``owner_id``) or are an admin; else 403."""
    user = current_user()
    if user.id != owner_id and not is_admin(token_infos()):
        raise Forbidden("Only the uploader or an administrator may do this.")
    return user
