"""/users: registration, the caller's own data, and user administration."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import bindparam, delete, select

from backend import auth
from backend.errors import DomainError, InvalidArguments, NotFound
from backend.extensions import db
from backend.models import Claim, User
from backend.models.user import issuer_key
from backend.queries import filter_equal, paginate, search, sort
from backend.result_finding.items import plain_dumper
from backend.result_finding.pages import own_page
from backend.routes.blueprint import Blueprint
from backend.routes.reports import list_claims
from backend.schemas.reports import ClaimFilterArgs, Claims
from backend.schemas.results import ResultFilterArgs, Results
from backend.schemas.users import User as UserSchema
from backend.schemas.users import UserFilterArgs, UserRemoveArgs, Users, UserSearchArgs
from backend.single_statement_reads import read_outside_transaction
from backend.unit_of_work import commit

blp = Blueprint("users", __name__, description="Users")

SORT_FIELDS = {
    "sub": User.sub,
    "iss": User.iss,
    "email": User.email,
    "registration_datetime": User.registration_datetime,
}
DEFAULT_SORT = [("registration_datetime", False)]


class EmailRequired(DomainError):
    status_code = 422


def verified_email() -> str:
    """The email of the caller's token; 422 if it has none or says it is unverified."""
    infos = auth.token_infos()
    email = infos.get("email")
    if not email:
        raise EmailRequired(
            "Your token carries no email; ask your identity provider for the 'email' scope."
        )
    if infos.get("email_verified") is False:
        raise EmailRequired("The email in your token is not verified; verify it at your provider.")
    return email


@blp.route("/users:register", methods=["POST"])
@blp.access("token")
@blp.response(201, UserSchema)
def register():
    """Register yourself, accepting the terms of use

    The stored email comes from your token.
    """
    infos = auth.token_infos()
    user = User.register(sub=infos.subject, iss=infos.issuer, email=verified_email())
    commit()
    return user


#: ``User.find`` as one prebuilt Core statement: building the select and loading an ORM
#: object were about a fifth of the request's worker CPU.
_FIND_SELF = select(*(getattr(User, name) for name in UserSchema().dump_fields)).where(
    User.sub == bindparam("sub"), User.iss == bindparam("iss")
)
_dump_user = plain_dumper(UserSchema())


@blp.route("/users/self", methods=["GET"])
@blp.access("token")
@blp.response(200, UserSchema)
def get_self():
    """Retrieve your registered user (404 if you are not registered)"""
    infos = auth.token_infos()
    with read_outside_transaction() as connection:
        user = connection.execute(
            _FIND_SELF, {"sub": infos.subject, "iss": issuer_key(infos.issuer)}
        ).one_or_none()
    if user is None:
        raise NotFound("You are not registered; register with POST /users:register.")
    return current_app.json.response(_dump_user(user))


@blp.route("/users/self:update", methods=["POST"])
@blp.access("user")
@blp.response(204)
def update_self():
    """Refresh your stored email from your token"""
    auth.current_user().change_email(verified_email())
    commit()


@blp.route("/users/self:try_admin", methods=["GET"])
@blp.access("admin")
@blp.response(204)
def try_admin():
    """Answer 204 if you are an administrator"""


@blp.route("/users/self/results", methods=["GET"])
@blp.access("user")
@blp.arguments(ResultFilterArgs, location="query")
@blp.response(200, Results)
def list_own_results(args):
    """List the results you uploaded, claimed ones included (every /results filter applies)"""
    return own_page(args, auth.current_user().id)


@blp.route("/users/self/claims", methods=["GET"])
@blp.access("user")
@blp.arguments(ClaimFilterArgs, location="query")
@blp.response(200, Claims)
def list_own_claims(args):
    """List the claims you made"""
    return list_claims(args, Claim.uploader_id == auth.current_user().id)


@blp.route("/users", methods=["GET"])
@blp.access("admin")
@blp.arguments(UserFilterArgs, location="query")
@blp.response(200, Users)
def list_users(args):
    """Filter and list users"""
    stmt = filter_equal(select(User), args, {"sub": User.sub, "iss": User.iss, "email": User.email})
    stmt = sort(stmt, args.get("sort_by"), SORT_FIELDS, default=DEFAULT_SORT, id_column=User.id)
    return paginate(stmt, args)


@blp.route("/users:search", methods=["GET"])
@blp.access("admin")
@blp.arguments(UserSearchArgs, location="query")
@blp.response(200, Users)
def search_users(args):
    """Search users by terms in their email"""
    stmt = search(select(User), args["terms"], [User.email])
    stmt = sort(stmt, args.get("sort_by"), SORT_FIELDS, default=DEFAULT_SORT, id_column=User.id)
    return paginate(stmt, args)


@blp.route("/users:remove", methods=["POST"])
@blp.access("admin")
@blp.arguments(UserRemoveArgs, location="query")
@blp.response(204)
def remove_users(args):
    """Remove the users matching sub, iss and/or email (at least one is required)

    What they uploaded stays, without an uploader.
    """
    if not any(args.get(name) for name in ("sub", "iss", "email")):
        raise InvalidArguments(
            "Give at least one of sub, iss or email, so that not every user is removed.",
            errors={"query": {"sub": ["One of sub, iss, email is required."]}},
        )
    conditions = [
        getattr(User, name) == args[name] for name in ("sub", "iss", "email") if args.get(name)
    ]
    db.session.execute(delete(User).where(*conditions))
    commit()
