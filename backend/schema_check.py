"""A fast yes/no check of a document against a JSON Schema, compiled once per schema.

jsonschema validates a result by walking the schema and building a validator object for
every subschema it enters: about 50 us for a c-ray result, more than half of what an
import spent on a line. Most results are valid, and for a valid document the only answer needed is
"valid". ``compile_check`` turns a schema into nested closures that give that answer in a
few microseconds, for the keywords benchmark schemas use (``type``, ``properties``,
``required``, ``const``, ``enum``, bounds, ``pattern``, ``format``, ``items`` ...).

jsonschema stays the authority: the check only ever says "valid" where jsonschema would,
and a document it rejects is validated again by jsonschema, which gives the errors. A
schema with any other keyword (``$ref``, ``allOf``, ``if``, ``multipleOf`` ...) or of a
draft before 6 is not compiled (``None``): jsonschema alone checks its documents.
``tests/results/test_schema_check.py`` compares the two on generated schemas and documents.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from typing import Any

from jsonschema import validators

Check = Callable[[Any], bool]

#: The drafts whose keywords mean what the builders below implement (numeric
#: ``exclusiveMinimum``, boolean subschemas); draft 3 and 4 differ.
DRAFTS = (
    validators.Draft6Validator,
    validators.Draft7Validator,
    validators.Draft201909Validator,
    validators.Draft202012Validator,
)


class Unsupported(Exception):
    """The schema uses something the compiler does not implement."""


def compile_check(schema: Any, validator: Any) -> Check | None:
    """A function that is true exactly for the documents ``validator`` (a jsonschema
    validator built for ``schema``, with its format checker) finds no error in; ``None``
    when the schema uses what is not compiled."""
    if type(validator) not in DRAFTS:
        return None
    try:
        return _Compiler(validator).node(schema)
    except (Unsupported, LookupError, TypeError, ValueError, AttributeError, re.error):
        # Unsupported, or a shape check_schema let through that the builders do not
        # expect: jsonschema handles it.
        return None


def _is_integer(instance: Any) -> bool:
    if isinstance(instance, bool):
        return False
    return isinstance(instance, int) or (isinstance(instance, float) and instance.is_integer())


def _is_number(instance: Any) -> bool:
    return type(instance) in (int, float) or (
        isinstance(instance, numbers.Number) and not isinstance(instance, bool)
    )


#: The JSON types as the type checker of drafts 6 and later defines them (bool is not a
#: number; 1.0 is an integer), written out because calling the checker costs more than
#: the rest of a check.
TYPES: dict[str, Check] = {
    "array": lambda instance: isinstance(instance, list),
    "boolean": lambda instance: isinstance(instance, bool),
    "integer": _is_integer,
    "null": lambda instance: instance is None,
    "number": _is_number,
    "object": lambda instance: isinstance(instance, dict),
    "string": lambda instance: isinstance(instance, str),
}


def _always(instance: Any) -> bool:
    return True


def _never(instance: Any) -> bool:
    return False


def _all(checks: list[Check]) -> Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]

    def every(instance: Any) -> bool:
        for check in checks:  # noqa: SIM110 - a loop is twice as fast as all() here
            if not check(instance):
                return False
        return True

    return every


class _Compiler:
    def __init__(self, validator: Any) -> None:
        self.keywords = set(type(validator).VALIDATORS)
        self.format_checker = validator.format_checker
        self.builders: dict[str, Callable[[Any, dict[str, Any]], Check | None]] = {
            "type": self.type,
            "properties": self.properties,
            "patternProperties": self.pattern_properties,
            "additionalProperties": self.additional_properties,
            "required": self.required,
            "minProperties": self.size("object", minimum=True),
            "maxProperties": self.size("object", minimum=False),
            "items": self.items,
            "minItems": self.size("array", minimum=True),
            "maxItems": self.size("array", minimum=False),
            "const": self.const,
            "enum": self.enum,
            "minimum": self.bound(lambda value, limit: value >= limit),
            "maximum": self.bound(lambda value, limit: value <= limit),
            "exclusiveMinimum": self.bound(lambda value, limit: value > limit),
            "exclusiveMaximum": self.bound(lambda value, limit: value < limit),
            "minLength": self.size("string", minimum=True),
            "maxLength": self.size("string", minimum=False),
            "pattern": self.pattern,
            "format": self.format,
        }

    def node(self, schema: Any) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise Unsupported(schema)
        checks = []
        for keyword, value in schema.items():
            if keyword not in self.keywords:
                continue  # an annotation, or a keyword jsonschema ignores too
            builder = self.builders.get(keyword)
            if builder is None:
                raise Unsupported(keyword)
            check = builder(value, schema)
            if check is not None:
                checks.append(check)
        return _all(checks)

    def type(self, names: Any, schema: dict[str, Any]) -> Check:
        names = [names] if isinstance(names, str) else list(names)
        checks = [TYPES[name] for name in names]
        if len(checks) == 1:
            return checks[0]
        return lambda instance: any(check(instance) for check in checks)

    def properties(self, properties: dict[str, Any], schema: dict[str, Any]) -> Check | None:
        compiled = [(name, self.node(sub)) for name, sub in properties.items()]
        compiled = [(name, check) for name, check in compiled if check is not _always]
        if not compiled:
            return None

        def check(instance: Any) -> bool:
            if not isinstance(instance, dict):
                return True
            for name, sub in compiled:  # noqa: SIM110
                if name in instance and not sub(instance[name]):
                    return False
            return True

        return check

    def pattern_properties(self, patterns: dict[str, Any], schema: dict[str, Any]) -> Check:
        compiled = [(re.compile(pattern), self.node(sub)) for pattern, sub in patterns.items()]

        def check(instance: Any) -> bool:
            if not isinstance(instance, dict):
                return True
            for pattern, sub in compiled:
                for key, value in instance.items():
                    if pattern.search(key) and not sub(value):
                        return False
            return True

        return check

    def additional_properties(self, additional: Any, schema: dict[str, Any]) -> Check | None:
        if additional is True:
            return None
        sub = self.node(additional)
        known = set(schema.get("properties", {}))
        # jsonschema matches the names against all patterns joined into one.
        joined = "|".join(schema.get("patternProperties", {}))
        pattern = re.compile(joined) if joined else None

        def check(instance: Any) -> bool:
            if not isinstance(instance, dict):
                return True
            for key, value in instance.items():
                if key in known or (pattern is not None and pattern.search(key)):
                    continue
                if not sub(value):
                    return False
            return True

        return check

    def required(self, names: list[str], schema: dict[str, Any]) -> Check | None:
        if not names:
            return None
        names = list(names)

        def check(instance: Any) -> bool:
            if not isinstance(instance, dict):
                return True
            for name in names:  # noqa: SIM110
                if name not in instance:
                    return False
            return True

        return check

    def items(self, items: Any, schema: dict[str, Any]) -> Check | None:
        if isinstance(items, list):
            raise Unsupported("items as a list")
        sub = self.node(items)
        if sub is _always:
            return None

        def check(instance: Any) -> bool:
            if not isinstance(instance, list):
                return True
            for item in instance:  # noqa: SIM110
                if not sub(item):
                    return False
            return True

        return check

    def size(self, kind: str, *, minimum: bool) -> Callable[[Any, dict[str, Any]], Check]:
        is_kind = TYPES[kind]

        def build(limit: Any, schema: dict[str, Any]) -> Check:
            if minimum:
                return lambda instance: not is_kind(instance) or len(instance) >= limit
            return lambda instance: not is_kind(instance) or len(instance) <= limit

        return build

    def bound(self, holds: Callable[[Any, Any], bool]) -> Callable[[Any, dict[str, Any]], Check]:
        def build(limit: Any, schema: dict[str, Any]) -> Check:
            return lambda instance: not _is_number(instance) or holds(instance, limit)

        return build

    @staticmethod
    def _strings(values: list[Any]) -> frozenset[str]:
        """Only text constants are compiled: jsonschema compares them with ``==``, while
        numbers, booleans and containers follow its own equality (``1`` is not ``true``)."""
        if not all(isinstance(value, str) for value in values):
            raise Unsupported("a constant that is not a string")
        return frozenset(values)

    def const(self, value: Any, schema: dict[str, Any]) -> Check:
        (text,) = self._strings([value])
        return lambda instance: isinstance(instance, str) and instance == text

    def enum(self, values: list[Any], schema: dict[str, Any]) -> Check:
        texts = self._strings(list(values))
        return lambda instance: isinstance(instance, str) and instance in texts

    def pattern(self, pattern: str, schema: dict[str, Any]) -> Check:
        compiled = re.compile(pattern)
        return lambda instance: not isinstance(instance, str) or bool(compiled.search(instance))

    def format(self, name: str, schema: dict[str, Any]) -> Check | None:
        checker = self.format_checker
        if checker is None:
            return None
        return lambda instance: checker.conforms(instance, name)
