"""Benchmarks: a pinned container image and the JSON Schema its results must satisfy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonschema import exceptions as jsonschema_errors
from jsonschema import validators
from sqlalchemy import String, Text, UniqueConstraint, exists, select
from sqlalchemy.orm import Mapped, mapped_column

from backend.dialects import JsonDocument
from backend.errors import Conflict, InvalidJsonSchema, SchemaViolation
from backend.extensions import db
from backend.models.approval import NeedsApprove
from backend.models.core import PkModel
from backend.models.uploader import HasUploader
from backend.schema_check import Check, compile_check


class Benchmark(NeedsApprove, HasUploader, PkModel):
    """A container image pinned to a tag, with the JSON Schema its results must satisfy.

    Pinning the tag keeps results comparable: a new image version that changes its scoring
    is a new benchmark.
    """

    __tablename__ = "benchmarks"
    __table_args__ = (UniqueConstraint("docker_image", "docker_tag"),)
    resource_type = "benchmark"

    docker_image: Mapped[str] = mapped_column(String(255), nullable=False)
    docker_tag: Mapped[str] = mapped_column(String(128), nullable=False)
    url: Mapped[str | None] = mapped_column(Text)
    json_schema: Mapped[dict[str, Any]] = mapped_column(JsonDocument, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)

    @property
    def name(self) -> str:
        return f"{self.docker_image}:{self.docker_tag}"

    def __init__(self, **properties: Any) -> None:
        if "json_schema" in properties:
            check_json_schema(properties["json_schema"])
        super().__init__(**properties)

    def update(self, properties: dict[str, Any]) -> None:
        if "json_schema" in properties:
            check_json_schema(properties["json_schema"])
        super().update(properties)

    def validate_result(self, document: Any) -> None:
        """Raise SchemaViolation naming each failing JSON path if ``document`` is invalid."""
        validator = self._validator()
        if validator.quick_check is not None and validator.quick_check(document):
            return
        errors = sorted(
            validator.full.iter_errors(document),
            key=lambda e: list(map(str, e.absolute_path)),
        )
        if errors:
            details = {json_path(e): [e.message] for e in errors}
            first = errors[0]
            raise SchemaViolation(
                f"The result does not match the benchmark's JSON Schema at "
                f"{json_path(first)}: {first.message}",
                errors={"json": details},
            )

    def _validator(self):
        """The compiled validator of the current schema, found once per schema object:
        serialising a schema to look it up costs about as much as validating a small
        result, and an import validates thousands per second. (The schema is replaced,
        never changed in place, when a benchmark is updated.)"""
        schema = self.json_schema
        memo = getattr(self, "_validator_memo", None)
        if memo is None or memo[0] is not schema:
            memo = self._validator_memo = (schema, compiled_validator(canonical_json(schema)))
        return memo[1]

    def delete(self) -> None:
        from backend.models.result import Result

        if db.session.scalar(select(exists().where(Result.benchmark_id == self.id))):
            raise Conflict("This benchmark has results; delete them before the benchmark.")
        super().delete()


def canonical_json(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def check_json_schema(schema: Any) -> None:
    """Raise InvalidJsonSchema unless ``schema`` is a JSON Schema its own draft accepts."""
    if not isinstance(schema, dict):
        raise InvalidJsonSchema("json_schema must be a JSON object ({} accepts anything).")
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema_errors.SchemaError as error:
        raise InvalidJsonSchema(
            f"json_schema is not a valid JSON Schema at {json_path(error)}: {error.message}",
            errors={"json_schema": [error.message]},
        ) from None


@dataclass(frozen=True)
class ResultValidator:
    """A schema's jsonschema validator (the errors), and its compiled yes/no check (the
    fast path for valid documents; ``None`` where the schema is not compiled)."""

    full: Any
    quick_check: Check | None


@lru_cache(maxsize=256)
def compiled_validator(schema_json: str) -> ResultValidator:
    """One validator per distinct schema, built once: building is far costlier than using."""
    schema = json.loads(schema_json)
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    full = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return ResultValidator(full, compile_check(schema, full))


def json_path(error: jsonschema_errors._Error) -> str:
    """The failing location as a JSONPath (``$.machine.cpu.count``)."""
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return "$" + path
