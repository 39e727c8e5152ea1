"""/artifacts: the files behind results and experiments, streamed to and from the store.

Uploads go from the socket to the store as they arrive (``backend.artifact_stores.intake``);
downloads stream back with ETag and ranges (``backend.artifact_stores.serving``). Private
artifacts exist only for their owner and admins: to anyone else every route answers as if
they did not exist.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, request, url_for
from sqlalchemy import Select, Text, cast

from backend import auth
from backend.artifact_stores import current_store
from backend.artifact_stores.catalog import (
    check_upload_token,
    delete_artifact,
    experiment_or_404,
    fill_pending,
    find_ready,
    find_visible,
    limits_for,
    links,
    receive_upload,
    request_body,
    upload_expiry,
    upload_token,
    visible_artifacts,
)
from backend.artifact_stores.intake import BlobMismatch, receive_raw
from backend.artifact_stores.serving import blob_response
from backend.dialects import json_match
from backend.errors import InvalidState
from backend.extensions import db
from backend.middleware import body_limit
from backend.models import Artifact, ArtifactState, Result
from backend.queries import filter_equal, filter_upload, paginate, search, sort
from backend.routes.blueprint import Blueprint
from backend.schemas.artifacts import Artifact as ArtifactSchema
from backend.schemas.artifacts import (
    ArtifactChanges,
    ArtifactFilterArgs,
    ArtifactListArgs,
    Artifacts,
    NewUploadUrl,
    UploadToken,
    UploadUrl,
)
from backend.unit_of_work import commit

blp = Blueprint("artifacts", __name__, description="Artifacts: models, datasets, logs, outputs")

SORT_FIELDS = {
    "upload_datetime": Artifact.upload_datetime,
    "name": Artifact.name,
    "size": Artifact.size,
    "kind": Artifact.kind,
    "id": Artifact.id,
}
DEFAULT_SORT = [("upload_datetime", True)]


def filter_artifacts(stmt: Select, args: dict[str, Any]) -> Select:
    """The list filters: kind, uploader, links, dates, metadata filters and terms."""
    stmt = filter_equal(
        stmt,
        args,
        {
            "kind": Artifact.kind,
            "uploader_id": Artifact.uploader_id,
            "result_id": Artifact.result_id,
            "parent_id": Artifact.parent_id,
            "state": Artifact.state,
        },
    )
    if args.get("experiment_id") is not None:
        stmt = stmt.where(Artifact.experiment_pk == experiment_or_404(args["experiment_id"]).id)
    stmt = filter_upload(stmt, Artifact.upload_datetime, args)
    dialect = db.session.get_bind().dialect.name
    for path, op, value in args.get("filters") or []:
        stmt = stmt.where(json_match(dialect, Artifact.properties, path, op, value))
    metadata_text = cast(Artifact.properties, Text)
    return search(
        stmt, args.get("terms") or [], [Artifact.name, Artifact.description, metadata_text]
    )


def artifact_page(args: dict[str, Any], stmt: Select) -> dict:
    stmt = sort(stmt, args.get("sort_by"), SORT_FIELDS, default=DEFAULT_SORT, id_column=Artifact.id)
    return paginate(stmt, args)


@blp.route("/artifacts", methods=["GET"])
@blp.access("public")
@blp.arguments(ArtifactFilterArgs, location="query")
@blp.response(200, Artifacts)
def list_artifacts(args):
    """List and search artifacts

    Filters: kind, uploader_id, result_id, experiment_id, parent_id, state, upload dates,
    `filters=<path> <op> <value>` on the metadata (as on /results) and `terms=` (each a
    case-insensitive substring of the name, description or metadata). Private artifacts
    are listed to their owner and admins only.
    """
    return artifact_page(args, filter_artifacts(visible_artifacts(), args))


@blp.route("/artifacts", methods=["POST"])
@body_limit(None)
@blp.access("user")
@blp.response(201, ArtifactSchema)
def create_artifact():
    """Upload an artifact, streamed to the store

    `multipart/form-data` with the fields (kind, name, description, metadata, visibility,
    result_id, experiment_id, parent_id, size, sha256) first and the file last, or the raw
    bytes as `application/octet-stream` with the fields in the query. A declared size or
    sha256 that the bytes do not match is a 400; past ARTIFACTS_MAX_SIZE or your quota a
    413; either way nothing is kept.
    """
    return receive_upload(auth.current_user())


@blp.route("/artifacts:upload-url", methods=["POST"])
@blp.access("user")
@blp.arguments(NewUploadUrl)
@blp.response(201, UploadUrl)
def create_upload_url(values):
    """Create a pending artifact and a URL to PUT its bytes to without a token

    With the S3 store the URL is presigned for the bucket; POST
    /artifacts/{id}:complete once the PUT is done. With the local store it is a signed
    URL of this service, and the artifact is ready as soon as the PUT succeeds. The
    declared size counts against your quota; pending artifacts expire.
    """
    user = auth.current_user()
    found_links = links(values)
    limits_for(user, values["size"])
    store = current_store()
    direct_key = store.direct_upload_key()
    artifact = Artifact.create(
        id=uuid.uuid4(),
        kind=values["kind"],
        name=values["name"],
        description=values["description"],
        properties=values["metadata"],
        visibility=values["visibility"],
        state=ArtifactState.pending,
        size=values["size"],
        sha256=values.get("sha256"),
        blob_key=direct_key,
        expires_at=upload_expiry(),
        uploader=user,
        **found_links,
    )
    commit(keep_loaded=True)
    if direct_key is not None:
        seconds = current_app.config["ARTIFACT_UPLOAD_URL_SECONDS"]
        upload_url = store.direct_upload_url(direct_key, seconds)
    else:
        upload_url = url_for(
            "artifacts.upload_artifact_bytes",
            artifact_id=artifact.id,
            token=upload_token(artifact),
            _external=True,
        )
    return {"artifact_id": artifact.id, "upload_url": upload_url, "expires_at": artifact.expires_at}


def pending_artifact(artifact_id: uuid.UUID) -> Artifact:
    artifact = Artifact.get_or_404(artifact_id)
    if artifact.is_ready:
        raise InvalidState(f"Artifact {artifact_id} already has its bytes.")
    return artifact


@blp.route("/artifacts/<uuid:artifact_id>:upload", methods=["PUT"])
@body_limit(None)
@blp.access("public")
@blp.arguments(UploadToken, location="query")
@blp.response(200, ArtifactSchema)
def upload_artifact_bytes(args, artifact_id: uuid.UUID):
    """PUT the bytes of a pending artifact to its upload URL (local store)

    The body is the bytes (any Content-Type). The URL's signed token stands in for the
    bearer token. The bytes must match the size
    (and sha256) declared when the URL was made.
    """
    check_upload_token(artifact_id, args["token"])
    artifact = pending_artifact(artifact_id)
    if artifact.blob_key is not None:
        raise InvalidState("This artifact takes its bytes at its presigned store URL.")
    limits = limits_for(artifact.uploader, artifact.size, replacing=artifact)
    blob = receive_raw(request_body(), current_store(), limits)
    return fill_pending(artifact, blob)


@blp.route("/artifacts/<uuid:artifact_id>:complete", methods=["POST"])
@blp.access("owner_or_admin")
@blp.response(200, ArtifactSchema)
def complete_upload(artifact_id: uuid.UUID):
    """Mark a pending artifact ready once its bytes were PUT to the presigned URL (S3)

    The service reads the object back once to check its size and sha256; if they differ
    from what was declared the object is removed (400) and the URL may be used again
    until it expires.
    """
    artifact = find_visible(artifact_id)
    auth.require_owner_or_admin(artifact.uploader_id)
    if artifact.is_ready:
        return artifact
    if artifact.blob_key is None:
        raise InvalidState("PUT the bytes to the upload URL; the artifact is then ready.")
    store = current_store()
    if not store.exists(artifact.blob_key):
        raise InvalidState("Nothing was uploaded to the presigned URL yet.")
    key = artifact.blob_key
    try:
        return fill_pending(artifact, store.adopt(key))
    except BlobMismatch:
        store.delete(key)  # the pending row still names it: a new PUT may follow
        raise


@blp.route("/artifacts/<uuid:artifact_id>", methods=["GET"])
@blp.access("public")
@blp.response(200, ArtifactSchema)
def get_artifact(artifact_id: uuid.UUID):
    """Retrieve an artifact's description"""
    return find_visible(artifact_id)


@blp.route("/artifacts/<uuid:artifact_id>", methods=["PATCH"])
@blp.access("owner_or_admin")
@blp.arguments(ArtifactChanges)
@blp.response(200, ArtifactSchema)
def update_artifact(changes, artifact_id: uuid.UUID):
    """Change an artifact's metadata, description or visibility (its uploader or an admin)"""
    artifact = find_visible(artifact_id)
    auth.require_owner_or_admin(artifact.uploader_id)
    artifact.update(changes)
    commit(keep_loaded=True)
    return artifact


@blp.route("/artifacts/<uuid:artifact_id>", methods=["DELETE"])
@blp.access("owner_or_admin")
@blp.response(204)
def remove_artifact(artifact_id: uuid.UUID):
    """Delete an artifact and its bytes (its uploader or an admin)"""
    artifact = find_visible(artifact_id)
    auth.require_owner_or_admin(artifact.uploader_id)
    delete_artifact(artifact)


@blp.route("/artifacts/<uuid:artifact_id>/blob", methods=["GET"])
@blp.access("public")
@blp.response(200, {"type": "string", "format": "binary"}, content_type="application/octet-stream")
def download_artifact(artifact_id: uuid.UUID):
    """Download an artifact's bytes (GET or HEAD; ETag, If-None-Match, Range)"""
    return blob_response(current_store(), find_ready(artifact_id), request)


@blp.route("/results/<uuid:result_id>/artifacts", methods=["GET"])
@blp.access("public")
@blp.arguments(ArtifactListArgs, location="query")
@blp.response(200, Artifacts)
def list_result_artifacts(args, result_id: uuid.UUID):
    """List the artifacts of a result"""
    Result.get_or_404(result_id)
    stmt = visible_artifacts().where(Artifact.result_id == result_id)
    return artifact_page(args, filter_equal(stmt, args, {"kind": Artifact.kind}))


@blp.route("/experiments/<experiment:experiment_id>/artifacts", methods=["GET"])
@blp.access("public")
@blp.arguments(ArtifactListArgs, location="query")
@blp.response(200, Artifacts)
def list_experiment_artifacts(args, experiment_id: str):
    """List the artifacts of an experiment"""
    experiment = experiment_or_404(experiment_id)
    stmt = visible_artifacts().where(Artifact.experiment_pk == experiment.id)
    return artifact_page(args, filter_equal(stmt, args, {"kind": Artifact.kind}))
