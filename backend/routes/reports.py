"""/reports: what admins review — pending submissions and claims on results."""

from __future__ import annotations

import uuid

from flask import jsonify
from sqlalchemy import ColumnElement, select

from backend import auth
from backend.models import Claim, User, pending_submits
from backend.queries import filter_upload, paginate, sort
from backend.routes.blueprint import Blueprint
from backend.routes.review import add_review_routes
from backend.schemas.reports import Claim as ClaimSchema
from backend.schemas.reports import ClaimFilterArgs, Claims, SubmitFilterArgs, Submits

blp = Blueprint("reports", __name__, description="Reports for admins")

CLAIM_SORT_FIELDS = {
    "upload_datetime": Claim.upload_datetime,
    "id": Claim.id,
    "message": Claim.message,
}


def list_claims(args, *conditions: ColumnElement[bool]) -> dict:
    """A page of claims with the given status matching ``conditions``."""
    stmt = select(Claim).where(Claim.status == args["status"], *conditions)
    stmt = filter_upload(stmt, Claim.upload_datetime, args)
    stmt = sort(
        stmt,
        args.get("sort_by"),
        CLAIM_SORT_FIELDS,
        default=[("upload_datetime", False)],
        id_column=Claim.id,
    )
    return paginate(stmt, args)


@blp.route("/reports/submits", methods=["GET"])
@blp.access("admin")
@blp.arguments(SubmitFilterArgs, location="query")
@blp.response(200, Submits)
def list_submits(args):
    """List pending submissions (benchmarks, sites, flavors, claims)"""
    submits = pending_submits()
    stmt = select(submits, User).outerjoin(User, User.id == submits.c.uploader_id)
    if args.get("resource_type"):
        stmt = stmt.where(submits.c.resource_type == args["resource_type"])
    stmt = filter_upload(stmt, submits.c.upload_datetime, args)
    fields = {name: submits.c[name] for name in ("upload_datetime", "resource_type", "resource_id")}
    stmt = sort(
        stmt,
        args.get("sort_by"),
        fields,
        default=[("upload_datetime", False)],
        id_column=submits.c.resource_id,
    )
    page = paginate(stmt, args, rows=True)
    page["items"] = [
        {
            "resource_type": row.resource_type,
            "resource_id": row.resource_id,
            "upload_datetime": row.upload_datetime,
            "uploader": row.User,
        }
        for row in page["items"]
    ]
    return page


@blp.route("/reports/claims", methods=["GET"])
@blp.access("admin")
@blp.arguments(ClaimFilterArgs, location="query")
@blp.response(200, Claims)
def list_all_claims(args):
    """Filter and list claims"""
    return list_claims(args)


@blp.route("/reports/claims/<uuid:claim_id>", methods=["GET"])
@blp.access("public")
@blp.response(200, ClaimSchema)
def get_claim(claim_id: uuid.UUID):
    """Retrieve a claim; the claimer's email is shown to admins and the claimer only"""
    claim = Claim.get_or_404(claim_id)
    if claim.is_owned_by(auth.optional_user()) or auth.caller_is_admin():
        return claim
    return jsonify(ClaimSchema(exclude=("uploader.email",)).dump(claim))


add_review_routes(blp, Claim, "claim_id", prefix="/reports/claims")
