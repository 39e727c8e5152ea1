"""Checking documents against benchmark JSON Schemas: the one jsonschema validator factory,
with patterns on a linear-time engine and no network, and a fast yes/no check.

Safe validators. jsonschema runs ``pattern``, ``patternProperties`` and ``format: regex``
with Python's backtracking ``re``, where a pattern like ``"^(a+)+$"`` can hold a worker
for seconds, and it resolves a ``$ref`` to another document by fetching it.
``build_validator`` gives the validator every result is checked with (uploads, batches,
imports): jsonschema's class for the schema's draft, with those keywords on RE2 through
``schema_regex.compile_pattern`` (linear time, Python's meaning) and references resolved
in the schema alone (``NO_RETRIEVAL``).

The fast check. jsonschema validates a result by walking the schema and building a
validator object for every subschema it enters: about 50 us for a c-ray result, more than
half of what an import spent on a line. Most results are valid, and for a valid document
the only answer needed is "valid". ``compile_check`` turns a schema into nested closures
that give that answer in a few microseconds, for the keywords benchmark schemas use
(``type``, ``properties``, ``required``, ``const``, ``enum``, bounds, ``pattern``,
``format``, ``items`` ...). jsonschema stays the authority: the check only ever says
"valid" where jsonschema would, and a document it rejects is validated again by
jsonschema, which gives the errors. A schema with any other keyword (``$ref``, ``allOf``,
``if``, ``multipleOf`` ...) or of a draft before 6 is not compiled (``None``): jsonschema
alone checks its documents. ``tests/results/test_schema_check.py`` compares the two on
generated schemas and documents.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator
from typing import Any

from jsonschema import FormatChecker, ValidationError, validators
from referencing import Registry
from referencing.exceptions import NoSuchResource

from backend.schema_regex import UnusablePattern, compile_pattern

Check = Callable[[Any], bool]


# --- validators ---------------------------------------------------------------------------


def _refuse_retrieval(uri: str) -> Any:
    raise NoSuchResource(ref=uri)


#: References resolve inside the schema (and jsonschema's bundled meta-schemas) only:
#: validation never opens a connection.
NO_RETRIEVAL: Registry = Registry(retrieve=_refuse_retrieval)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not compile_pattern(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        compiled = compile_pattern(pattern)
        for name, value in instance.items():
            if compiled.search(name):
                yield from validator.descend(value, subschema, path=name, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Any
) -> Iterator[Any]:
    """jsonschema's ``additionalProperties``, with the names matched by RE2."""
    if not validator.is_type(instance, "object"):
        return
    extras = set(additional_names(instance, schema))
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        if "patternProperties" in schema:
            verb = "does" if len(extras) == 1 else "do"
            joined = ", ".join(repr(each) for each in sorted(extras))
            patterns = ", ".join(repr(each) for each in sorted(schema["patternProperties"]))
            yield ValidationError(f"{joined} {verb} not match any of the regexes: {patterns}")
        else:
            names = ", ".join(repr(extra) for extra in sorted(extras, key=str))
            verb = "was" if len(extras) == 1 else "were"
            yield ValidationError(
                f"Additional properties are not allowed ({names} {verb} unexpected)"
            )


def additional_names(instance: dict[str, Any], schema: dict[str, Any]) -> Iterator[str]:
    """The names of ``instance`` that neither ``properties`` nor ``patternProperties`` of
    ``schema`` cover."""
    known = schema.get("properties", {})
    patterns = [compile_pattern(pattern) for pattern in schema.get("patternProperties", {})]
    for name in instance:
        if name not in known and not any(pattern.search(name) for pattern in patterns):
            yield name


def _is_regex(instance: Any) -> bool:
    if isinstance(instance, str):
        compile_pattern(instance)
    return True


def _safe_class(stock: Any) -> Any:
    keywords = {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    }
    checker = FormatChecker(formats=())
    checker.checkers = {**stock.FORMAT_CHECKER.checkers, "regex": (_is_regex, UnusablePattern)}
    return validators.extend(
        stock, {k: v for k, v in keywords.items() if k in stock.VALIDATORS}, format_checker=checker
    )


#: jsonschema's class of each draft → the one the service validates with.
SAFE_VALIDATORS: dict[Any, Any] = {
    stock: _safe_class(stock)
    for stock in (
        validators.Draft3Validator,
        validators.Draft4Validator,
        validators.Draft6Validator,
        validators.Draft7Validator,
        validators.Draft201909Validator,
        validators.Draft202012Validator,
    )
}


def validator_class(schema: Any) -> Any:
    """The class for ``schema``'s draft (its ``$schema``; 2020-12 when it names none)."""
    stock = validators.validator_for(schema, default=validators.Draft202012Validator)
    return SAFE_VALIDATORS[stock]


def build_validator(schema: Any) -> Any:
    """The validator of ``schema`` that results are checked with: its draft's safe class,
    that draft's format checker, and no reference that leaves the schema."""
    cls = validator_class(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER, registry=NO_RETRIEVAL)


# --- the fast check -------------------------------------------------------------------------

#: The drafts whose keywords mean what the builders below implement (numeric
#: ``exclusiveMinimum``, boolean subschemas); draft 3 and 4 differ.
DRAFTS = tuple(
    SAFE_VALIDATORS[stock]
    for stock in (
        validators.Draft6Validator,
        validators.Draft7Validator,
        validators.Draft201909Validator,
        validators.Draft202012Validator,
    )
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
    except (Unsupported, LookupError, TypeError, ValueError, AttributeError):
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
        compiled = [(compile_pattern(pattern), self.node(sub)) for pattern, sub in patterns.items()]

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
        patterns = [compile_pattern(pattern) for pattern in schema.get("patternProperties", {})]

        def check(instance: Any) -> bool:
            if not isinstance(instance, dict):
                return True
            for key, value in instance.items():
                if key in known or any(pattern.search(key) for pattern in patterns):
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
        search = compile_pattern(pattern).search
        return lambda instance: not isinstance(instance, str) or search(instance)

    def format(self, name: str, schema: dict[str, Any]) -> Check | None:
        checker = self.format_checker
        if checker is None:
            return None
        return lambda instance: checker.conforms(instance, name)
