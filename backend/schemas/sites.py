"""Site and flavor bodies, responses and query arguments."""

from marshmallow import fields, validate

from backend.schemas.common import (
    ReviewedFilterArgs,
    ReviewedSearchArgs,
    Schema,
    SortBy,
    Uploaded,
    page_of,
)

SITE_SORT_FIELDS = ["name", "address", "upload_datetime", "id"]
FLAVOR_SORT_FIELDS = ["name", "upload_datetime", "id"]


class CreateSite(Schema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=255),
        metadata={"description": "Name shown to the community (unique)."},
    )
    address = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2048),
        metadata={"description": "Where the site is (physical or virtual address)."},
    )
    description = fields.String(allow_none=True, validate=validate.Length(max=10000))


class Site(Uploaded, CreateSite):
    pass


Sites = page_of(Site, "Sites")


class SiteFilterArgs(ReviewedFilterArgs):
    name = fields.String()
    address = fields.String()
    sort_by = SortBy(SITE_SORT_FIELDS)


class SiteSearchArgs(ReviewedSearchArgs):
    sort_by = SortBy(SITE_SORT_FIELDS)


class CreateFlavor(Schema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=255),
        metadata={"description": "VM template name, unique within its site."},
    )
    description = fields.String(allow_none=True, validate=validate.Length(max=10000))


class Flavor(Uploaded, CreateFlavor):
    pass


Flavors = page_of(Flavor, "Flavors")


class FlavorFilterArgs(ReviewedFilterArgs):
    name = fields.String()
    sort_by = SortBy(FLAVOR_SORT_FIELDS)


class FlavorSearchArgs(ReviewedSearchArgs):
    sort_by = SortBy(FLAVOR_SORT_FIELDS)
