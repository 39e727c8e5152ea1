"""A latency list is read from the JSON text straight into numpy: the values are exactly
those a JSON parser reads, and any body that is not a plain list of numbers is read and
refused as before (index of the first bad sample)."""

import numpy as np
import orjson

from backend.extensions import db
from backend.latency_stats import latencies_from_json
from backend.models import LatencyChunk


def post_body(client, headers, body: bytes):
    return client.post("/latencies", data=body, content_type="application/json", headers=headers)


def read_back(client, experiment_id="e"):
    answer = client.get(f"/latencies/{experiment_id}?format=array").json
    return {job["selector"]: job["latencies"] for job in answer}


def test_every_double_comes_back_bit_for_bit(client, user_headers):
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            [0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 1e22, 3.0],
            rng.lognormal(-5, 3, 200_000),  # about 4 MB of text: several reading steps
        ]
    )
    body = orjson.dumps(
        {"experiment_id": "e", "selector": "s", "latencies": values},
        option=orjson.OPT_SERIALIZE_NUMPY,
    )

    assert post_body(client, user_headers, body).status_code == 201
    stored = np.array(read_back(client)["s"])
    assert stored.view(np.uint64).tolist() == values.view(np.uint64).tolist()


def test_numbers_are_read_as_json_spells_them(client, user_headers):
    body = b'{"experiment_id":"e","selector":"s","latencies":[ 0 , 12 ,1.5e3,2E-2, 7.25 ]}'

    assert post_body(client, user_headers, body).status_code == 201
    assert read_back(client)["s"] == [0.0, 12.0, 1500.0, 0.02, 7.25]


def test_the_word_latencies_elsewhere_in_the_body_changes_nothing(client, user_headers):
    body = b'{"selector":"\\"latencies\\":[9]","latencies":[1,2],"experiment_id":"e"}'

    assert post_body(client, user_headers, body).status_code == 201
    assert read_back(client) == {'"latencies":[9]': [1.0, 2.0]}


def test_a_repeated_latencies_key_is_read_as_a_json_parser_reads_it(client, user_headers):
    body = b'{"experiment_id":"e","selector":"s","latencies":[1,2],"latencies":[3]}'

    assert post_body(client, user_headers, body).status_code == 201
    assert read_back(client)["s"] == [3.0]


def test_a_bad_sample_far_into_a_long_list_is_named_by_its_index(client, user_headers):
    values = ["0.001"] * 150_000
    values[123_456] = "-0.5"
    body = b'{"experiment_id":"e","selector":"s","latencies":[%s]}' % ",".join(values).encode()

    response = post_body(client, user_headers, body)

    assert response.status_code == 422
    assert "latencies[123456] is negative (-0.5)" in response.json["message"]


def test_numbers_json_does_not_allow_are_refused_as_before(client, user_headers):
    for spelling in (b"01", b"+1", b".5", b"1.", b"1e", b"0x10", b"1,,2", b"1,"):
        body = b'{"experiment_id":"e","selector":"s","latencies":[%s]}' % spelling

        response = post_body(client, user_headers, body)

        assert response.status_code in {400, 422}, spelling
    assert db.session.query(LatencyChunk).count() == 0


def test_only_a_plain_top_level_list_of_numbers_is_read_directly():
    def direct(body: bytes):
        document = latencies_from_json(body, max_samples=10)
        return None if document is None else document["latencies"].tolist()

    assert direct(b'{"latencies": [1, 2.5]}') == [1.0, 2.5]
    assert direct(b'{"latencies": [1, "2"]}') is None
    assert direct(b'{"latencies": [[1], 2]}') is None
    assert direct(b'{"latencies": [1, NaN]}') is None
    assert direct(b'{"latencies": []}') is None
    assert direct(b'{"a": {"latencies": [1]}, "latencies": [2]}') is None
    assert direct(b'[{"latencies": [1]}]') is None
    assert direct(b'{"latencies": [%s]}' % b",".join([b"1"] * 11)) is None
