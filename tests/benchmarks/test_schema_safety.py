"""Benchmark JSON Schemas cannot freeze a worker, make the service fetch anything, or loop.

Patterns (``pattern``, ``patternProperties``, ``format: regex``) run on RE2, in linear
time, with Python's meaning; a pattern RE2 cannot run is refused when the benchmark is
submitted. ``$ref`` points inside the schema only, never in a loop; schemas are nested at
most ``SCHEMA_MAX_DEPTH`` levels. A benchmark stored before these checks (or imported
around them) answers uploads with a 422 that says its schema is unusable, never a 500.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading

import pytest
from sqlalchemy import update

from backend.bulk import import_records
from backend.extensions import db
from backend.json_limits import SCHEMA_MAX_DEPTH
from backend.models import Benchmark
from backend.schema_regex import compile_pattern
from factories import BenchmarkFactory, FlavorFactory
from tests.results.conftest import EXECUTED, upload

CATASTROPHIC = "^(a+)+$"


def submit(client, headers, schema):
    return client.post(
        "/benchmarks",
        json={
            "docker_image": "example/unsafe",
            "docker_tag": "1.0",
            "url": "https://example.org/unsafe",
            "json_schema": schema,
        },
        headers=headers,
    )


def stored_benchmark(schema):
    """An approved benchmark whose schema was written around the submission checks, as a
    database restored from before them would hold it."""
    benchmark = BenchmarkFactory(json_schema={})
    db.session.execute(
        update(Benchmark).where(Benchmark.id == benchmark.id).values(json_schema=schema)
    )
    db.session.commit()
    db.session.expire_all()
    return benchmark


# --- ReDoS ------------------------------------------------------------------------------

#: Runs in a child process, so that a worker frozen by backtracking fails the test after
#: the timeout instead of hanging it: the request is timed inside the child.
_TIMED_UPLOADS = """
import json, sys, time
from backend import create_app
given = json.load(sys.stdin)
app = create_app(**given["settings"])
client = app.test_client()
answers = []
for item in given["uploads"]:
    started = time.monotonic()
    response = client.post("/results", query_string=item["query"], json=item["document"],
                           headers=given["headers"])
    answers.append([response.status_code, time.monotonic() - started])
print(json.dumps(answers))
"""


def test_catastrophic_patterns_are_answered_in_milliseconds(app_settings, user_headers):
    """40 ``a``s and a ``!``: Python's backtracking would take hours (28 took 15 s)."""
    flavor = FlavorFactory()
    by_value = BenchmarkFactory(
        json_schema={"type": "object", "properties": {"s": {"pattern": CATASTROPHIC}}}
    )
    by_name = BenchmarkFactory(
        json_schema={"patternProperties": {CATASTROPHIC: True}, "additionalProperties": False}
    )
    text = "a" * 40 + "!"
    uploads = [
        {
            "query": {
                "execution_datetime": EXECUTED,
                "benchmark_id": str(benchmark.id),
                "flavor_id": str(flavor.id),
            },
            "document": document,
        }
        for benchmark, document in [(by_value, {"s": text}), (by_name, {text: 1})]
    ]
    given = {"settings": app_settings, "headers": user_headers, "uploads": uploads}

    child = subprocess.run(
        [sys.executable, "-c", _TIMED_UPLOADS],
        input=json.dumps(given),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert child.returncode == 0, child.stderr[-2000:]
    answers = json.loads(child.stdout.splitlines()[-1])
    assert [status for status, _ in answers] == [422, 422]
    assert max(seconds for _, seconds in answers) < 1.0


@pytest.mark.parametrize(
    ("schema", "path", "pattern"),
    [
        ({"properties": {"s": {"pattern": "(a)\\1"}}}, "$.properties.s.pattern", "(a)\\1"),
        ({"patternProperties": {"^(?=x)": True}}, "$.patternProperties", "^(?=x)"),
        ({"items": {"pattern": "a++"}}, "$.items.pattern", "a++"),
        ({"$defs": {"x": {"pattern": "(?<!a)b"}}}, "$.$defs.x.pattern", "(?<!a)b"),
    ],
)
def test_a_pattern_re2_cannot_run_is_refused_at_submission(
    client, user_headers, schema, path, pattern
):
    response = submit(client, user_headers, schema)

    assert response.status_code == 422
    assert path in response.json["message"]
    assert repr(pattern) in response.json["message"]


def test_an_ordinary_pattern_is_accepted_and_checked(client, user_headers):
    schema = {"properties": {"v": {"type": "string", "pattern": "^v\\d+\\.\\d+$"}}}
    assert submit(client, user_headers, schema).status_code == 201
    benchmark = BenchmarkFactory(json_schema=schema)
    flavor = FlavorFactory()

    assert upload(client, user_headers, benchmark, flavor, {"v": "v1.20"}).status_code == 201
    refused = upload(client, user_headers, benchmark, flavor, {"v": "v1.x"})
    assert refused.status_code == 422
    assert "$.v" in refused.json["errors"]["json"]


def test_format_regex_means_a_pattern_the_service_can_run(client, user_headers):
    benchmark = BenchmarkFactory(json_schema={"properties": {"r": {"format": "regex"}}})
    flavor = FlavorFactory()

    assert upload(client, user_headers, benchmark, flavor, {"r": "^a+$"}).status_code == 201
    refused = upload(client, user_headers, benchmark, flavor, {"r": "(a)\\1"})
    assert refused.status_code == 422
    assert "$.r" in refused.json["errors"]["json"]


def test_a_stored_schema_with_a_catastrophic_pattern_is_unusable(client, user_headers):
    benchmark = stored_benchmark({"properties": {"s": {"pattern": "(a+)+\\1"}}})

    response = upload(client, user_headers, benchmark, FlavorFactory(), {"s": "a" * 40})

    assert response.status_code == 422
    assert "unusable" in response.json["message"]


#: Patterns as benchmark schemas write them, and the texts they meet, with the corners
#: where Python's ``re`` and RE2 differ by default: ``$`` before a final newline, Unicode
#: ``\d``, ``\w``, ``\s``, ``\Z``, ``\uXXXX``, POSIX-looking brackets, inline flags.
ORDINARY_PATTERNS = [
    "^v\\d+\\.\\d+$", "^[a-z0-9_-]{1,32}$", "^\\w+$", "\\s", "^\\S+$", "^\\d{4}-\\d{2}$",
    "^(GPU|CPU)$", "(?i)^gpu$", "^[^@]+@[^@]+$", "\\Z", "^a\\Z", "\\u00e9", "[[:a]]",
    "^[\\W_]+$", "^[\\D]$", "^.$", "(?s)^.$", "(?m)^b$", "^x*?y$", "^(ab){2,3}$", "",
    "^[A-Z][a-z]+(?: [A-Z][a-z]+)*$", "^$", "\\.$", "^[\\w.-]+@[\\w.-]+$", "(?x) a  b ",
]  # fmt: skip
ORDINARY_TEXTS = [
    "", "a", "b", "\n", "a\n", "a\nb", "b\n", "v1.20", "v1.20\n", "v1.x", "\u0663",
    "\u0661\u0662-\u0660\u0661",
    "2024-06", "é", "é\n", "Ünïcödé", "ab", "abab", "ababab", "GPU", "gpu", "Gpu", "x@y",
    "a b", "a\u00a0b", "a\u2028b", "\u3000", "_", "__", "x", "xy", "xxy", "ab\n", ":",
    "[", "a]", "Foo Bar", "foo", "s.t@u-v.w", "ﬃ", "\u0130", "K", "\u212a", "ab ",
]  # fmt: skip


@pytest.mark.filterwarnings("ignore:Possible nested set:FutureWarning")
@pytest.mark.parametrize("pattern", ORDINARY_PATTERNS)
def test_ordinary_patterns_mean_what_pythons_re_meant(pattern):
    python, linear = re.compile(pattern), compile_pattern(pattern)
    answers = {text: bool(linear.search(text)) for text in ORDINARY_TEXTS}
    assert answers == {text: bool(python.search(text)) for text in ORDINARY_TEXTS}


# --- $ref -------------------------------------------------------------------------------


@pytest.fixture
def listener():
    """A TCP listener on 127.0.0.1 that records every connection made to it."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    connections: list[tuple] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, address = server.accept()
            except TimeoutError:
                continue
            connections.append(address)
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", connections
    stop.set()
    thread.join()
    server.close()


def test_a_remote_ref_is_refused_without_a_connection(client, user_headers, listener):
    url, connections = listener

    response = submit(client, user_headers, {"$ref": f"{url}/x.json"})

    assert response.status_code == 422
    assert f"{url}/x.json" in response.json["message"]
    assert connections == []


def test_a_stored_remote_ref_is_never_fetched(client, user_headers, listener):
    url, connections = listener
    benchmark = stored_benchmark({"properties": {"s": {"$ref": f"{url}/x.json"}}})

    response = upload(client, user_headers, benchmark, FlavorFactory(), {"s": 1})

    assert response.status_code == 422
    assert "unusable" in response.json["message"]
    assert connections == []


def test_an_imported_benchmark_with_a_remote_ref_is_a_bad_line(listener):
    url, connections = listener
    record = {
        "type": "benchmark",
        "docker_image": "example/remote",
        "docker_tag": "1.0",
        "url": "https://example.org/remote",
        "json_schema": {"$ref": f"{url}/x.json"},
    }

    report = import_records([json.dumps(record)])

    assert [(m.line, f"{url}/x.json" in m.message) for m in report.errors] == [(1, True)]
    assert report.created["benchmark"] == 0
    assert connections == []


LOOPS = [
    {"$ref": "#"},
    {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
    {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"a": {"allOf": [{"$ref": "#/definitions/b"}]}, "b": {"$ref": "#"}},
        "properties": {"x": {"$ref": "#/definitions/a"}},
        "anyOf": [{"$ref": "#/definitions/a"}],
    },
]


@pytest.mark.parametrize("schema", LOOPS, ids=json.dumps)
def test_a_ref_loop_is_refused_at_submission(client, user_headers, schema):
    response = submit(client, user_headers, schema)

    assert response.status_code == 422
    assert "loop" in response.json["message"]


@pytest.mark.parametrize("schema", LOOPS, ids=json.dumps)
def test_a_stored_ref_loop_is_unusable_not_a_crash(client, user_headers, schema):
    benchmark = stored_benchmark(schema)

    response = upload(client, user_headers, benchmark, FlavorFactory(), {"x": 1})

    assert response.status_code == 422
    assert "unusable" in response.json["message"]


@pytest.mark.parametrize(
    "schema",
    [
        {
            "$defs": {"score": {"type": "number"}},
            "properties": {"s": {"$ref": "#/$defs/score"}},
        },
        {
            "$id": "https://example.org/bench.json",
            "$defs": {"score": {"$id": "score.json", "type": "number"}},
            "properties": {"s": {"$ref": "score.json"}},
        },
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "definitions": {"score": {"type": "number"}},
            "properties": {"s": {"$ref": "#/definitions/score"}},
        },
    ],
)
def test_internal_refs_validate_uploads(client, user_headers, schema):
    assert submit(client, user_headers, schema).status_code == 201
    benchmark = BenchmarkFactory(json_schema=schema)
    flavor = FlavorFactory()

    assert upload(client, user_headers, benchmark, flavor, {"s": 4.5}).status_code == 201
    refused = upload(client, user_headers, benchmark, flavor, {"s": "fast"})
    assert refused.status_code == 422
    assert "$.s" in refused.json["errors"]["json"]


def test_a_recursive_schema_through_properties_is_fine(client, user_headers):
    schema = {"properties": {"child": {"$ref": "#"}, "n": {"type": "integer"}}}
    assert submit(client, user_headers, schema).status_code == 201
    benchmark = BenchmarkFactory(json_schema=schema)

    document = {"n": 1, "child": {"n": 2, "child": {"n": "three"}}}
    response = upload(client, user_headers, benchmark, FlavorFactory(), document)

    assert response.status_code == 422
    assert "$.child.child.n" in response.json["errors"]["json"]


def test_a_nested_schema_dialect_is_refused(client, user_headers):
    """A subschema naming its own ``$schema`` would be run by jsonschema's stock validator
    (Python's ``re``, remote references)."""
    schema = {
        "properties": {"s": {"$schema": "http://json-schema.org/draft-07/schema#", "pattern": "^a"}}
    }

    response = submit(client, user_headers, schema)

    assert response.status_code == 422
    assert "$.properties.s" in response.json["message"]


# --- depth ------------------------------------------------------------------------------


def nested_schema(levels: int) -> dict:
    """A schema whose JSON is ``levels`` objects deep."""
    schema: dict = {"type": "integer"}
    for _ in range((levels - 1) // 2):
        schema = {"properties": {"a": schema}}
    return schema


def depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 1 + max(map(depth, value), default=0) if isinstance(value, list) else 0


def test_a_schema_at_the_depth_limit_is_accepted(client, user_headers):
    schema = nested_schema(SCHEMA_MAX_DEPTH)
    assert SCHEMA_MAX_DEPTH - 1 <= depth(schema) <= SCHEMA_MAX_DEPTH

    assert submit(client, user_headers, schema).status_code == 201


@pytest.mark.parametrize("levels", [SCHEMA_MAX_DEPTH + 2, 900])
def test_a_schema_nested_too_deep_is_refused(client, user_headers, levels):
    body = json.dumps(
        {
            "docker_image": "example/deep",
            "docker_tag": "1.0",
            "url": "https://example.org/deep",
            "json_schema": nested_schema(levels),
        }
    )

    response = client.post(
        "/benchmarks", data=body, content_type="application/json", headers=user_headers
    )

    assert response.status_code == 422
    assert str(SCHEMA_MAX_DEPTH) in response.json["message"]
