"""/flavors/{id}: one VM template, and its site."""

from __future__ import annotations

import uuid

from backend.models import Flavor
from backend.response_cache import cached
from backend.routes.blueprint import Blueprint
from backend.routes.review import add_review_routes
from backend.schemas.sites import CreateFlavor
from backend.schemas.sites import Flavor as FlavorSchema
from backend.schemas.sites import Site as SiteSchema
from backend.unit_of_work import commit

blp = Blueprint("flavors", __name__, description="Flavors")


@blp.route("/flavors/<uuid:flavor_id>", methods=["GET"])
@cached
@blp.access("public")
@blp.response(200, FlavorSchema)
def get_flavor(flavor_id: uuid.UUID):
    """Retrieve a flavor"""
    return Flavor.get_or_404(flavor_id)


@blp.route("/flavors/<uuid:flavor_id>", methods=["PUT"])
@blp.access("admin")
@blp.arguments(CreateFlavor(partial=True))
@blp.response(204)
def update_flavor(body, flavor_id: uuid.UUID):
    """Update a flavor (fields not sent are kept)"""
    Flavor.get_or_404(flavor_id).update(body)
    commit()


@blp.route("/flavors/<uuid:flavor_id>", methods=["DELETE"])
@blp.access("admin")
@blp.response(204)
def delete_flavor(flavor_id: uuid.UUID):
    """Delete a flavor that has no results"""
    Flavor.get_or_404(flavor_id).delete()
    commit()


@blp.route("/flavors/<uuid:flavor_id>/site", methods=["GET"])
@cached
@blp.access("public")
@blp.response(200, SiteSchema)
def get_flavor_site(flavor_id: uuid.UUID):
    """Retrieve the site a flavor belongs to"""
    return Flavor.get_or_404(flavor_id).site


add_review_routes(blp, Flavor, "flavor_id", prefix="/flavors")
