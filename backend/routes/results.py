"""/results: upload benchmark results, find and compare them, tag and claim them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlalchemy import Select, exists, select
from sqlalchemy.orm import raiseload, selectinload

from backend import auth
from backend.dialects import json_match, json_sort_keys
from backend.errors import DomainError, NotFound
from backend.extensions import db
from backend.models import Benchmark, Claim, Flavor, Result, Site, Tag, results_tags
from backend.queries import contains, filter_equal, filter_range, filter_upload, paginate
from backend.routes.blueprint import Blueprint
from backend.routes.reports import list_claims
from backend.schemas.reports import Claim as ClaimSchema
from backend.schemas.reports import ClaimFilterArgs, Claims, CreateClaim
from backend.schemas.results import (
    BatchCreated,
    BatchItem,
    ResultContextArgs,
    ResultDocument,
    ResultFilterArgs,
    Results,
    ResultSearchArgs,
)
from backend.schemas.results import Result as ResultSchema
from backend.schemas.tags import TagsIds
from backend.schemas.users import User as UserSchema
from backend.unit_of_work import commit

blp = Blueprint("results", __name__, description="Benchmark results")

#: Columns results sort by; *_name keys need the catalogue tables joined.
SORT_COLUMNS = {
    "execution_datetime": [Result.execution_datetime],
    "upload_datetime": [Result.upload_datetime],
    "id": [Result.id],
    "benchmark_id": [Result.benchmark_id],
    "benchmark_name": [Benchmark.docker_image, Benchmark.docker_tag],
    "site_id": [Result.site_id],
    "site_name": [Site.name],
    "site_address": [Site.address],
    "flavor_id": [Result.flavor_id],
    "flavor_name": [Flavor.name],
}
DEFAULT_SORT = [("execution_datetime", False)]


def dialect() -> str:
    return db.session.get_bind().dialect.name


def select_results(*, include_hidden: bool = False) -> Select:
    """Results with what a page shows loaded in a few statements (never one per item)."""
    stmt = select(Result).options(
        selectinload(Result.benchmark),
        selectinload(Result.site),
        selectinload(Result.flavor),
        selectinload(Result.tags),
        raiseload("*"),
    )
    return stmt if include_hidden else stmt.where(Result.hidden.is_(False))


def join_catalogue(stmt: Select) -> Select:
    return (
        stmt.join(Benchmark, Benchmark.id == Result.benchmark_id)
        .join(Site, Site.id == Result.site_id)
        .join(Flavor, Flavor.id == Result.flavor_id)
    )


def filter_results(stmt: Select, args: Mapping[str, Any]) -> Select:
    """Apply the /results filters: ids, dates, tags (all required) and JSON filters."""
    stmt = filter_equal(
        stmt,
        args,
        {
            "benchmark_id": Result.benchmark_id,
            "site_id": Result.site_id,
            "flavor_id": Result.flavor_id,
        },
    )
    stmt = filter_upload(stmt, Result.upload_datetime, args)
    stmt = filter_range(
        stmt, Result.execution_datetime, args.get("execution_after"), args.get("execution_before")
    )
    for tag_id in dict.fromkeys(args.get("tags_ids") or []):
        stmt = stmt.where(
            exists().where(results_tags.c.result_id == Result.id, results_tags.c.tag_id == tag_id)
        )
    for json_filter in args.get("filters") or []:
        stmt = stmt.where(json_match(dialect(), Result.json, *json_filter))
    return stmt


def search_results(stmt: Select, terms: list[str]) -> Select:
    """Each term is a substring of the benchmark name, site name or address, or flavor
    name, or exactly one of the result's tag names."""
    terms = [term for term in terms if term]
    if not terms:
        return stmt
    stmt = join_catalogue(stmt)
    for term in terms:
        tagged = exists().where(
            results_tags.c.result_id == Result.id,
            results_tags.c.tag_id == Tag.id,
            Tag.name == term,
        )
        stmt = stmt.where(
            contains(Benchmark.docker_image + ":" + Benchmark.docker_tag, term)
            | contains(Site.name, term)
            | contains(Site.address, term)
            | contains(Flavor.name, term)
            | tagged
        )
    return stmt


def sort_results(stmt: Select, sort_by: list[tuple[str, bool]] | None, joined: bool) -> Select:
    """Order by the requested keys (``json.<path>`` included), then by id."""
    keys = list(sort_by or DEFAULT_SORT)
    needs_join = any(
        name in {"benchmark_name", "site_name", "site_address", "flavor_name"} for name, _ in keys
    )
    if needs_join and not joined:
        stmt = join_catalogue(stmt)
    order = []
    for name, descending in keys:
        if name.startswith("json."):
            order.extend(json_sort_keys(dialect(), Result.json, name.split(".")[1:], descending))
        else:
            for column in SORT_COLUMNS[name]:
                order.append((column.desc() if descending else column.asc()).nulls_last())
    if not any(name == "id" for name, _ in keys):
        order.append(Result.id.asc())
    return stmt.order_by(*order)


def list_page(args: Mapping[str, Any], stmt: Select) -> dict:
    stmt = filter_results(stmt, args)
    stmt = sort_results(stmt, args.get("sort_by"), joined=False)
    return paginate(stmt, args)


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
    return list_page(args, select_results())


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
    commit()
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
    stmt = filter_upload(select_results(), Result.upload_datetime, args)
    stmt = search_results(stmt, args["terms"])
    stmt = sort_results(stmt, args.get("sort_by"), joined=any(args["terms"]))
    return paginate(stmt, args)


def get_result(result_id: uuid.UUID) -> Result:
    return Result.get_or_404(result_id)


@blp.route("/results/<uuid:result_id>", methods=["GET"])
@blp.access("public")
@blp.response(200, ResultSchema)
def get(result_id: uuid.UUID):
    """Retrieve a result (claimed results too)"""
    return get_result(result_id)


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
    result.tags = Tag.get_all_or_404(body["tags_ids"])
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
