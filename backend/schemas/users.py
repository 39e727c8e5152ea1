"""User responses and query arguments."""

from marshmallow import fields

from backend.schemas.common import (
    AwareDateTime,
    PaginationArgs,
    Schema,
    SearchArgs,
    SortBy,
    page_of,
)

USER_SORT_FIELDS = ["sub", "iss", "email", "registration_datetime"]


class User(Schema):
    sub = fields.String(dump_only=True, metadata={"description": "OIDC subject."})
    iss = fields.String(dump_only=True, metadata={"description": "OIDC issuer."})
    email = fields.Email(dump_only=True)
    registration_datetime = AwareDateTime(dump_only=True)


Users = page_of(User, "Users")


class UserFilterArgs(PaginationArgs):
    sub = fields.String()
    iss = fields.String()
    email = fields.String()
    sort_by = SortBy(USER_SORT_FIELDS)


class UserSearchArgs(PaginationArgs, SearchArgs):
    sort_by = SortBy(USER_SORT_FIELDS)


class UserRemoveArgs(Schema):
    sub = fields.String()
    iss = fields.String()
    email = fields.String()
