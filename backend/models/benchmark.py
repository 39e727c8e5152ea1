"""Benchmarks: a pinned container image and the JSON Schema its results must satisfy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import referencing.jsonschema
from jsonschema import exceptions as jsonschema_errors
from referencing.exceptions import Unresolvable
from sqlalchemy import String, Text, UniqueConstraint, exists, select
from sqlalchemy.orm import Mapped, mapped_column

from backend.dialects import JsonDocument
from backend.errors import Conflict, InvalidJsonSchema, SchemaViolation
from backend.extensions import db
from backend.json_limits import SCHEMA_MAX_DEPTH, deeper_than
from backend.models.approval import NeedsApprove
from backend.models.core import PkModel
from backend.models.uploader import HasUploader
from backend.schema_check import (
    NO_RETRIEVAL,
    Check,
    build_validator,
    compile_check,
    validator_class,
)
from backend.schema_regex import UnusablePattern, compile_pattern


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
        """Raise SchemaViolation naming each failing JSON path if ``document`` is invalid,
        InvalidJsonSchema if the stored schema cannot be used (one stored before the checks
        of ``check_json_schema``: an admin must replace it)."""
        try:
            validator = self._validator()
        except InvalidJsonSchema as error:
            raise InvalidJsonSchema(
                f"The JSON Schema of benchmark {self.id} is unusable, so no result can be "
                f"checked against it; an admin must correct it. {error.message}"
            ) from None
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
    """Raise InvalidJsonSchema unless ``schema`` is a JSON Schema its own draft accepts and
    the service can run safely: nested at most ``SCHEMA_MAX_DEPTH`` levels, patterns RE2
    runs, references only inside the schema and never in a loop."""
    if not isinstance(schema, dict):
        raise InvalidJsonSchema("json_schema must be a JSON object ({} accepts anything).")
    if deeper_than(schema, SCHEMA_MAX_DEPTH):
        raise InvalidJsonSchema(
            f"json_schema is nested more than {SCHEMA_MAX_DEPTH} levels deep; at most "
            f"{SCHEMA_MAX_DEPTH} levels of objects and arrays are accepted."
        )
    cls = validator_class(schema)
    try:
        cls.check_schema(schema)
    except jsonschema_errors.SchemaError as error:
        raise InvalidJsonSchema(
            f"json_schema is not a valid JSON Schema at {json_path(error)}: {error.message}",
            errors={"json_schema": [error.message]},
        ) from None
    problem = _SchemaWalk(schema, cls).problem()
    if problem is not None:
        raise InvalidJsonSchema(f"json_schema {problem}", errors={"json_schema": [problem]})


#: The most distinct patterns a schema may hold: each costs up to tens of milliseconds to
#: compile for RE2.
SCHEMA_MAX_PATTERNS = 100
#: Keywords whose subschemas apply to the same instance (a reference among them that leads
#: back is a loop that never ends) and those that apply to a part of it (a recursion that
#: ends with the document).
_IN_PLACE = ("allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas")
_REFERENCES = ("$ref", "$dynamicRef", "$recursiveRef")
_BELOW = (
    "properties", "patternProperties", "additionalProperties", "unevaluatedProperties",
    "items", "prefixItems", "additionalItems", "unevaluatedItems", "contains",
    "propertyNames", "$defs", "definitions", "dependencies",
)  # fmt: skip


class _SchemaWalk:
    """Every subschema of a schema, reached through its keywords and its references, each
    checked once; then a search for a loop among the references and the keywords that
    apply in place."""

    def __init__(self, schema: dict[str, Any], cls: Any) -> None:
        specification = referencing.jsonschema.specification_with(
            cls.ID_OF(cls.META_SCHEMA) or "", default=referencing.jsonschema.DRAFT202012
        )
        self.specification = specification
        self.root = schema
        self.resolver = NO_RETRIEVAL.resolver_with_root(specification.create_resource(schema))
        self.paths: dict[int, str] = {}
        self.in_place: dict[int, list[int]] = {}
        self.patterns: set[str] = set()
        self.keywords_at: dict[str, str] = {}

    def problem(self) -> str | None:
        """What makes the schema unusable, with its JSON path; None when nothing does."""
        stack = [(self.root, "$", self.resolver)]
        self.paths[id(self.root)] = "$"
        while stack:
            node, path, resolver = stack.pop()
            try:
                found = self._visit(node, path, resolver)
            except _Unusable as error:
                return str(error)
            for child, child_path, child_resolver in found:
                if id(child) not in self.paths:
                    self.paths[id(child)] = child_path
                    stack.append((child, child_path, child_resolver))
        if {"unevaluatedProperties", "patternProperties"} <= self.keywords_at.keys():
            return (
                f"uses unevaluatedProperties (at {self.keywords_at['unevaluatedProperties']}) "
                "together with patternProperties, which the service cannot check in linear "
                "time; use additionalProperties"
            )
        return self._loop()

    def _visit(self, node: Any, path: str, resolver: Any) -> list[tuple[Any, str, Any]]:
        if not isinstance(node, dict):
            return []
        if "$schema" in node and node is not self.root:
            raise _Unusable(
                f"declares $schema at {path}; declare it once, at the top of the schema"
            )
        for keyword in ("unevaluatedProperties", "patternProperties"):
            if keyword in node:
                self.keywords_at.setdefault(keyword, path)
        self._pattern(node.get("pattern"), f"{path}.pattern")
        patterns = node.get("patternProperties")
        for pattern in patterns if isinstance(patterns, dict) else ():
            self._pattern(pattern, f"{path}.patternProperties")
        children = []
        in_place = self.in_place.setdefault(id(node), [])
        for keyword in _REFERENCES:
            reference = node.get(keyword)
            if isinstance(reference, str):
                target = self._lookup(resolver, reference, f"{path}.{keyword}")
                children.append((target.contents, f"{path}.{keyword}", target.resolver))
                in_place.append(id(target.contents))
        for keyword in (*_IN_PLACE, *_BELOW):
            for child, child_path in _subschemas(keyword, node.get(keyword), path):
                if isinstance(child, dict):
                    scope = resolver.in_subresource(self.specification.create_resource(child))
                    children.append((child, child_path, scope))
                    if keyword in _IN_PLACE or keyword == "dependencies":
                        in_place.append(id(child))
        return children

    def _pattern(self, pattern: Any, path: str) -> None:
        if not isinstance(pattern, str) or pattern in self.patterns:
            return
        self.patterns.add(pattern)
        if len(self.patterns) > SCHEMA_MAX_PATTERNS:
            raise _Unusable(f"holds more than {SCHEMA_MAX_PATTERNS} distinct patterns")
        try:
            compile_pattern(pattern)
        except UnusablePattern as error:
            raise _Unusable(
                f"has a pattern the service cannot run at {path}: {pattern!r}: {error}"
            ) from None

    def _lookup(self, resolver: Any, reference: str, path: str) -> Any:
        try:
            return resolver.lookup(reference)
        except Unresolvable:
            raise _Unusable(
                f"has a reference the service does not follow at {path}: {reference!r}; "
                "only references to parts of the schema itself (such as #/$defs/name) are "
                "resolved, nothing is ever fetched"
            ) from None

    def _loop(self) -> str | None:
        """A cycle among the in-place edges (found without recursion), as a message."""
        done: set[int] = set()
        for start in self.in_place:
            if start in done:
                continue
            on_path, stack = {start}, [(start, iter(self.in_place.get(start, ())))]
            while stack:
                node, edges = stack[-1]
                following = next(edges, None)
                if following is None:
                    stack.pop()
                    on_path.discard(node)
                    done.add(node)
                elif following in on_path:
                    return (
                        f"has a reference loop at {self.paths.get(following, '$')}: following "
                        "its references never reaches a keyword that checks anything"
                    )
                elif following not in done:
                    on_path.add(following)
                    stack.append((following, iter(self.in_place.get(following, ()))))
        return None


class _Unusable(Exception):
    """Why a schema cannot be used (the walk stops at the first reason)."""


#: Keywords whose value maps names to subschemas (``dependencies`` also to name lists).
_SCHEMA_MAPS = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependencies", "dependentSchemas"}
)


def _subschemas(keyword: str, value: Any, path: str) -> list[tuple[Any, str]]:
    """The subschemas of a keyword's value, with their JSON paths: the value itself, its
    items, or the values of its names."""
    path = f"{path}.{keyword}"
    if isinstance(value, dict) and keyword in _SCHEMA_MAPS:
        return [(child, f"{path}.{name}") for name, child in value.items()]
    if isinstance(value, list):
        return [(child, f"{path}[{index}]") for index, child in enumerate(value)]
    return [(value, path)]


@dataclass(frozen=True)
class ResultValidator:
    """A schema's jsonschema validator (the errors), and its compiled yes/no check (the
    fast path for valid documents; ``None`` where the schema is not compiled)."""

    full: Any
    quick_check: Check | None


@lru_cache(maxsize=256)
def compiled_validator(schema_json: str) -> ResultValidator:
    """One validator per distinct schema, built once: building is far costlier than using.
    A schema ``check_json_schema`` refuses raises InvalidJsonSchema here too."""
    schema = json.loads(schema_json)
    check_json_schema(schema)
    full = build_validator(schema)
    return ResultValidator(full, compile_check(schema, full))


def json_path(error: jsonschema_errors._Error) -> str:
    """The failing location as a JSONPath (``$.machine.cpu.count``)."""
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return "$" + path
