"""/results: upload benchmark results, find and compare them, tag and claim them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Select, and_, exists, select
from sqlalchemy.orm import joinedload, lazyload

from backend import auth
from backend.dialects import json_match, json_sort_keys
from backend.errors import DomainError, NotFound
from backend.extensions import db
from backend.indexed_results import (
    CatalogueCondition,
    counted_total,
    json_sorted,
    number_match,
    numbers_total,
    search_total,
    tracked_path,
    tracked_paths,
)
from backend.models import Benchmark, Claim, Flavor, Result, Site, Tag, results_tags
from backend.queries import contains, filter_equal, filter_range, filter_upload, paginate
from backend.result_pages import page_loader
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
    """The results a list starts from: the visible ones, or all of them."""
    stmt = select(Result)
    return stmt if include_hidden else stmt.where(~Result.hidden)


def ordered_as(sort_by: list[tuple[str, bool]] | None) -> Callable[[Select], Select]:
    """The list order as a function, for loading a page's rows (backend.result_pages)."""
    return lambda stmt: sort_results(stmt, sort_by, joined=False)


def join_catalogue(stmt: Select) -> Select:
    return (
        stmt.join(Benchmark, Benchmark.id == Result.benchmark_id)
        .join(Site, Site.id == Result.site_id)
        .join(Flavor, Flavor.id == Result.flavor_id)
    )


def filter_results(
    stmt: Select, args: Mapping[str, Any], tracked: frozenset[str] = frozenset()
) -> Select:
    """Apply the /results filters: ids, dates, tags (all required) and JSON filters.

    ``tracked``: JSON paths whose numeric filters may be answered by ``result_numbers``
    (only for visible results of the benchmark in ``args``; see ``list_page``).
    """
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
    for path, op, value in args.get("filters") or []:
        indexed = (
            number_match(Result.id, path, op, value) if tracked_path(path) in tracked else None
        )
        stmt = stmt.where(
            indexed if indexed is not None else json_match(dialect(), Result.json, path, op, value)
        )
    return stmt


def catalogue_match(term: str) -> CatalogueCondition:
    """The part of a search term's condition that depends only on a result's benchmark,
    site and flavor ids, for ``results`` and for ``result_counts`` alike: the term is a
    substring of the benchmark name, the site name or address, or the flavor name. The
    catalogue is small, so its matches are found once rather than per result."""

    def condition(benchmark_id, site_id, flavor_id) -> ColumnElement[bool]:
        benchmark_name = Benchmark.docker_image + ":" + Benchmark.docker_tag
        return (
            benchmark_id.in_(select(Benchmark.id).where(contains(benchmark_name, term)))
            | site_id.in_(
                select(Site.id).where(contains(Site.name, term) | contains(Site.address, term))
            )
            | flavor_id.in_(select(Flavor.id).where(contains(Flavor.name, term)))
        )

    return condition


def all_terms_match(terms: list[str]) -> CatalogueCondition:
    def condition(benchmark_id, site_id, flavor_id) -> ColumnElement[bool]:
        return and_(*(catalogue_match(term)(benchmark_id, site_id, flavor_id) for term in terms))

    return condition


def search_results(stmt: Select, terms: list[str]) -> Select:
    """Each term is a substring of the benchmark name, site name or address, or flavor
    name, or exactly one of the result's tag names."""
    for term in terms:
        tagged = exists().where(
            results_tags.c.result_id == Result.id,
            results_tags.c.tag_id == Tag.id,
            Tag.name == term,
        )
        matches = catalogue_match(term)(Result.benchmark_id, Result.site_id, Result.flavor_id)
        stmt = stmt.where(matches | tagged)
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


def indexed_total(statement: Select | None) -> int | None:
    """Run a total from ``backend.indexed_results`` (None: it does not apply)."""
    if statement is None:
        return None
    return db.session.execute(statement).scalar_one()


def list_page(args: Mapping[str, Any], stmt: Select, *, from_index: bool = False) -> dict:
    """A page of ``stmt`` (from ``select_results``) under the /results filters and sort.

    ``from_index``: ``stmt`` is exactly the visible results, so on PostgreSQL the index
    tables beside them may answer totals, numeric JSON filters and JSON-sorted pages
    (backend.indexed_results).
    """
    sort_by = args.get("sort_by")
    if not from_index or dialect() != "postgresql":
        stmt = filter_results(stmt, args)
        ordered = sort_results(stmt, sort_by, joined=False)
        return paginate(ordered, args, load=page_loader(ordered_as(sort_by)))
    tracked: frozenset[str] = frozenset()
    if args.get("benchmark_id") is not None and args.get("filters"):
        tracked = frozenset(db.session.scalars(tracked_paths(args["benchmark_id"])))
    stmt = filter_results(stmt, args, tracked)
    total = numbers_total(args, tracked)
    if total is None:
        total = indexed_total(counted_total(args))
    return paginate(
        sort_results(stmt, sort_by, joined=False),
        args,
        total=total,
        first_try=json_sorted(stmt, args, sort_by),
        load=page_loader(ordered_as(sort_by)),
    )


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
    return list_page(args, select_results(), from_index=True)


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
    terms = [term for term in args["terms"] if term]
    stmt = filter_upload(select_results(), Result.upload_datetime, args)
    stmt = search_results(stmt, terms)
    stmt = sort_results(stmt, args.get("sort_by"), joined=False)
    total = None
    if dialect() == "postgresql":
        condition = all_terms_match(terms) if terms else None
        total = indexed_total(search_total(args, terms, condition))
    return paginate(stmt, args, total=total, load=page_loader(ordered_as(args.get("sort_by"))))


def get_result(result_id: uuid.UUID) -> Result:
    return Result.get_or_404(result_id)


#: What a result's own page shows, in one statement: four tables and its tags (one row
#: per tag), one round trip. The models' default eager loads would also join every
#: uploader: a nine-table join whose planning alone took about 4 ms, on every GET and
#: after every upload; loading the tags by a second query cost another round trip and
#: about a millisecond of the ORM's time.
SHOWN = (
    joinedload(Result.benchmark, innerjoin=True).lazyload("*"),
    joinedload(Result.site, innerjoin=True).lazyload("*"),
    joinedload(Result.flavor, innerjoin=True).lazyload("*"),
    joinedload(Result.tags),
    lazyload("*"),
)


def shown_result(result_id: uuid.UUID) -> Result:
    """A result loaded with what ``ResultSchema`` shows, and nothing else."""
    return Result.get_or_404(result_id, options=SHOWN, populate_existing=True)


@blp.route("/results/<uuid:result_id>", methods=["GET"])
@blp.access("public")
@blp.response(200, ResultSchema)
def get(result_id: uuid.UUID):
    """Retrieve a result (claimed results too)"""
    return shown_result(result_id)


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
