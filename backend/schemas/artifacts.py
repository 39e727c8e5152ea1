"""Artifact metadata (form fields, query or JSON), responses and list arguments."""

from __future__ import annotations

import json
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from backend.models import ArtifactKind, ArtifactState, Visibility
from backend.schemas.common import (
    AwareDateTime,
    PaginationArgs,
    Schema,
    SearchArgs,
    SortBy,
    UploadFilterArgs,
    page_of,
)
from backend.schemas.results import JsonFilterField

ARTIFACT_SORT_FIELDS = ["upload_datetime", "name", "size", "kind", "id"]
SHA256 = validate.Regexp(
    r"^[0-9a-fA-F]{64}$", error="A sha256 is 64 hexadecimal digits (sha256sum prints it)."
)


class JsonObject(fields.Field):
    """A JSON object: as such in JSON bodies, as its JSON text in form fields and queries."""

    def _deserialize(self, value: Any, attr, data, **kwargs) -> dict:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ma.ValidationError(
                    'Not valid JSON; send a JSON object, e.g. {"doi": "10.5281/zenodo.1"}.'
                ) from None
        if not isinstance(value, dict):
            raise ma.ValidationError("Must be a JSON object.")
        return value

    def _serialize(self, value: Any, attr, obj, **kwargs) -> Any:
        return value


class ArtifactChanges(Schema):
    """What PATCH /artifacts/{id} may change."""

    metadata = JsonObject(
        attribute="properties",
        metadata={"description": "Free JSON object: provenance, DOI, runtime requirements."},
    )
    description = fields.String(validate=validate.Length(max=10_000))
    visibility = fields.Enum(Visibility, by_value=True)


class NewArtifact(Schema):
    """An artifact's metadata: the form fields before the file, or the query of a raw body."""

    kind = fields.Enum(ArtifactKind, by_value=True, required=True)
    name = fields.String(load_default="", validate=validate.Length(max=255))
    description = fields.String(load_default="", validate=validate.Length(max=10_000))
    metadata = JsonObject(
        load_default=dict,
        metadata={"description": "A JSON object: provenance, DOI, runtime requirements..."},
    )
    visibility = fields.Enum(
        Visibility,
        by_value=True,
        load_default=Visibility.public,
        metadata={"description": "public (default): everyone; private: you and admins."},
    )
    result_id = fields.UUID(metadata={"description": "The result this artifact belongs to."})
    experiment_id = fields.String(metadata={"description": "The experiment it belongs to."})
    parent_id = fields.UUID(metadata={"description": "The artifact it derives from."})
    size = fields.Integer(
        validate=validate.Range(min=0),
        metadata={"description": "Bytes expected; a body of another size is refused (400)."},
    )
    sha256 = fields.String(
        validate=SHA256,
        metadata={"description": "sha256 expected; other bytes are refused (400)."},
    )


class NewUploadUrl(NewArtifact):
    size = fields.Integer(
        required=True,
        validate=validate.Range(min=0),
        metadata={"description": "Bytes that will be PUT (counted against your quota)."},
    )


class UploadUrl(Schema):
    artifact_id = fields.UUID(required=True)
    upload_url = fields.String(
        required=True, metadata={"description": "PUT the bytes here, without a bearer token."}
    )
    expires_at = AwareDateTime(required=True)


class UploadToken(Schema):
    token = fields.String(required=True, metadata={"description": "From the upload URL."})


class Artifact(Schema):
    id = fields.UUID(dump_only=True)
    kind = fields.Enum(ArtifactKind, by_value=True, dump_only=True)
    name = fields.String(dump_only=True)
    description = fields.String(dump_only=True)
    metadata = JsonObject(attribute="properties", dump_only=True)
    visibility = fields.Enum(Visibility, by_value=True, dump_only=True)
    state = fields.Enum(
        ArtifactState,
        by_value=True,
        dump_only=True,
        metadata={"description": "pending until the bytes of an upload URL arrived."},
    )
    size = fields.Integer(dump_only=True, allow_none=True)
    sha256 = fields.String(dump_only=True, allow_none=True)
    upload_datetime = AwareDateTime(dump_only=True)
    expires_at = AwareDateTime(dump_only=True, allow_none=True)
    uploader_id = fields.UUID(dump_only=True, allow_none=True)
    result_id = fields.UUID(dump_only=True, allow_none=True)
    experiment_id = fields.String(dump_only=True, allow_none=True)
    parent_id = fields.UUID(dump_only=True, allow_none=True)


Artifacts = page_of(Artifact, "Artifacts")


class ArtifactFilterArgs(PaginationArgs, UploadFilterArgs, SearchArgs):
    kind = fields.Enum(ArtifactKind, by_value=True)
    uploader_id = fields.UUID()
    result_id = fields.UUID()
    experiment_id = fields.String()
    parent_id = fields.UUID()
    state = fields.Enum(ArtifactState, by_value=True)
    filters = fields.List(
        JsonFilterField(
            metadata={
                "description": "On the metadata: '<path.separated.by.dots> <op> <value>', op "
                "one of ==, >, <, >=, <=.",
                "example": "framework.version >= 2",
            }
        ),
        load_default=list,
    )
    sort_by = SortBy(ARTIFACT_SORT_FIELDS)


class ArtifactListArgs(PaginationArgs):
    """Arguments of the lists under a result or an experiment."""

    kind = fields.Enum(ArtifactKind, by_value=True)


# --- Morpheo's storage API (/storage) -----------------------------------------------------

#: The fields of each Morpheo resource, as its storage API answers them.
MORPHEO_FIELDS = {
    "algo": ("uuid", "timestamp_upload", "name"),
    "data": ("uuid", "timestamp_upload"),
    "model": ("uuid", "timestamp_upload", "algo"),
    "prediction": ("uuid", "timestamp_upload"),
    "problem": ("uuid", "timestamp_upload", "name", "description"),
}


class MorpheoFields(Schema):
    """The form fields of Morpheo's POST and PATCH (the blob is the last part)."""

    uuid = fields.UUID(attribute="id", metadata={"description": "Optional id of the new item."})
    name = fields.String(validate=validate.Length(max=255))
    description = fields.String(validate=validate.Length(max=10_000))
    size = fields.Integer(validate=validate.Range(min=0))


class MorpheoModelArgs(Schema):
    """The query of Morpheo's POST /model (the raw body is the model)."""

    algo = fields.UUID(required=True, metadata={"description": "The model's algorithm."})
    uuid = fields.UUID(attribute="id", metadata={"description": "Optional id of the model."})


class MorpheoItem(Schema):
    """An algo, data, model, prediction or problem (each with its fields of MORPHEO_FIELDS)."""

    uuid = fields.UUID()
    timestamp_upload = fields.Integer(metadata={"description": "Upload time, Unix seconds."})
    name = fields.String()
    description = fields.String()
    algo = fields.UUID(metadata={"description": "A model's algorithm."})


class MorpheoItems(Schema):
    page = fields.Integer(required=True)
    length = fields.Integer(required=True)
    items = fields.List(fields.Nested(MorpheoItem), required=True)


class MorpheoListArgs(PaginationArgs):
    """The house's page arguments (page from 1); Morpheo's lists had 30 items."""

    per_page = fields.Integer(
        load_default=30,
        validate=validate.Range(min=1, max=100),
        metadata={"description": "Items per page (1 to 100)."},
    )


class MorpheoHealth(Schema):
    status = fields.String(required=True)
