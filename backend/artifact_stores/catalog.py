"""Artifact rows and their blobs together, for the routes that serve them (``/artifacts``
and Morpheo's ``/storage``): who may see what, storing an upload, deleting row then blob.

The order of operations keeps the promise "nothing orphaned, nothing lost": a blob is
written before its row is committed and removed again if that commit fails; a row is
deleted (and committed) before its blob, and the blob only if no other row names it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import marshmallow as ma
from flask import current_app, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Select, delete, select

from backend import auth
from backend.artifact_stores import current_store
from backend.artifact_stores.base import StoredBlob
from backend.artifact_stores.intake import (
    ExactBody,
    Limits,
    MalformedUpload,
    check_declared,
    discard,
    receive_multipart,
    receive_raw,
)
from backend.errors import DomainError, Forbidden, InvalidArguments, InvalidState, NotFound
from backend.extensions import db
from backend.models import Artifact, ArtifactState, Experiment, Result, User
from backend.models.types import utc_now
from backend.schemas.artifacts import NewArtifact
from backend.unit_of_work import commit

#: itsdangerous salt of upload URL tokens (their signature is good for nothing else).
UPLOAD_TOKEN_SALT = "backend.artifacts.upload-url"


def caller() -> tuple[User | None, bool]:
    """The registered caller (None if anonymous) and whether they are an admin."""
    user = auth.optional_user()
    return user, user is not None and auth.caller_is_admin()


def visible_artifacts() -> Select:
    """The artifacts the caller may know of (``Artifact.visible_to``)."""
    user, admin = caller()
    return select(Artifact).where(Artifact.visible_to(user, admin))


def find_visible(artifact_id: uuid.UUID) -> Artifact:
    """The artifact, if the caller may see it; else the same 404 as for no artifact at all."""
    artifact = db.session.get(Artifact, artifact_id)
    user, admin = caller()
    if artifact is None or not artifact.is_visible_to(user, admin):
        raise NotFound(f"No artifact with id {artifact_id}.")
    return artifact


def find_ready(artifact_id: uuid.UUID) -> Artifact:
    artifact = find_visible(artifact_id)
    if not artifact.is_ready:
        raise InvalidState(
            f"Artifact {artifact_id} is pending: its bytes have not arrived yet (PUT them to "
            "its upload URL)."
        )
    return artifact


def load_fields(schema: ma.Schema, values: Mapping[str, Any], location: str) -> dict[str, Any]:
    """``values`` (form fields or query) loaded by ``schema``; 422 naming each bad field."""
    try:
        return schema.load(values)
    except ma.ValidationError as error:
        messages = error.normalized_messages()
        summary = "; ".join(
            f"{name}: {' '.join(map(str, problem)) if isinstance(problem, list) else problem}"
            for name, problem in messages.items()
        )
        raise InvalidArguments(
            f"The request arguments are invalid: {summary}", errors={location: messages}
        ) from None


def links(values: Mapping[str, Any]) -> dict[str, Any]:
    """The row's link columns for the ``result_id``, ``experiment_id`` and ``parent_id``
    given; 404 for one that does not exist (or that the caller may not see)."""
    found: dict[str, Any] = {}
    if values.get("result_id") is not None:
        found["result_id"] = Result.get_or_404(values["result_id"]).id
    if values.get("experiment_id") is not None:
        found["experiment"] = experiment_or_404(values["experiment_id"])
    if values.get("parent_id") is not None:
        found["parent_id"] = find_visible(values["parent_id"]).id
    return found


def experiment_or_404(experiment_id: str) -> Experiment:
    experiment = db.session.execute(
        select(Experiment).where(Experiment.experiment_id == experiment_id)
    ).scalar_one_or_none()
    if experiment is None:
        raise NotFound(f"No experiment with id {experiment_id}.")
    return experiment


def limits_for(
    user: User, declared_size: int | None, *, replacing: Artifact | None = None
) -> Limits:
    """What ``user``'s next upload may hold; a declared size past a limit is refused now.
    ``replacing``: the artifact whose bytes these are, whose size is already counted."""
    config = current_app.config
    used = Artifact.bytes_used_by(user)
    if replacing is not None:
        used -= replacing.size or 0
    limits = Limits(
        config["ARTIFACTS_MAX_SIZE"], config["ARTIFACTS_USER_QUOTA"], used, declared_size
    )
    if declared_size is not None:
        limits.check(declared_size)
    return limits


def store_artifact(
    values: Mapping[str, Any], found_links: Mapping[str, Any], blob: StoredBlob, user: User
) -> Artifact:
    """Commit the row of an uploaded blob (checked against the declared size and sha256);
    on any failure the blob is removed again."""
    with removed_on_failure(blob):
        check_declared(blob, values.get("size"), values.get("sha256"))
        artifact = Artifact.create(
            id=values.get("id") or uuid.uuid4(),
            kind=values["kind"],
            name=values.get("name", ""),
            description=values.get("description", ""),
            properties=values.get("metadata") or {},
            visibility=values["visibility"],
            state=ArtifactState.ready,
            size=blob.size,
            sha256=blob.sha256,
            blob_key=blob.key,
            uploader=user,
            **found_links,
        )
        commit(keep_loaded=True)
    return artifact


class UnsupportedUpload(DomainError):
    status_code = 415


def receive_upload(
    user: User,
    fields_schema: ma.Schema | None = None,
    *,
    given: Mapping[str, Any] | None = None,
    any_raw_type: bool = False,
) -> Artifact:
    """Store the request's body as a new artifact of ``user``: multipart (fields, then the
    file) or raw bytes (fields in the query). Shared by POST /artifacts and /storage.

    ``fields_schema`` reads the fields (default: ``NewArtifact``); ``given`` adds values the
    route knows (Morpheo's kind from the path). ``any_raw_type``: a body of any type but
    multipart is the raw bytes (curl --data-binary labels them as a form).
    """
    schema = fields_schema or NewArtifact()
    store = current_store()
    checked: dict[str, Any] = {}

    def check(fields: Mapping[str, Any], location: str) -> Limits:
        checked["values"] = {**(given or {}), **load_fields(schema, fields, location)}
        checked["links"] = links(checked["values"])
        return limits_for(user, checked["values"].get("size"))

    if request.mimetype == "multipart/form-data":
        _, blob = receive_multipart(
            request_body(), multipart_boundary(), store, lambda fields: check(fields, "form")
        )
    elif any_raw_type or request.mimetype in {"application/octet-stream", ""}:
        blob = receive_raw(request_body(), store, check(request.args, "query"))
    else:
        raise UnsupportedUpload(
            "Send the artifact as multipart/form-data (fields first, the file last) or as "
            f"application/octet-stream (fields in the query), not {request.mimetype}."
        )
    assert blob is not None
    return store_artifact(checked["values"], checked["links"], blob, user)


def request_body() -> ExactBody:
    """The request's body as a stream that refuses to end before its Content-Length."""
    return ExactBody(request.stream, request.content_length)


def multipart_boundary() -> bytes:
    boundary = request.mimetype_params.get("boundary")
    if not boundary:
        raise MalformedUpload("The multipart Content-Type has no boundary.")
    return boundary.encode()


@contextmanager
def removed_on_failure(blob: StoredBlob) -> Iterator[None]:
    """Remove ``blob`` again (unless another row names it) if the block fails: the row
    that was to name it is not stored."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        discard(current_store(), blob.key)
        raise


def fill_pending(artifact: Artifact, blob: StoredBlob) -> Artifact:
    """Make a pending artifact ready with ``blob`` (checked against what was declared)."""
    with removed_on_failure(blob):
        check_declared(blob, artifact.size, artifact.sha256)
        artifact.update(
            {
                "state": ArtifactState.ready,
                "blob_key": blob.key,
                "sha256": blob.sha256,
                "expires_at": None,
            }
        )
        commit(keep_loaded=True)
    return artifact


def replace_blob(artifact: Artifact, blob: StoredBlob, declared_size: int | None) -> None:
    """Give ``artifact`` new bytes; the old blob goes once no row names it."""
    old_key = artifact.blob_key
    with removed_on_failure(blob):
        check_declared(blob, declared_size, None)
        artifact.update({"size": blob.size, "sha256": blob.sha256, "blob_key": blob.key})
        commit(keep_loaded=True)
    if old_key is not None and old_key != blob.key:
        discard(current_store(), old_key)


def delete_artifact(artifact: Artifact) -> None:
    """Delete the row, then its blob unless another row names it."""
    key = artifact.blob_key
    artifact.delete()
    commit()
    if key is not None:
        discard(current_store(), key)


def upload_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=UPLOAD_TOKEN_SALT)


def upload_token(artifact: Artifact) -> str:
    return upload_serializer().dumps(str(artifact.id))


def check_upload_token(artifact_id: uuid.UUID, token: str) -> None:
    """403 unless ``token`` was made for this artifact within ARTIFACT_UPLOAD_URL_SECONDS."""
    try:
        signed_id = upload_serializer().loads(
            token, max_age=current_app.config["ARTIFACT_UPLOAD_URL_SECONDS"]
        )
    except SignatureExpired:
        raise Forbidden("This upload URL has expired; ask for a new one.") from None
    except BadSignature:
        raise Forbidden("This upload URL is not valid (its token was changed).") from None
    if signed_id != str(artifact_id):
        raise Forbidden("This upload URL is for another artifact.")


def upload_expiry() -> datetime:
    return utc_now() + timedelta(seconds=current_app.config["ARTIFACT_UPLOAD_URL_SECONDS"])


def remove_expired_pending(now: datetime) -> int:
    """Delete pending artifacts past their expiry, and whatever bytes they got; their count."""
    expired = db.session.execute(
        select(Artifact.id, Artifact.blob_key).where(
            Artifact.state == ArtifactState.pending, Artifact.expires_at < now
        )
    ).all()
    if not expired:
        return 0
    db.session.execute(delete(Artifact).where(Artifact.id.in_([row.id for row in expired])))
    db.session.commit()
    store = current_store()
    for row in expired:
        if row.blob_key is not None:
            discard(store, row.blob_key)
    return len(expired)
