"""The seed's requests, written literally as its README shows them (trailing slashes and
all), and its answers; existing tooling only adds a bearer token."""

from backend.extensions import db
from backend.models import Experiment


def test_a_sweep_posted_as_the_seed_does_reads_back_as_the_seed_answers(client, user_headers):
    for selector, qps in (("job-1", 100.5), ("job-2", 200.0)):
        posted = client.post(
            "/qps/",
            json={"experiment_id": "eid1", "selector": selector, "qps": qps},
            headers=user_headers,
        )
        assert posted.status_code == 201, posted.json
    posted = client.post(
        "/latencies/",
        json={"experiment_id": "eid1", "selector": "job-1", "latencies": [0.5, 1.25, 3]},
        headers=user_headers,
    )
    assert posted.status_code == 201, posted.json

    assert client.get("/qps/eid1").json == [
        {"experiment_id": "eid1", "selector": "job-1", "qps": 100.5},
        {"experiment_id": "eid1", "selector": "job-2", "qps": 200.0},
    ]
    assert client.get("/latencies/eid1").json == [
        {"experiment_id": "eid1", "selector": "job-1", "latencies": "0.5,1.25,3.0"}
    ]
    assert client.get("/experiments/").json == {"experiments": ["eid1"]}


def test_paths_work_with_and_without_the_trailing_slash(client, user_headers):
    client.post(
        "/qps", json={"experiment_id": "e", "selector": "s", "qps": 1.0}, headers=user_headers
    )

    for path in (
        "/qps/e",
        "/qps/e/",
        "/latencies/e",
        "/latencies/e/",
        "/experiments",
        "/experiments/",
        "/experiments/e",
        "/experiments/e/",
    ):
        assert client.get(path).status_code == 200, path


def test_an_experiment_answers_its_integer_id_and_config_id(client, user_headers):
    client.post(
        "/qps/", json={"experiment_id": "e", "selector": "s", "qps": 1.0}, headers=user_headers
    )
    stored = db.session.query(Experiment).one()

    answer = client.get("/experiments/e").json

    assert answer["id"] == stored.id
    assert answer["experiment_id"] == "e"
    assert answer["config_id"] is None


def test_a_configuration_is_stored_and_read_back_as_sent(client, user_headers):
    document = {"model": "resnet50", "batch": [1, 2, 4], "nested": {"precision": "fp16"}}

    stored = client.post("/config/eid1/", json=document, headers=user_headers)

    assert stored.status_code == 201, stored.json
    config_id = stored.json["config_id"]
    assert stored.json == {"experiment_id": "eid1", "config_id": config_id}
    assert client.get("/config/eid1").json == document
    assert client.get("/experiments/eid1/").json["config_id"] == config_id


def test_a_second_configuration_replaces_the_first_and_keeps_its_id(client, user_headers):
    first = client.post("/config/e", json={"a": 1}, headers=user_headers).json

    second = client.post("/config/e", json={"b": 2}, headers=user_headers).json

    assert second["config_id"] == first["config_id"]
    assert client.get("/config/e").json == {"b": 2}


def test_latencies_can_be_read_as_json_arrays(client, user_headers):
    client.post(
        "/latencies",
        json={"experiment_id": "e", "selector": "s", "latencies": [3, 1.5, 2e-9]},
        headers=user_headers,
    )

    answer = client.get("/latencies/e?format=array").json

    assert answer == [{"experiment_id": "e", "selector": "s", "latencies": [3.0, 1.5, 2e-9]}]


def test_latencies_come_back_in_the_posted_order_across_chunks(client, user_headers):
    latencies = [float((i * 7919) % 100_003) for i in range(150_000)]  # three stored chunks
    client.post(
        "/latencies",
        json={"experiment_id": "e", "selector": "s", "latencies": latencies},
        headers=user_headers,
    )

    response = client.get("/latencies/e")

    assert response.is_streamed
    text = response.json[0]["latencies"]
    assert [float(v) for v in text.split(",")] == latencies


def test_an_experiment_without_latencies_reads_as_empty_lists(client, user_headers):
    client.post(
        "/qps", json={"experiment_id": "e", "selector": "s", "qps": 1.0}, headers=user_headers
    )

    assert client.get("/latencies/e").json == []


def test_unknown_experiments_are_404(client):
    for path in (
        "/qps/nope",
        "/latencies/nope",
        "/experiments/nope",
        "/config/nope",
        "/experiments/nope/stats",
        "/experiments/nope/histogram",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "nope" in response.json["message"]


def test_an_experiment_without_configuration_has_none_to_read(client, user_headers):
    client.post(
        "/qps", json={"experiment_id": "e", "selector": "s", "qps": 1.0}, headers=user_headers
    )

    response = client.get("/config/e")

    assert response.status_code == 404
    assert "no configuration" in response.json["message"]
