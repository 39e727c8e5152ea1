"""Who is calling: the token (checked by ``backend.bearer_tokens``, looked up by flaat at
the trusted issuers), the registered user behind it, and whether that user is an admin.

Access levels, from the v1 contract: public (nothing needed), token (any valid token),
user (token of a registered user), admin (registered user whose ``eduperson_entitlement``
shares an entry with ``ADMIN_ENTITLEMENTS``).
"""

from __future__ import annotations

from flaat.user_infos import UserInfos
from flask import current_app, request

from backend import bearer_tokens
from backend.errors import Forbidden, ServiceUnavailable, Unauthorized
from backend.models import User


def _request_cache() -> dict:
    """Per-request memo of who the caller is (the request, not ``g``: an app context may
    outlive a request)."""
    return request.environ.setdefault("backend.auth", {})


def token_infos() -> UserInfos:
    """The caller's validated token claims: 401 for a missing or unacceptable token, 503 when
    the identity provider cannot answer now (backend.bearer_tokens)."""
    cache = _request_cache()
    if "infos" not in cache:
        try:
            cache["infos"] = bearer_tokens.user_infos(request.headers.get("Authorization", ""))
        except Unauthorized as error:
            cache["infos"], cache["error"] = (
                None,
                Unauthorized(f"{error.message}. Send 'Authorization: Bearer <OIDC access token>'."),
            )
        except ServiceUnavailable as error:
            cache["infos"], cache["error"] = None, error
    if cache["infos"] is None:
        raise cache["error"]
    return cache["infos"]


def has_token() -> bool:
    return bool(request.headers.get("Authorization"))


def current_user() -> User:
    """The registered user behind the token: 401 without a token, 403 if not registered."""
    cache = _request_cache()
    user = cache.get("user")
    if user is None:
        infos = token_infos()
        user = User.find(infos.subject, infos.issuer)
        if user is None:
            raise Forbidden("You are not registered; register first with POST /users:register.")
        cache["user"] = user
    return user


def optional_user() -> User | None:
    """The registered caller if a valid token came with the request, else None (503 still
    raises: an identity provider that cannot answer must not make an owner anonymous)."""
    if not has_token():
        return None
    try:
        return current_user()
    except (Unauthorized, Forbidden):
        return None


def entitlements(infos: UserInfos) -> set[str]:
    """The caller's ``eduperson_entitlement``: one string or a list of strings. Any other
    shape (an object whose keys look like entitlements, nested lists) counts as none."""
    value = infos.get("eduperson_entitlement")
    if isinstance(value, str):
        return {value}
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return set(value)
    return set()


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
    """Whether the request comes from an admin; a missing or invalid token is False (for
    optional views)."""
    user = optional_user()
    return user is not None and is_admin(token_infos())


def require_owner_or_admin(owner_id) -> User:
    """The caller, if they own the resource (``owner_id``) or are an admin; else 403."""
    user = current_user()
    if user.id != owner_id and not is_admin(token_infos()):
        raise Forbidden("Only the uploader or an administrator may do this.")
    return user
