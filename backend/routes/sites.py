"""/sites and /sites/{id}/flavors: where benchmarks ran, and on which VM templates."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select

from backend import auth
from backend.models import Flavor, Site
from backend.queries import (
    OWN_COLUMNS,
    filter_equal,
    filter_upload,
    paginate,
    search,
    select_own_columns,
    sort,
)
from backend.response_cache import cached
from backend.routes.blueprint import Blueprint
from backend.routes.review import add_review_routes
from backend.schemas.sites import (
    CreateFlavor,
    CreateSite,
    FlavorFilterArgs,
    Flavors,
    FlavorSearchArgs,
    SiteFilterArgs,
    Sites,
    SiteSearchArgs,
)
from backend.schemas.sites import Flavor as FlavorSchema
from backend.schemas.sites import Site as SiteSchema
from backend.unit_of_work import commit

blp = Blueprint("sites", __name__, description="Sites and their flavors")

SORT_FIELDS = {
    "name": Site.name,
    "address": Site.address,
    "upload_datetime": Site.upload_datetime,
    "id": Site.id,
}
FLAVOR_SORT_FIELDS = {
    "name": Flavor.name,
    "upload_datetime": Flavor.upload_datetime,
    "id": Flavor.id,
}
DEFAULT_SORT = [("name", False)]


@blp.route("/sites", methods=["GET"])
@cached
@blp.access("public")
@blp.arguments(SiteFilterArgs, location="query")
@blp.response(200, Sites)
def list_sites(args):
    """Filter and list sites"""
    stmt = select_own_columns(Site).where(Site.status == args["status"])
    stmt = filter_equal(stmt, args, {"name": Site.name, "address": Site.address})
    stmt = filter_upload(stmt, Site.upload_datetime, args)
    stmt = sort(stmt, args.get("sort_by"), SORT_FIELDS, default=DEFAULT_SORT, id_column=Site.id)
    return paginate(stmt, args)


@blp.route("/sites", methods=["POST"])
@blp.access("user")
@blp.arguments(CreateSite)
@blp.response(201, SiteSchema)
def create_site(body):
    """Upload a new site (on review until an admin approves it)"""
    site = Site.submit(**body, uploader=auth.current_user())
    commit()
    return site


@blp.route("/sites:search", methods=["GET"])
@cached
@blp.access("public")
@blp.arguments(SiteSearchArgs, location="query")
@blp.response(200, Sites)
def search_sites(args):
    """Search sites by terms in name, address or description"""
    stmt = select_own_columns(Site).where(Site.status == args["status"])
    stmt = filter_upload(stmt, Site.upload_datetime, args)
    stmt = search(stmt, args["terms"], [Site.name, Site.address, Site.description])
    stmt = sort(stmt, args.get("sort_by"), SORT_FIELDS, default=DEFAULT_SORT, id_column=Site.id)
    return paginate(stmt, args)


@blp.route("/sites/<uuid:site_id>", methods=["GET"])
@cached
@blp.access("public")
@blp.response(200, SiteSchema)
def get_site(site_id: uuid.UUID):
    """Retrieve a site"""
    return Site.get_or_404(site_id, options=OWN_COLUMNS)


@blp.route("/sites/<uuid:site_id>", methods=["PUT"])
@blp.access("admin")
@blp.arguments(CreateSite(partial=True))
@blp.response(204)
def update_site(body, site_id: uuid.UUID):
    """Update a site (fields not sent are kept)"""
    Site.get_or_404(site_id).update(body)
    commit()


@blp.route("/sites/<uuid:site_id>", methods=["DELETE"])
@blp.access("admin")
@blp.response(204)
def delete_site(site_id: uuid.UUID):
    """Delete a site and its flavors, if none of them has results"""
    Site.get_or_404(site_id).delete()
    commit()


add_review_routes(blp, Site, "site_id", prefix="/sites")


@blp.route("/sites/<uuid:site_id>/flavors", methods=["GET"])
@cached
@blp.access("public")
@blp.arguments(FlavorFilterArgs, location="query")
@blp.response(200, Flavors)
def list_flavors(args, site_id: uuid.UUID):
    """Filter and list the flavors of a site"""
    stmt = filter_equal(site_flavors(site_id, args), args, {"name": Flavor.name})
    stmt = sort(
        stmt, args.get("sort_by"), FLAVOR_SORT_FIELDS, default=DEFAULT_SORT, id_column=Flavor.id
    )
    return paginate(stmt, args)


@blp.route("/sites/<uuid:site_id>/flavors", methods=["POST"])
@blp.access("user")
@blp.arguments(CreateFlavor)
@blp.response(201, FlavorSchema)
def create_flavor(body, site_id: uuid.UUID):
    """Upload a new flavor for a site (on review until an admin approves it)"""
    site = Site.get_or_404(site_id)
    flavor = Flavor.submit(**body, site=site, uploader=auth.current_user())
    commit()
    return flavor


@blp.route("/sites/<uuid:site_id>/flavors:search", methods=["GET"])
@cached
@blp.access("public")
@blp.arguments(FlavorSearchArgs, location="query")
@blp.response(200, Flavors)
def search_flavors(args, site_id: uuid.UUID):
    """Search a site's flavors by terms in name or description"""
    stmt = search(site_flavors(site_id, args), args["terms"], [Flavor.name, Flavor.description])
    stmt = sort(
        stmt, args.get("sort_by"), FLAVOR_SORT_FIELDS, default=DEFAULT_SORT, id_column=Flavor.id
    )
    return paginate(stmt, args)


def site_flavors(site_id: uuid.UUID, args: Mapping[str, Any]) -> Select:
    """The flavors of a site (404 if there is no such site) in the status and upload dates
    a list or search asks for."""
    Site.get_or_404(site_id, options=OWN_COLUMNS)
    stmt = select_own_columns(Flavor).where(
        Flavor.site_id == site_id, Flavor.status == args["status"]
    )
    return filter_upload(stmt, Flavor.upload_datetime, args)
