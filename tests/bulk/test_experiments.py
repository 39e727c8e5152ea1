"""flask import / export of experiments: experiment, config, qps and latencies records."""

import json

import numpy as np

from backend.bulk import import_records
from backend.extensions import db
from backend.json_provider import dumps
from backend.models import Experiment, Job
from factories import BenchmarkFactory, FlavorFactory, SiteFactory, TagFactory
from tests.bulk import test_export
from tests.bulk.test_export import export, invoke, records

#: An app on a second, empty database (the fixture of the results' round trip).
second_app = test_export.second_app

rng = np.random.default_rng(13)


def lines(*records) -> list[str]:
    return [json.dumps(record) for record in records]


def post(client, headers, path, body):
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response


def make_experiments(client, headers):
    """Two experiments through the API: one linked to the catalogue, with a configuration
    and two jobs, and one whose first job has latencies but no QPS."""
    site = SiteFactory(name="SITE-A")
    flavor = FlavorFactory(site=site, name="small")
    benchmark = BenchmarkFactory(docker_image="ex/mlperf", docker_tag="5.0")
    tag = TagFactory(name="gpu")
    post(client, headers, "/config/resnet", {"scenario": "Offline", "batch": 8})
    for selector, qps, samples in (
        ("bs8", 1250.5, rng.lognormal(-5, 1, 70_000)),  # more than one stored chunk
        ("bs16", 2210.0, rng.integers(500_000, 9_000_000, 999).astype(float)),
    ):
        post(client, headers, "/qps", {"experiment_id": "resnet", "selector": selector, "qps": qps})
        body = {"experiment_id": "resnet", "selector": selector, "latencies": samples.tolist()}
        post(client, headers, "/latencies", body)
    changes = {
        "benchmark_id": str(benchmark.id),
        "flavor_id": str(flavor.id),
        "tags_ids": [str(tag.id)],
    }
    patched = client.patch("/experiments/resnet", json=changes, headers=headers)
    assert patched.status_code == 200, patched.json
    post(
        client, headers, "/latencies", {"experiment_id": "bert", "selector": "z", "latencies": [3]}
    )
    post(client, headers, "/qps", {"experiment_id": "bert", "selector": "a", "qps": 7.5})


def answers(app, experiment_id) -> dict:
    client = app.test_client()
    pages = {}
    for path in (
        f"/experiments/{experiment_id}/stats",
        f"/experiments/{experiment_id}/stats?method=loadgen",
        f"/qps/{experiment_id}",
        f"/latencies/{experiment_id}?format=array",
        f"/config/{experiment_id}",
    ):
        response = client.get(path)
        pages[path] = (response.status_code, response.json)
    return pages


def test_export_then_import_into_an_empty_database_gives_the_same_experiments(
    app, second_app, client, user_headers
):
    make_experiments(client, user_headers)
    text = export(app)

    outcome = invoke(second_app, "import", "-", input=text)

    assert outcome.exit_code == 0, outcome.stderr
    for experiment_id in ("resnet", "bert"):
        assert answers(second_app, experiment_id) == answers(app, experiment_id)
    assert answers(app, "resnet")["/experiments/resnet/stats"][1]["all"]["count"] == 70_999
    assert stored_stats(second_app) == stored_stats(app)
    assert export(second_app) == text


def stored_stats(app) -> dict:
    with app.app_context():
        experiments = db.session.scalars(db.select(Experiment)).all()
        return {e.experiment_id: [e.stats, [job.stats for job in e.jobs]] for e in experiments}


def test_export_writes_experiment_records_after_what_they_refer_to(app, client, user_headers, user):
    make_experiments(client, user_headers)

    exported = records(export(app))

    kinds = [r["type"] for r in exported]
    assert kinds.index("experiment") > max(
        kinds.index(kind) for kind in ("user", "tag", "site", "flavor", "benchmark")
    )
    experiments = [r for r in exported if r["type"] == "experiment"]
    assert experiments == [
        {
            "type": "experiment",
            "experiment_id": "bert",
            "benchmark": None,
            "site": None,
            "flavor": None,
            "tags": [],
            "jobs": ["z", "a"],
            "uploader": {"sub": user.sub, "iss": user.iss},
        },
        {
            "type": "experiment",
            "experiment_id": "resnet",
            "benchmark": "ex/mlperf:5.0",
            "site": "SITE-A",
            "flavor": "small",
            "tags": ["gpu"],
            "jobs": ["bs8", "bs16"],
            "uploader": {"sub": user.sub, "iss": user.iss},
        },
    ]
    assert [r for r in exported if r["type"] == "config"] == [
        {
            "type": "config",
            "experiment_id": "resnet",
            "document": {"scenario": "Offline", "batch": 8},
        }
    ]
    assert {"type": "qps", "experiment_id": "bert", "selector": "a", "qps": 7.5} in exported
    assert {
        "type": "latencies",
        "experiment_id": "bert",
        "selector": "z",
        "latencies": [3.0],
    } in exported


def test_a_file_of_experiment_records_imports_with_the_apis_statistics(client, user):
    samples = rng.lognormal(0, 1, 5001)
    report = import_records(
        lines(
            {"type": "experiment", "experiment_id": "e1"},
            {"type": "qps", "experiment_id": "e1", "selector": "s", "qps": 10.0},
            {"type": "latencies", "experiment_id": "e1", "selector": "s", "latencies": [1, 2]},
            {
                "type": "latencies",
                "experiment_id": "e1",
                "selector": "t",
                "latencies": list(samples),
            },
            {"type": "config", "experiment_id": "e1", "document": {"a": 1}},
        ),
        uploader=(user.sub, user.iss),
    )

    assert report.ok, report.errors
    stats = client.get("/experiments/e1/stats").json
    both = np.concatenate([[1.0, 2.0], samples])
    assert stats["all"]["count"] == both.size
    assert stats["all"]["percentiles"]["99"] == np.percentile(both, 99)
    assert stats["jobs"][1]["latencies"]["percentiles"]["50"] == np.percentile(samples, 50)
    assert client.get("/config/e1").json == {"a": 1}
    assert client.get("/experiments/e1").json["uploader_id"] == str(user.id)
    assert "created: 1 experiment, 1 config, 1 qps, 2 latencies" in report.summary()


def test_bad_experiment_records_are_reported_with_their_line_number(user):
    report = import_records(
        [
            json.dumps({"type": "experiment", "experiment_id": "e1"}),
            '{"type": "latencies", "experiment_id": "e1", "selector": "s", "latencies": [1, NaN]}',
            *lines(
                {"type": "latencies", "experiment_id": "e1", "selector": "s", "latencies": [1, -2]},
                {"type": "latencies", "experiment_id": "e1", "selector": "s", "latencies": []},
                {"type": "qps", "experiment_id": "nope", "selector": "s", "qps": 1.0},
                {"type": "qps", "experiment_id": "e1", "selector": "s", "qps": 1.0},
                {"type": "qps", "experiment_id": "e1", "selector": "s", "qps": 2.0},
                {"type": "latencies", "experiment_id": "e1", "selector": "s", "latencies": [1]},
                {"type": "latencies", "experiment_id": "e1", "selector": "s", "latencies": [2]},
                {"type": "experiment", "experiment_id": "a/b"},
                {"type": "qps", "experiment_id": "e1", "selector": "s2", "qps": -1.0},
                {"type": "config", "experiment_id": "e1", "document": {"a": 1}},
                {"type": "config", "experiment_id": "e1", "document": {"a": 2}},
            ),
        ],
        uploader=(user.sub, user.iss),
    )

    messages = [str(message) for message in report.errors]
    assert messages[0].startswith("line 2: error: invalid JSON: NaN")
    assert messages[1] == (
        "line 3: error: latencies: latencies[1] is negative (-2.0); "
        "latencies must be finite numbers >= 0."
    )
    assert messages[2].startswith("line 4: error: latencies: The list is empty")
    assert messages[3] == (
        "line 5: error: no experiment 'nope'; add an experiment record before this line"
    )
    assert messages[4].startswith("line 7: error: The job (e1, s) already has a QPS (1.0)")
    assert messages[5].startswith("line 9: error: The job (e1, s) already has 1 latencies")
    assert messages[6] == "line 10: error: experiment_id: The experiment id must not contain '/'."
    assert messages[7] == "line 11: error: qps: The QPS must be >= 0."
    assert messages[8] == (
        "line 13: error: experiment 'e1' has another configuration; kept the stored one"
    )
    assert len(messages) == 9
    job = db.session.scalar(db.select(Job).filter_by(selector="s"))
    assert (job.qps, job.load_samples().tolist()) == (1.0, [1.0])


def test_reimporting_an_export_matches_experiments_and_refuses_their_jobs_again(
    app, client, user_headers
):
    make_experiments(client, user_headers)
    text = export(app)

    outcome = invoke(app, "import", "-", input=text)

    assert outcome.exit_code == 1
    assert "2 experiments, 1 config" in outcome.stdout + outcome.stderr
    assert "already has" in outcome.stderr
    assert db.session.query(Job).count() == 4


def test_latencies_lines_as_an_export_writes_them_keep_samples_and_big_integers_exactly(user):
    samples = [0.0067379469990854675, 1e-300, 1.7976931348623157e308, 12345678901234567.0]
    record = {"type": "latencies", "experiment_id": "e1", "selector": "s", "latencies": samples}
    line = dumps(record | {"settings": {"seed": 2**70, "name": "x"}})

    report = import_records(
        [json.dumps({"type": "experiment", "experiment_id": "e1"}), line],
        uploader=(user.sub, user.iss),
    )

    assert report.ok, report.errors
    job = db.session.scalar(db.select(Job).filter_by(selector="s"))
    assert job.load_samples().tolist() == samples
    assert job.settings == {"seed": 2**70, "name": "x"}
