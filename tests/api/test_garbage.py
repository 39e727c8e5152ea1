"""No request, however odd, makes the server fail (5xx).

For every operation of the live OpenAPI document (so new endpoints are covered as soon as
they exist), hypothesis sends random query strings (known arguments with random or
plausible values, unknown arguments), random path ids (UUIDs and junk), random JSON,
invalid JSON and bodies shaped like the documented one, with and without an admin token.
"""

from __future__ import annotations

import json
import string
import uuid
from datetime import timedelta, timezone
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from factories import UserFactory
from tests.api.spec import operations, path_parameters
from tests.conftest import ADMIN_ENTITLEMENT, bearer

#: Requests per operation; about 50 operations keep the file well under a minute.
EXAMPLES = 15

ADMIN_SUB = "garbage-admin"


# -- strategies -------------------------------------------------------------------------------

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
#: Values that once reached the database and failed there (NUL characters, times whose
#: UTC falls outside years 1..9999), and other classics.
edge_values = st.sampled_from(
    [
        "\x00",
        "a\x00b",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "0000-00-00",
        "NaN",
        "Infinity",
        "1e309",
        "-0",
        "x" * 300,
        "' OR 1=1 --",
        "\\",
        "%00",
        "json.",
    ]
)
datetimes = st.builds(
    lambda moment, offset: moment.replace(tzinfo=timezone(offset)).isoformat(),
    st.datetimes(),
    st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23)).map(
        lambda delta: timedelta(minutes=delta // timedelta(minutes=1))
    ),
)
plausible_values = st.one_of(
    edge_values,
    edge_values,  # twice: the values most likely to find a bug come up more often
    text,
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.uuids().map(str),
    st.dates().map(str),
    datetimes,
    st.sampled_from(["on_review", "approved", "true", "false", "null", "", " ", "%", "_"]),
    st.tuples(st.sampled_from("+- "), text).map("".join),
    st.tuples(st.sampled_from(["+", "-", "%2B"]), st.sampled_from(["name", "id", "json.a.b"])).map(
        "".join
    ),
    st.tuples(text, st.sampled_from(["==", ">", "<", ">=", "<="]), text).map(" ".join),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
    | edge_values,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)


def query_strings(operation: dict) -> st.SearchStrategy[str]:
    known = [p["name"] for p in operation["parameters"] if p["in"] == "query"]
    names = st.sampled_from(known) if known else st.nothing()
    name = st.one_of(
        names,
        names,
        names.map(lambda n: n + "[]"),
        st.text(string.ascii_letters + "_[]\x00", min_size=1, max_size=12),
    )
    pairs = st.lists(st.tuples(name, plausible_values), max_size=5)
    return pairs.map(lambda items: urlencode(items))


def path_ids() -> st.SearchStrategy[str]:
    return st.one_of(
        st.uuids().map(str),
        st.just(str(uuid.UUID(int=0))),
        text.filter(bool).map(lambda value: quote(value, safe="")),
    )


def body_fields(spec_schemas: dict, operation: dict) -> list[str]:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = content.get("schema", {})
    if "$ref" in schema:
        schema = spec_schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return list(schema.get("properties", {}))


def bodies(fields: list[str]) -> st.SearchStrategy[tuple[bytes | None, str | None]]:
    as_json = st.one_of(
        json_values,
        st.dictionaries(
            st.sampled_from(fields) if fields else text, json_values | plausible_values
        ),
    ).map(lambda value: (json.dumps(value).encode(), "application/json"))
    raw = st.tuples(
        st.binary(max_size=60)
        | st.sampled_from([b"{", b"NaN", b'{"a": NaN}', b"[1,]", b"\xff\xfe", b""]),
        st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"]),
    )
    return st.one_of(st.just((None, None)), as_json, raw)


# -- the test ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def admin_token(issuer):
    """Minted once, so flaat validates it once; the user row is made in each test."""
    return bearer(
        issuer.mint(ADMIN_SUB, email="garbage-admin@example.org", entitlements=[ADMIN_ENTITLEMENT])
    )


@pytest.fixture
def admin(issuer):
    return UserFactory(sub=ADMIN_SUB, iss=issuer.url, email="garbage-admin@example.org")


@pytest.fixture
def spec(client):
    return client.get("/api-spec.json").json


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
    # No shrinking: with every operation in each example it takes minutes, and the
    # failure message already shows the exact request.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(data=st.data())
def test_no_request_makes_a_server_error(client, spec, admin, admin_token, data):
    """Each example sends one random request to every operation of the document."""
    schemas = spec["components"]["schemas"]
    for method, path, operation in operations(spec):
        ids = data.draw(
            st.fixed_dictionaries({name: path_ids() for name in path_parameters(operation)}),
            label=f"{method} {path} ids",
        )
        query = data.draw(query_strings(operation), label="query")
        body, content_type = data.draw(bodies(body_fields(schemas, operation)), label="body")
        as_admin = data.draw(st.booleans(), label="as admin")
        url = path
        for name, value in ids.items():
            url = url.replace("{" + name + "}", value)

        response = client.open(
            f"{url}?{query}" if query else url,
            method=method,
            data=body,
            content_type=content_type,
            headers=admin_token if as_admin else None,
        )

        assert response.status_code < 500, (
            f"{method} {url}?{query} ({content_type}: {body!r:.300}) -> "
            f"{response.status_code}: {response.get_data(as_text=True)}"
        )
