"""Tag bodies, responses and query arguments."""

from marshmallow import fields, validate

from backend.schemas.common import PaginationArgs, Schema, SearchArgs, SortBy, page_of

TAG_SORT_FIELDS = ["name", "id"]


class CreateTag(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    description = fields.String(allow_none=True, validate=validate.Length(max=10000))


class Tag(CreateTag):
    id = fields.UUID(dump_only=True)


Tags = page_of(Tag, "Tags")


class TagFilterArgs(PaginationArgs):
    name = fields.String()
    sort_by = SortBy(TAG_SORT_FIELDS)


class TagSearchArgs(PaginationArgs, SearchArgs):
    sort_by = SortBy(TAG_SORT_FIELDS)


class TagsIds(Schema):
    tags_ids = fields.List(fields.UUID(), required=True)
