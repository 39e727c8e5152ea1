"""The compiled schema check says "valid" exactly where jsonschema finds no error.

Compared on generated schemas (every keyword the compiler knows, nested) and documents
(shaped to hit the schemas' property names), and on the real c-ray and tf-cnn schemas
with mutated sample results. A schema using what is not compiled gets no check.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import validators

from backend.models.benchmark import canonical_json, compiled_validator
from backend.schema_check import SAFE_VALIDATORS, compile_check

SAMPLES = Path(__file__).resolve().parents[2] / "backend" / "devtools" / "sample_data"
NAMES = ["a", "b", "count", "score", "x1"]
#: The service's classes (patterns on RE2): the check must agree with what validates.
DRAFTS = [
    SAFE_VALIDATORS[validators.Draft7Validator],
    SAFE_VALIDATORS[validators.Draft202012Validator],
]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 40),
    st.floats(-5, 40, allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1, 1.0, 0.0, -0.0, 4.5, True, False]),
    st.sampled_from(["", "a", "b", "ab", "foo@example.org", "2024-06-01", "127.0.0.1", "x" * 9]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(NAMES), inner, max_size=4)
    ),
    max_leaves=12,
)

type_names = st.sampled_from(["array", "boolean", "integer", "null", "number", "object", "string"])
numbers = st.one_of(st.integers(-2, 30), st.sampled_from([0.5, 4.0, 19.5]))
counts = st.integers(0, 4)
KEYWORDS = {
    "type": st.one_of(type_names, st.lists(type_names, min_size=1, max_size=3, unique=True)),
    "const": st.sampled_from(["a", "b", "Seconds"]),
    "enum": st.lists(st.sampled_from(["a", "b", "ab", ""]), min_size=1, max_size=3),
    "minimum": numbers,
    "maximum": numbers,
    "exclusiveMinimum": numbers,
    "exclusiveMaximum": numbers,
    "minLength": counts,
    "maxLength": counts,
    "pattern": st.sampled_from(["^a", "b$", "[0-9]", "", "^(a+)+$", "\\w$"]),
    "format": st.sampled_from(["email", "date", "ipv4", "no-such-format"]),
    "minItems": counts,
    "maxItems": counts,
    "minProperties": counts,
    "maxProperties": counts,
    "required": st.lists(st.sampled_from(NAMES), max_size=3, unique=True),
    "description": st.just("an annotation"),
    "suggestToUser": st.booleans(),
}


def _some_of(strategies):
    """Schemas with a few keywords each: with many, every document fails several of them
    and a wrong answer for one keyword would go unnoticed."""
    names = st.lists(st.sampled_from(sorted(strategies)), max_size=3, unique=True)
    return names.flatmap(lambda chosen: st.fixed_dictionaries({k: strategies[k] for k in chosen}))


def _with_children(inner):
    children = _some_of(
        {
            "properties": st.dictionaries(st.sampled_from(NAMES), inner, max_size=3),
            "patternProperties": st.dictionaries(
                st.sampled_from(["^a", "1$", "^(a+)+$"]), inner, max_size=2
            ),
            "additionalProperties": inner,
            "items": inner,
        }
    )
    return st.builds(lambda own, nested: {**own, **nested}, _some_of(KEYWORDS), children)


schemas = st.recursive(st.one_of(st.booleans(), _some_of(KEYWORDS)), _with_children, max_leaves=8)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    schema=schemas,
    documents=st.lists(json_values, min_size=1, max_size=8),
    draft=st.sampled_from(DRAFTS),
)
def test_agrees_with_jsonschema_on_generated_schemas(schema, documents, draft):
    full = draft(schema, format_checker=draft.FORMAT_CHECKER)
    check = compile_check(schema, full)
    assert check is not None, schema
    for document in documents:
        assert check(document) is full.is_valid(document), (schema, document)


EDGE_SCHEMAS = [
    *(
        {"type": name}
        for name in ["array", "boolean", "integer", "null", "number", "object", "string"]
    ),
    {"type": ["integer", "string"]},
    {"minimum": 4},
    {"maximum": 4},
    {"exclusiveMinimum": 4},
    {"exclusiveMaximum": 4.0},
    {"minLength": 2},
    {"maxLength": 1},
    {"minItems": 2},
    {"maxItems": 1},
    {"minProperties": 2},
    {"maxProperties": 1},
    {"pattern": "b"},
    {"pattern": "^a"},
    *({"format": name} for name in ["email", "date", "ipv4", "no-such-format"]),
    {"const": "a"},
    {"enum": ["a", "b"]},
    {"required": ["a", "b"]},
    {"properties": {"a": {"type": "integer"}}},
    {"properties": {"a": False}},
    {"patternProperties": {"^a": {"type": "string"}}},
    {"additionalProperties": False},
    {"properties": {"a": True}, "additionalProperties": False},
    {
        "properties": {"a": True},
        "patternProperties": {"1$": True, "^z": True},
        "additionalProperties": {"type": "string"},
    },
    {"items": {"type": "number"}},
    {"items": False},
    True,
    False,
    {},
]
EDGE_DOCUMENTS = [
    None, True, False, 0, 1, 4, 4.0, 4.5, 3.999, -0.0, 1.0, "", "a", "ab", "b", "é",
    "foo@x", "2024-06-01", "2024-13-01", "127.0.0.1", [], [1], [1, 2], [1, "a", 3], [True],
    {}, {"a": 1}, {"a": 1.0}, {"a": True}, {"a": "x"}, {"a": 1, "b": 2}, {"x1": 1},
    {"x1": "s"}, {"ab": 3}, {"ab": "s", "qq": "t"}, {"qq": 3}, {"zz": 3},
]  # fmt: skip


@pytest.mark.parametrize("draft", DRAFTS)
@pytest.mark.parametrize("schema", EDGE_SCHEMAS, ids=json.dumps)
def test_agrees_with_jsonschema_at_each_keywords_edges(schema, draft):
    full = draft(schema, format_checker=draft.FORMAT_CHECKER)
    check = compile_check(schema, full)
    assert check is not None
    answers = {json.dumps(d): check(d) for d in EDGE_DOCUMENTS}
    assert answers == {json.dumps(d): full.is_valid(d) for d in EDGE_DOCUMENTS}
    assert len(set(answers.values())) == 2 or schema in (
        True,
        False,
        {},
        {"format": "no-such-format"},
    )


def _mutations(document, values):
    """The document with, in turn, each of its values replaced by each of ``values``."""
    yield document
    stack = [(document, [])]
    while stack:
        node, path = stack.pop()
        keys = list(node) if isinstance(node, dict) else range(len(node))
        for key in keys:
            for value in values:
                mutated = copy.deepcopy(document)
                target = mutated
                for step in path:
                    target = target[step]
                target[key] = value
                yield mutated
            if isinstance(node[key], dict | list):
                stack.append((node[key], [*path, key]))
        if isinstance(node, dict):
            for key in keys:
                removed = copy.deepcopy(document)
                target = removed
                for step in path:
                    target = target[step]
                del target[key]
                yield removed


@pytest.mark.parametrize(
    ("schema_file", "document_file"),
    [
        ("c-ray/schema.json", "c-ray/cesnet-mcc-8.json"),
        ("c-ray/schema.json", "c-ray/ncg-ingrid-pt-32.json"),
        (None, "tf-cnn/210223-forhlr2-haicore_gpu8-8gpu-synthetic.json"),
    ],
)
def test_agrees_with_jsonschema_on_the_sample_schemas(schema_file, document_file):
    from perf.generate import TF_CNN_SCHEMA

    schema = json.loads((SAMPLES / schema_file).read_text()) if schema_file else TF_CNN_SCHEMA
    validator = compiled_validator(canonical_json(schema))
    assert validator.quick_check is not None
    document = json.loads((SAMPLES / document_file).read_text())
    replacements = [None, True, 8, 8.5, "8", [], {}, "Seconds", "pts/c-ray-1.2.0"]
    checked = 0
    for mutated in _mutations(document, replacements):
        assert validator.quick_check(mutated) is validator.full.is_valid(mutated), mutated
        checked += 1
    assert checked > 100


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#/$defs/a", "$defs": {"a": {"type": "number"}}},
        {"allOf": [{"type": "object"}]},
        {"properties": {"a": {"anyOf": [{"type": "string"}]}}},
        {"type": "number", "multipleOf": 0.1},
        {"const": 1},
        {"enum": ["a", None]},
        {"prefixItems": [{"type": "string"}]},
        {"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}},
    ],
)
def test_schemas_using_other_keywords_get_no_check(schema):
    draft = SAFE_VALIDATORS[validators.Draft202012Validator]
    assert compile_check(schema, draft(schema, format_checker=draft.FORMAT_CHECKER)) is None


def test_drafts_before_6_get_no_check():
    schema = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer"}
    draft = SAFE_VALIDATORS[validators.Draft4Validator]
    assert compile_check(schema, draft(schema)) is None


def test_a_rejected_document_still_gets_jsonschemas_errors(app):
    from backend.errors import SchemaViolation
    from factories import BenchmarkFactory

    schema = json.loads((SAMPLES / "c-ray" / "schema.json").read_text())
    benchmark = BenchmarkFactory(json_schema=schema)
    document = json.loads((SAMPLES / "c-ray" / "cesnet-mcc-8.json").read_text())
    document["machine"]["cpu"]["count"] = "eight"
    with pytest.raises(SchemaViolation) as raised:
        benchmark.validate_result(document)
    assert raised.value.errors == {
        "json": {"$.machine.cpu.count": ["'eight' is not of type 'number'"]}
    }
