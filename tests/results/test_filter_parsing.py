"""The ``filters`` and ``sort_by=json.<path>`` parsers: what they refuse (422 naming the
problem), what they accept (every allowed key character reaches the same value on both
databases), and that no string at all makes them fail (hypothesis)."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.schemas.common import JSON_KEY_FORBIDDEN
from factories import BenchmarkFactory, ResultFactory
from tests.api.test_errors import assert_error


def refused(response, argument: str) -> str:
    """The messages of a 422 on ``argument`` (a list argument's are by index)."""
    assert_error(response, 422)
    messages = response.json["errors"]["query"][argument]
    return " ".join(messages["0"] if isinstance(messages, dict) else messages)


@pytest.mark.parametrize(
    ("sort_by", "named"),
    [
        ("+json.a\\", "'\\'"),
        ('+json.a"', "'\"'"),
        ("-json.a\tb", "whitespace"),
        ("+json.a\x01", "control"),
        ("+json.a..b", "empty key"),
        ("+json.", "empty key"),
    ],
)
def test_a_sort_key_outside_the_path_grammar_is_refused(client, sort_by, named):
    message = refused(client.get("/results", query_string={"sort_by": sort_by}), "sort_by")

    assert named in message


@pytest.mark.parametrize(
    ("flt", "named"),
    [
        ("machine.cpu.count > 1e400", "finite"),
        ("machine.cpu.count < -1e400", "finite"),
        ("machine.cpu.count == 1e-400", "finite"),
        ("machine.cpu.count == 99999999999999999999", "64-bit"),
        ("machine.cpu.count == -9223372036854775809", "64-bit"),
        ("machine.cpu.count == " + "9" * 5000, "64-bit"),
        ("machine.a\\b > 1", "'\\'"),
        ('machine."cpu" > 1', "'\"'"),
        ("machine..count > 1", "empty key"),
    ],
)
def test_a_filter_outside_the_language_is_refused(client, flt, named):
    """Both databases: a number JSON cannot compare as a double or a 64-bit integer, and
    a key with characters the paths of either database cannot spell."""
    message = refused(client.get("/results", query_string={"filters": flt}), "filters")

    assert named in message


def test_numbers_at_the_edges_of_the_range_are_accepted(client):
    kept = ResultFactory(json={"n": 9223372036854775807, "x": 1.7976931348623157e308})

    for flt in [
        "n == 9223372036854775807",
        "n > -9223372036854775808",
        "x == 1.7976931348623157e308",
        "x > 5e-324",
    ]:
        response = client.get("/results", query_string={"filters": flt})
        assert response.status_code == 200, response.json
        assert [item["id"] for item in response.json["items"]] == [str(kept.id)], flt


#: Characters a JSON path key may hold (the documented set), biased to the ones that need
#: quoting in SQLite JSON paths, PostgreSQL jsonpath or PostgreSQL text[] literals.
key_characters = st.one_of(
    st.sampled_from([*"{}[]'$@*?()!&|=<>-_/%#~`^:;+", "é", "€", "日", "😀"]),
    st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")).filter(
        lambda c: c not in JSON_KEY_FORBIDDEN and not c.isspace()
    ),
)
keys = st.text(key_characters, min_size=1, max_size=8).filter(lambda key: key != "json")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(outer=keys, inner=keys, value=st.integers(-1000, 1000))
def test_every_allowed_key_reaches_its_value_on_both_databases(client, outer, inner, value):
    """Filters and JSON sort keys address exactly the key they name: through jsonpath and
    the result_numbers index on PostgreSQL (the schema declares the leaf a number), the
    JSON1 functions on SQLite."""
    schema = {
        "type": "object",
        "properties": {outer: {"type": "object", "properties": {inner: {"type": "number"}}}},
    }
    benchmark = BenchmarkFactory(json_schema=schema)
    run = str(benchmark.id)  # "run == <it>" finds this example's results without benchmark_id
    kept = ResultFactory(benchmark=benchmark, json={outer: {inner: value}, "run": run})
    ResultFactory(benchmark=benchmark, json={outer: {inner + "x": value}, "run": run})
    path = f"{outer}.{inner}"

    for flt in [f"{path} == {value}", f"{path} > {value - 1}", f"{path} <= {value}"]:
        for query in [{"filters": [flt, f"run == {run}"]}, {"filters": flt, "benchmark_id": run}]:
            response = client.get("/results", query_string=query)
            assert response.status_code == 200, response.json
            assert [i["id"] for i in response.json["items"]] == [str(kept.id)], (flt, query)
            assert response.json["total"] == 1
    for direction in "+-":
        response = client.get(
            "/results",
            query_string={"sort_by": f"{direction}json.{path}", "benchmark_id": str(benchmark.id)},
        )
        assert response.status_code == 200, response.json
        assert response.json["items"][0]["id"] == str(kept.id)  # the path's owner first


#: Anything a client could type, weighted towards the characters the parsers care about.
hostile_text = st.lists(
    st.one_of(
        st.sampled_from([*" .+-,=<>!\\\"'$@[](){}*?%\t", "json.", "1e400", "nan"]),
        st.characters(exclude_categories=("Cs",)),
        st.sampled_from(string.digits),
    ),
    max_size=20,
).map("".join)
numbers = st.one_of(
    st.sampled_from(
        ["1e400", "-1e400", "1e-400", "1E308", "5e-324", "-0", "0.0e0", "9" * 400, "1" * 20]
    ),
    st.sampled_from(["-9223372036854775809", "9223372036854775807", "-9223372036854775808"]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats().map(repr),
)
json_keys = st.sampled_from(["machine", "cpu", "count", "result", "score", "a"]) | hostile_text
json_paths = st.lists(json_keys, min_size=1, max_size=3).map(".".join)
plausible_filters = st.tuples(
    st.sampled_from(["", "json."]),
    json_paths,
    st.sampled_from([" == ", " > ", " < ", " >= ", " <= ", " = ", " "]),
    numbers | hostile_text | st.sampled_from(["true", "false", "null", "x"]),
).map("".join)
sort_keys = st.lists(
    st.tuples(
        st.sampled_from(["+", "-", "", " "]),
        st.sampled_from(["json.", ""]),
        json_paths | st.sampled_from(["id", "site_name"]),
    ).map("".join),
    min_size=1,
    max_size=3,
).map(",".join)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    filters=st.lists(plausible_filters | hostile_text, min_size=1, max_size=3),
    sort_by=sort_keys | hostile_text,
    with_benchmark=st.booleans(),
)
def test_no_filter_or_sort_key_makes_a_server_error(
    client, fuzz_results, filters, sort_by, with_benchmark
):
    """Filters alone, a sort alone, both, and a search's sort: 200 or 422, on both
    databases, through the plain queries and (PostgreSQL, with a benchmark) the index."""
    scope = {"benchmark_id": fuzz_results} if with_benchmark else {}
    for path, query in [
        ("/results", {"filters": filters, **scope}),
        ("/results", {"sort_by": sort_by, **scope}),
        ("/results", {"filters": filters, "sort_by": sort_by, **scope}),
        ("/results:search", {"terms": filters, "sort_by": sort_by}),
    ]:
        response = client.get(path, query_string=query)

        assert response.status_code in {200, 422}, (path, query, response.json)
        if response.status_code == 422:
            assert_error(response, 422)


@pytest.fixture
def fuzz_results():
    """A few results under a schema that tracks result.score (PostgreSQL's index path)."""
    schema = {
        "type": "object",
        "properties": {
            "result": {"type": "object", "properties": {"score": {"type": "number"}}},
            "machine": {
                "type": "object",
                "properties": {
                    "cpu": {"type": "object", "properties": {"count": {"type": "integer"}}}
                },
            },
        },
    }
    benchmark = BenchmarkFactory(json_schema=schema)
    for score, count in [(1.5, 4), (10, 8), (-3, 1)]:
        ResultFactory(
            benchmark=benchmark,
            json={"result": {"score": score}, "machine": {"cpu": {"count": count}}, "a": "x"},
        )
    return str(benchmark.id)
