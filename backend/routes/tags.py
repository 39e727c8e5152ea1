"""/tags: free labels that help people find results."""

from __future__ import annotations

import uuid

from backend.models import Tag
from backend.queries import filter_equal, paginate, search, select_own_columns, sort
from backend.response_cache import cached
from backend.routes.blueprint import Blueprint
from backend.schemas.tags import CreateTag, TagFilterArgs, Tags, TagSearchArgs
from backend.schemas.tags import Tag as TagSchema
from backend.unit_of_work import commit

blp = Blueprint("tags", __name__, description="Tags")

SORT_FIELDS = {"name": Tag.name, "id": Tag.id}
DEFAULT_SORT = [("name", False)]


@blp.route("/tags", methods=["GET"])
@cached
@blp.access("public")
@blp.arguments(TagFilterArgs, location="query")
@blp.response(200, Tags)
def list_tags(args):
    """Filter and list tags"""
    stmt = filter_equal(select_own_columns(Tag), args, {"name": Tag.name})
    stmt = sort(stmt, args.get("sort_by"), SORT_FIELDS, default=DEFAULT_SORT, id_column=Tag.id)
    return paginate(stmt, args)


@blp.route("/tags", methods=["POST"])
@blp.access("user")
@blp.arguments(CreateTag)
@blp.response(201, TagSchema)
def create_tag(body):
    """Create a tag (names are unique)"""
    tag = Tag.create(**body)
    commit()
    return tag


@blp.route("/tags:search", methods=["GET"])
@cached
@blp.access("public")
@blp.arguments(TagSearchArgs, location="query")
@blp.response(200, Tags)
def search_tags(args):
    """Search tags by terms in name or description"""
    stmt = search(select_own_columns(Tag), args["terms"], [Tag.name, Tag.description])
    stmt = sort(stmt, args.get("sort_by"), SORT_FIELDS, default=DEFAULT_SORT, id_column=Tag.id)
    return paginate(stmt, args)


@blp.route("/tags/<uuid:tag_id>", methods=["GET"])
@cached
@blp.access("public")
@blp.response(200, TagSchema)
def get_tag(tag_id: uuid.UUID):
    """Retrieve a tag"""
    return Tag.get_or_404(tag_id)


@blp.route("/tags/<uuid:tag_id>", methods=["PUT"])
@blp.access("admin")
@blp.arguments(CreateTag(partial=True))
@blp.response(204)
def update_tag(body, tag_id: uuid.UUID):
    """Update a tag (fields not sent are kept)"""
    Tag.get_or_404(tag_id).update(body)
    commit()


@blp.route("/tags/<uuid:tag_id>", methods=["DELETE"])
@blp.access("admin")
@blp.response(204)
def delete_tag(tag_id: uuid.UUID):
    """Delete a tag; results that carried it simply lose it"""
    Tag.get_or_404(tag_id).delete()
    commit()
