"""/storage: Morpheo's storage API, backed by the artifacts (docs/artifacts.md).

Paths, form fields and answers are those of Morpheo's storage service: ``GET /storage``
lists the routes, ``/storage/health``, ``GET /storage/{algo,data,model,prediction,
problem}[/{uuid}[/blob]]``, multipart POSTs with the blob as the last field, ``POST
/storage/model?algo=<uuid>`` with the raw body, ``PATCH /storage/problem/{uuid}``. A
Morpheo client changes its base URL and sends a bearer token instead of basic auth; what
it stores is an artifact of the same kind (public), visible under /artifacts too.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import jsonify, request

from backend import auth
from backend.artifact_stores import current_store
from backend.artifact_stores.catalog import (
    find_ready,
    find_visible,
    limits_for,
    load_fields,
    multipart_boundary,
    receive_upload,
    replace_blob,
    request_body,
    visible_artifacts,
)
from backend.artifact_stores.intake import receive_multipart
from backend.artifact_stores.serving import blob_response
from backend.errors import InvalidArguments, NotFound
from backend.middleware import body_limit
from backend.models import Artifact, ArtifactKind, Visibility
from backend.queries import paginate
from backend.routes.blueprint import Blueprint
from backend.schemas.artifacts import (
    MORPHEO_FIELDS,
    MorpheoFields,
    MorpheoHealth,
    MorpheoItem,
    MorpheoItems,
    MorpheoListArgs,
    MorpheoModelArgs,
)
from backend.unit_of_work import commit

blp = Blueprint("storage", __name__, description="Morpheo's storage API, backed by artifacts")

RESOURCES = tuple(MORPHEO_FIELDS)
#: Resources created by a multipart POST (a model is a raw body with ?algo=).
FORM_RESOURCES = "any(algo, data, prediction, problem)"
ANY_RESOURCE = "any(algo, data, model, prediction, problem)"


def morpheo_item(artifact: Artifact) -> dict[str, Any]:
    """An artifact as Morpheo answers its kind of resource."""
    values = {
        "uuid": artifact.id,
        "timestamp_upload": int(artifact.upload_datetime.timestamp()),
        "name": artifact.name,
        "description": artifact.description,
        "algo": artifact.parent_id,
    }
    return {name: values[name] for name in MORPHEO_FIELDS[artifact.kind.value]}


def find_item(resource: str, item_id: uuid.UUID) -> Artifact:
    artifact = find_visible(item_id)
    if artifact.kind.value != resource:
        raise NotFound(f"No {resource} with uuid {item_id}.")
    return artifact


@blp.route("/storage", methods=["GET"])
@blp.access("public")
@blp.response(200, {"type": "array", "items": {"type": "string"}})
def list_storage_routes():
    """List Morpheo's storage routes"""
    routes = ["/storage", "/storage/health"]
    for resource in RESOURCES:
        routes += [f"/storage/{resource}", f"/storage/{resource}/:uuid"]
        routes.append(f"/storage/{resource}/:uuid/blob")
    return jsonify(routes)  # a JSON array, as Morpheo answers (no schema dumps one)


@blp.route("/storage/health", methods=["GET"])
@blp.access("public")
@blp.response(200, MorpheoHealth)
def storage_health():
    """Liveness of Morpheo's storage API"""
    return {"status": "ok"}


@blp.route(f"/storage/<{ANY_RESOURCE}:resource>", methods=["GET"])
@blp.access("user")
@blp.arguments(MorpheoListArgs, location="query")
@blp.response(200, MorpheoItems)
def list_storage_items(args, resource: str):
    """List the algos, data, models, predictions or problems, newest first

    Morpheo's answer: `{"page", "length", "items"}`, 30 items by default, its `page`
    counted from 0 (so `?page=2` answers `"page": 1`).
    """
    stmt = (
        visible_artifacts()
        .where(Artifact.kind == ArtifactKind(resource))
        .order_by(Artifact.upload_datetime.desc(), Artifact.id)
    )
    page = paginate(stmt, args)
    items = [morpheo_item(artifact) for artifact in page["items"]]
    return {"page": page["page"] - 1, "length": len(items), "items": items}


@blp.route(f"/storage/<{FORM_RESOURCES}:resource>", methods=["POST"])
@body_limit(None)
@blp.access("user")
@blp.response(201, MorpheoItem)
def create_storage_item(resource: str):
    """Upload an algo, data, prediction or problem (multipart, the blob last)

    A `multipart/form-data` body: uuid (optional), name, description, size, then the blob
    as the last field. Answers the item as Morpheo does.
    """
    given = {"kind": ArtifactKind(resource), "visibility": Visibility.public}
    artifact = receive_upload(auth.current_user(), MorpheoFields(), given=given)
    return morpheo_item(artifact)


@blp.route("/storage/model", methods=["POST"])
@body_limit(None)
@blp.access("user")
@blp.response(201, MorpheoItem)
def create_storage_model():
    """Upload a model: the raw body, its algorithm in the query (?algo=<uuid>)

    The body is the model's bytes, whatever its Content-Type (`curl --data-binary`).
    """
    values = load_fields(MorpheoModelArgs(), request.args, "query")
    algo = find_item("algo", values["algo"])
    given = {"kind": ArtifactKind.model, "visibility": Visibility.public, "parent_id": algo.id}
    artifact = receive_upload(
        auth.current_user(), MorpheoModelArgs(), given=given, any_raw_type=True
    )
    return morpheo_item(artifact)


@blp.route(f"/storage/<{ANY_RESOURCE}:resource>/<uuid:item_id>", methods=["GET"])
@blp.access("user")
@blp.response(200, MorpheoItem)
def get_storage_item(resource: str, item_id: uuid.UUID):
    """Retrieve an algo, data, model, prediction or problem"""
    return morpheo_item(find_item(resource, item_id))


@blp.route(f"/storage/<{ANY_RESOURCE}:resource>/<uuid:item_id>/blob", methods=["GET"])
@blp.access("user")
@blp.response(200, {"type": "string", "format": "binary"}, content_type="application/octet-stream")
def download_storage_blob(resource: str, item_id: uuid.UUID):
    """Download the blob of an algo, data, model, prediction or problem"""
    find_item(resource, item_id)
    return blob_response(current_store(), find_ready(item_id), request)


@blp.route("/storage/problem/<uuid:item_id>", methods=["PATCH"])
@body_limit(None)
@blp.access("owner_or_admin")
@blp.response(200, MorpheoItem)
def update_storage_problem(item_id: uuid.UUID):
    """Change a problem's name or description, or replace its blob (multipart, all
    fields optional; its uploader or an admin)"""
    problem = find_item("problem", item_id)
    user = auth.require_owner_or_admin(problem.uploader_id)
    changes: dict[str, Any] = {}

    def check(fields: dict[str, str]) -> None:
        changes.update(load_fields(MorpheoFields(), fields, "form"))
        if changes.get("id", item_id) != item_id:
            raise InvalidArguments("A problem's uuid cannot change; leave the field out.")

    def file_starts(fields: dict[str, str]):
        check(fields)
        return limits_for(user, changes.get("size"), replacing=problem)

    fields, blob = receive_multipart(
        request_body(), multipart_boundary(), current_store(), file_starts, file_required=False
    )
    if blob is None:
        check(fields)
    problem.update({k: v for k, v in changes.items() if k in {"name", "description"}})
    if blob is not None:
        replace_blob(problem, blob, changes.get("size"))
    else:
        commit(keep_loaded=True)
    return morpheo_item(problem)
