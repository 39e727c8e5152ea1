"""Submit and claim reports, as admins review them."""

from marshmallow import fields, validate

from backend.schemas.common import (
    AwareDateTime,
    PaginationArgs,
    Schema,
    SortBy,
    StatusArgs,
    UploadFilterArgs,
    UserRef,
    page_of,
)

RESOURCE_TYPES = ["benchmark", "site", "flavor", "claim"]


class Submit(Schema):
    resource_type = fields.String(
        required=True, metadata={"description": "benchmark, site, flavor or claim."}
    )
    resource_id = fields.UUID(required=True)
    upload_datetime = AwareDateTime(required=True)
    uploader = fields.Nested(UserRef, allow_none=True)


Submits = page_of(Submit, "Submits")


class SubmitFilterArgs(PaginationArgs, UploadFilterArgs):
    resource_type = fields.String(validate=validate.OneOf(RESOURCE_TYPES))
    sort_by = SortBy(["upload_datetime", "resource_type", "resource_id"])


class CreateClaim(Schema):
    message = fields.String(
        required=True,
        validate=validate.Length(min=1, max=10000),
        metadata={"description": "What is wrong with the result."},
    )


class Claim(CreateClaim):
    id = fields.UUID(dump_only=True)
    upload_datetime = AwareDateTime(dump_only=True)
    resource_type = fields.Constant("result", dump_only=True)
    resource_id = fields.UUID(dump_only=True)
    uploader = fields.Nested(UserRef, dump_only=True, allow_none=True)


Claims = page_of(Claim, "Claims")


class ClaimFilterArgs(PaginationArgs, UploadFilterArgs, StatusArgs):
    sort_by = SortBy(["upload_datetime", "id", "message"])
