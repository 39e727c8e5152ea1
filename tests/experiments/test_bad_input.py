"""Bad input is a 422 naming the problem (a 413 naming the limit for too much of it), and
nothing of a refused request is stored."""

import pytest

from backend import create_app
from backend.extensions import db
from backend.models import Experiment, Job, LatencyChunk


def post_latencies(client, headers, values, experiment_id="e", selector="s"):
    return client.post(
        "/latencies",
        json={"experiment_id": experiment_id, "selector": selector, "latencies": values},
        headers=headers,
    )


def assert_nothing_stored():
    for model in (Experiment, Job, LatencyChunk):
        assert db.session.query(model).count() == 0


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1.0, -0.5], "latencies[1] is negative (-0.5)"),
        ([1.0, 2.0, "3"], "latencies[2] is '3', not a number"),
        ([True], "latencies[0] is True, not a number"),
        ([1, None], "latencies[1] is None, not a number"),
        ([[1.0]], "latencies[0] is [1.0], not a number"),
        ([], "The list is empty"),
        ("1,2,3", "Must be a list of numbers"),
    ],
)
def test_bad_latencies_are_422_naming_the_index(client, user_headers, values, expected):
    response = post_latencies(client, user_headers, values)

    assert response.status_code == 422
    assert expected in response.json["message"]
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("NaN", "latencies[2] is NaN"),
        ("Infinity", "latencies[2] is Infinity"),
        ("-Infinity", "latencies[2] is -Infinity"),
    ],
)
def test_nan_and_infinity_are_422_naming_the_index(client, user_headers, literal, expected):
    """JSON cannot spell them, but Python's json.dumps writes them: the answer says which
    sample is wrong rather than "invalid JSON"."""
    body = f'{{"experiment_id": "e", "selector": "s", "latencies": [1.5, 2, {literal}]}}'

    response = client.post(
        "/latencies", data=body, content_type="application/json", headers=user_headers
    )

    assert response.status_code == 422
    assert expected in response.json["message"]
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-1.0, "The QPS must be >= 0"), ("fast", "Not a valid number"), ("NaN", "nan or infinity")],
)
def test_bad_qps_is_422(client, user_headers, value, expected):
    literal = value if isinstance(value, float) or value == "NaN" else f'"{value}"'
    body = f'{{"experiment_id": "e", "selector": "s", "qps": {literal}}}'

    response = client.post("/qps", data=body, content_type="application/json", headers=user_headers)

    assert response.status_code == 422
    assert expected in response.json["message"]
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("experiment_id", "selector", "expected"),
    [
        ("", "s", "The experiment id is empty"),
        ("e", "", "The selector is empty"),
        ("x" * 201, "s", "201 characters long; at most 200"),
        ("e", "y" * 201, "201 characters long; at most 200"),
        ("a/b", "s", "must not contain '/'"),
        ("a:b", "s", "must not contain ':'"),
        ("e\n", "s", "not printable"),
        ("e", "tab\there", "not printable"),
    ],
)
def test_bad_ids_and_selectors_are_422(client, user_headers, experiment_id, selector, expected):
    for path, body in (
        ("/qps", {"experiment_id": experiment_id, "selector": selector, "qps": 1.0}),
        ("/latencies", {"experiment_id": experiment_id, "selector": selector, "latencies": [1]}),
    ):
        response = client.post(path, json=body, headers=user_headers)

        assert response.status_code == 422, path
        assert expected in response.json["message"], path
    assert_nothing_stored()


def test_an_experiment_id_with_a_colon_in_a_path_is_refused(client, user_headers):
    response = client.post("/config/a:b", json={"a": 1}, headers=user_headers)

    assert response.status_code == 422
    assert "must not contain ':'" in response.json["message"]
    assert_nothing_stored()


def test_a_selector_may_hold_a_slash(client, user_headers):
    response = post_latencies(client, user_headers, [1.0], selector="resnet/batch-8")

    assert response.status_code == 201


@pytest.fixture
def small_limits_client(app_settings):
    app = create_app(**app_settings, LATENCIES_MAX_SAMPLES=5, LATENCIES_MAX_BODY_SIZE=2000)
    return app.test_client()


def test_more_samples_than_the_limit_is_413_naming_it(small_limits_client, user_headers):
    response = post_latencies(small_limits_client, user_headers, [1.0] * 6)

    assert response.status_code == 413
    assert "at most 5 per job (LATENCIES_MAX_SAMPLES)" in response.json["message"]
    assert_nothing_stored()


def test_a_body_over_the_limit_is_413_naming_it(small_limits_client, user_headers):
    response = post_latencies(small_limits_client, user_headers, [1.0] * 600)

    assert response.status_code == 413
    assert "LATENCIES_MAX_BODY_SIZE" in response.json["message"]
    assert_nothing_stored()


def test_latency_lists_are_not_held_to_the_general_body_limit(client, user_headers, app):
    values = [0.001 * i for i in range(200_000)]  # about 2 MB of JSON
    assert len(str(values)) > app.config["MAX_CONTENT_LENGTH"]

    response = post_latencies(client, user_headers, values)

    assert response.status_code == 201, response.json
    assert response.json["count"] == 200_000


def test_the_default_configuration_takes_ten_million_samples(app):
    assert app.config["LATENCIES_MAX_SAMPLES"] == 10_000_000
    longest = len("1.2345678901234567e-300,")
    assert app.config["LATENCIES_MAX_BODY_SIZE"] >= 10_000_000 * longest


def test_bad_stats_and_histogram_arguments_are_422(client, user_headers):
    post_latencies(client, user_headers, [1.0, 2.0])

    for query, expected in (
        ("stats?percentiles=101", "'101' is not a percentile"),
        ("stats?percentiles=abc", "'abc' is not a percentile"),
        ("stats?method=median", "Must be one of"),
        ("histogram?bins=0", "bins"),
    ):
        response = client.get(f"/experiments/e/{query}")
        assert response.status_code == 422, query
        assert expected in response.json["message"], query


@pytest.mark.parametrize("experiment_id", ["a%00b", "x" * 201, "tab%09here"])
@pytest.mark.parametrize("path", ["/experiments/{}", "/qps/{}", "/latencies/{}", "/config/{}"])
def test_an_id_no_experiment_can_have_is_404_before_any_query(client, path, experiment_id):
    """PostgreSQL refuses NUL in a text parameter: it used to be a 500 (found by
    tests/api/test_garbage.py)."""
    response = client.get(path.format(experiment_id))

    assert response.status_code == 404
    assert "printable" in response.json["message"]
