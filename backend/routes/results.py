"""/results: upload benchmark results, find and compare them, tag and claim them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask import Response, current_app, stream_with_context

from backend import auth
from backend.errors import DomainError, NotFound
from backend.extensions import db
from backend.models import Claim, Result, Tag
from backend.result_finding.aggregates import aggregate
from backend.result_finding.formats import FORMATS
from backend.result_finding.pages import search_page, visible_page
from backend.result_finding.streams import export_chunks
from backend.routes.blueprint import Blueprint
from backend.routes.reports import list_claims
from backend.schemas.reports import Claim as ClaimSchema
from backend.schemas.reports import ClaimFilterArgs, Claims, CreateClaim
from backend.schemas.results import (
    Aggregate,
    BatchCreated,
    BatchItem,
    ResultAggregateArgs,
    ResultContextArgs,
    ResultDocument,
    ResultExportArgs,
    ResultFilterArgs,
    Results,
    ResultSearchArgs,
)
from backend.schemas.results import Result as ResultSchema
from backend.schemas.tags import TagsIds
from backend.schemas.users import User as UserSchema
from backend.single_result import dumped_result
from backend.unit_of_work import commit

blp = Blueprint("results", __name__, description="Benchmark results")


@blp.route("/results", methods=["GET"])
@blp.access("public")
@blp.arguments(ResultFilterArgs, location="query")
@blp.response(200, Results)
def list_results(args):
    """Filter and list results

    JSON filters: `filters=<path.separated.by.dots> <op> <value>` with op one of ==, >, <,
    >=, <=; numbers compare numerically, true/false as booleans, anything else as text.
    Results without the path, or with another type there, do not match. Claimed results
    are hidden.
    """
    return visible_page(args)


@blp.route("/results", methods=["POST"])
@blp.access("user")
@blp.arguments(ResultContextArgs, location="query")
@blp.arguments(ResultDocument, location="json")
@blp.response(201, ResultSchema)
def create_result(context, document):
    """Upload a result, validated against its benchmark's JSON Schema

    Query: execution_datetime (ISO 8601 with time zone), benchmark_id, flavor_id and
    optional tags_ids; body: the result document.
    """
    result = Result.upload(**context, json=document, uploader=auth.current_user())
    commit(keep_loaded=True)
    if len(result.tags) > 1:
        db.session.refresh(result, ["tags"])  # in the database's order of names, as GET
    return result


class BatchRejected(DomainError):
    status_code = 422


@blp.route("/results:batch", methods=["POST"])
@blp.access("user")
@blp.arguments(BatchItem(many=True), location="json")
@blp.response(201, BatchCreated)
def create_results_batch(items):
    """Upload many results at once, all or nothing (extension, not in v1)

    The body is a list of {execution_datetime, benchmark_id, flavor_id, tags_ids, json}.
    If any item is refused, nothing is stored and the answer lists each item's error.
    """
    limit = current_app.config.get("RESULTS_BATCH_LIMIT", 1000)
    if len(items) > limit:
        raise BatchRejected(f"At most {limit} results per batch; split the upload.")
    uploader = auth.current_user()
    created, errors = [], {}
    for index, item in enumerate(items):
        try:
            with db.session.no_autoflush:
                created.append(Result.upload(**item, uploader=uploader))
        except DomainError as error:
            errors[str(index)] = {"status": error.status_code, "message": error.message}
    if errors:
        db.session.rollback()
        raise BatchRejected(
            f"{len(errors)} of {len(items)} results were refused; nothing was stored.",
            errors={"json": errors},
        )
    commit()
    return {"ids": [result.id for result in created]}


@blp.route("/results:search", methods=["GET"])
@blp.access("public")
@blp.arguments(ResultSearchArgs, location="query")
@blp.response(200, Results)
def search(args):
    """Search results by terms

    A term matches a result if it is a case-insensitive substring of its benchmark name
    (image:tag), site name or address, or flavor name, or equals one of its tag names.
    All terms must match.
    """
    return search_page(args)


@blp.route("/results:aggregate", methods=["GET"])
@blp.access("public")
@blp.arguments(ResultAggregateArgs, location="query")
@blp.response(200, Aggregate)
def aggregate_results(args):
    """Compare groups of results by one JSON number (extension, not in v1)

    Every /results filter selects the results; `metric=json.<path>` names the number and
    `group_by` one to three of benchmark, site, flavor, tag, month. Each group has its
    keys (ids and names), count, mean, stddev, min, p50, p90, p99 and max, computed as
    numpy does (stddev with ddof=0, percentiles by linear interpolation). At most 1,000
    groups: more is a 422 that says how to narrow the selection.
    """
    return aggregate(args)


EXPORT_RESPONSE = {
    "description": "The selected results, streamed as they are read.",
    "headers": {
        "Content-Disposition": {
            "description": "attachment; filename=results-<UTC time>.<format>",
            "schema": {"type": "string"},
        }
    },
    "content": {
        media_type.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
        for media_type, _, _ in FORMATS.values()
    },
}


@blp.route("/results:export", methods=["GET"])
@blp.access("public")
@blp.arguments(ResultExportArgs, location="query")
@blp.doc(responses={"200": EXPORT_RESPONSE})
def export_results(args):
    """Download the selected results as CSV, JSON Lines or Parquet (extension, not in v1)

    Every /results filter and sort applies; `columns=` picks the columns (default: the
    result's fields and every JSON leaf as a json.<path> column). The file is written
    as it is read, in one consistent snapshot of the data, whatever its size.
    """
    media_type, extension, _ = FORMATS[args["format"]]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(
        stream_with_context(export_chunks(args)),
        mimetype=media_type.split(";")[0],
        content_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="results-{stamp}.{extension}"'},
    )


def get_result(result_id: uuid.UUID) -> Result:
    return Result.get_or_404(result_id)


@blp.route("/results/<uuid:result_id>", methods=["GET"])
@blp.access("public")
@blp.response(200, ResultSchema)
def get(result_id: uuid.UUID):
    """Retrieve a result (claimed results too)"""
    dumped = dumped_result(result_id)
    if dumped is None:
        raise NotFound(f"No {Result.resource_type} with id {result_id}.")
    return current_app.json.response(dumped)


@blp.route("/results/<uuid:result_id>", methods=["DELETE"])
@blp.access("admin")
@blp.response(204)
def delete(result_id: uuid.UUID):
    """Delete a result"""
    get_result(result_id).delete()
    commit()


@blp.route("/results/<uuid:result_id>:claim", methods=["POST"])
@blp.access("user")
@blp.arguments(CreateClaim)
@blp.response(201, ClaimSchema)
def claim(body, result_id: uuid.UUID):
    """Report a result as wrong; it leaves the lists until an admin rejects the claim"""
    claim = get_result(result_id).claim(body["message"], auth.current_user())
    commit()
    return claim


@blp.route("/results/<uuid:result_id>/tags", methods=["PUT"])
@blp.access("owner_or_admin")
@blp.arguments(TagsIds)
@blp.response(204)
def update_tags(body, result_id: uuid.UUID):
    """Replace a result's tags (its uploader or an admin)"""
    result = get_result(result_id)
    auth.require_owner_or_admin(result.uploader_id)
    result.replace_tags(Tag.get_all_or_404(body["tags_ids"]))
    commit()


@blp.route("/results/<uuid:result_id>/claims", methods=["GET"])
@blp.access("owner_or_admin")
@blp.arguments(ClaimFilterArgs, location="query")
@blp.response(200, Claims)
def list_result_claims(args, result_id: uuid.UUID):
    """List the claims on a result (its uploader or an admin)"""
    result = get_result(result_id)
    auth.require_owner_or_admin(result.uploader_id)
    return list_claims(args, Claim.resource_id == result.id)


@blp.route("/results/<uuid:result_id>/uploader", methods=["GET"])
@blp.access("admin")
@blp.response(200, UserSchema)
def get_uploader(result_id: uuid.UUID):
    """Retrieve who uploaded a result"""
    result = get_result(result_id)
    if result.uploader is None:
        raise NotFound("The uploader of this result has been removed.")
    return result.uploader
