"""Reads are public; writes need a registered user; only the experiment's creator or an
admin adds to it, changes it or deletes it; a job's results are written once."""

import numpy as np

from backend.extensions import db
from backend.models import Experiment, Job, LatencyChunk
from factories import BenchmarkFactory, ExperimentFactory, FlavorFactory, SiteFactory, TagFactory


def qps(experiment_id="e", selector="s", value=1.0):
    return {"experiment_id": experiment_id, "selector": selector, "qps": value}


def latencies(experiment_id="e", selector="s", values=(1.0, 2.0)):
    return {"experiment_id": experiment_id, "selector": selector, "latencies": list(values)}


def test_writes_need_a_token_and_a_registered_user(client, token_headers):
    assert client.post("/qps", json=qps()).status_code == 401
    assert client.post("/latencies", json=latencies(), headers=token_headers).status_code == 403
    assert db.session.query(Experiment).count() == 0


def test_only_the_creator_or_an_admin_adds_to_an_experiment(client, user_headers, admin_headers):
    ExperimentFactory(experiment_id="theirs")

    refused = client.post("/qps", json=qps("theirs"), headers=user_headers)
    by_admin = client.post("/qps", json=qps("theirs"), headers=admin_headers)

    assert refused.status_code == 403
    assert by_admin.status_code == 201
    for path, body in (("/latencies", latencies("theirs", "t")), ("/config/theirs", {"a": 1})):
        assert client.post(path, json=body, headers=user_headers).status_code == 403


def test_a_second_qps_for_a_job_is_409_and_keeps_the_first(client, user_headers):
    client.post("/qps", json=qps(value=1.5), headers=user_headers)

    response = client.post("/qps", json=qps(value=9.0), headers=user_headers)

    assert response.status_code == 409
    assert "already has a QPS" in response.json["message"]
    assert client.get("/qps/e").json[0]["qps"] == 1.5


def test_second_latencies_for_a_job_are_409_and_keep_the_first(client, user_headers):
    client.post("/latencies", json=latencies(values=[1, 2, 3]), headers=user_headers)

    response = client.post("/latencies", json=latencies(values=[7, 8]), headers=user_headers)

    assert response.status_code == 409
    assert "already has 3 latencies" in response.json["message"]
    assert client.get("/latencies/e").json[0]["latencies"] == "1.0,2.0,3.0"
    assert client.get("/experiments/e/stats").json["all"]["count"] == 3


def test_qps_and_latencies_of_one_job_are_written_separately(client, user_headers):
    assert client.post("/latencies", json=latencies(), headers=user_headers).status_code == 201
    assert client.post("/qps", json=qps(), headers=user_headers).status_code == 201

    assert db.session.query(Job).count() == 1


def test_the_owner_deletes_an_experiment_with_everything_in_it(client, user_headers):
    client.post("/latencies", json=latencies(values=range(70_000)), headers=user_headers)
    client.post("/config/e", json={"a": 1}, headers=user_headers)

    response = client.delete("/experiments/e", headers=user_headers)

    assert response.status_code == 204
    assert client.get("/experiments/e").status_code == 404
    for model in (Experiment, Job, LatencyChunk):
        assert db.session.query(model).count() == 0


def test_others_may_not_delete_or_change_an_experiment(client, user_headers, admin_headers):
    ExperimentFactory(experiment_id="theirs")

    assert client.delete("/experiments/theirs", headers=user_headers).status_code == 403
    assert client.patch("/experiments/theirs", json={}, headers=user_headers).status_code == 403
    assert client.delete("/experiments/theirs", headers=admin_headers).status_code == 204


def test_the_owner_links_an_experiment_to_the_catalogue(client, user_headers):
    client.post("/qps", json=qps(), headers=user_headers)
    benchmark, flavor, tag = BenchmarkFactory(), FlavorFactory(), TagFactory()

    response = client.patch(
        "/experiments/e",
        json={
            "benchmark_id": str(benchmark.id),
            "flavor_id": str(flavor.id),
            "tags_ids": [str(tag.id)],
        },
        headers=user_headers,
    )

    assert response.status_code == 200, response.json
    assert response.json["benchmark_id"] == str(benchmark.id)
    assert response.json["site_id"] == str(flavor.site_id)
    assert [t["name"] for t in response.json["tags"]] == [tag.name]
    cleared = client.patch("/experiments/e", json={"benchmark_id": None}, headers=user_headers)
    assert cleared.json["benchmark_id"] is None
    assert cleared.json["flavor_id"] == str(flavor.id)


def test_a_flavor_of_another_site_is_422(client, user_headers):
    client.post("/qps", json=qps(), headers=user_headers)
    flavor, site = FlavorFactory(), SiteFactory()

    response = client.patch(
        "/experiments/e",
        json={"site_id": str(site.id), "flavor_id": str(flavor.id)},
        headers=user_headers,
    )

    assert response.status_code == 422
    assert "belongs to the site" in response.json["message"]


def test_unknown_catalogue_items_are_404(client, user_headers):
    client.post("/qps", json=qps(), headers=user_headers)

    response = client.patch(
        "/experiments/e",
        json={"benchmark_id": "0b7e1c3e-8d0c-4e0e-9a43-5a1f3c2a0c11"},
        headers=user_headers,
    )

    assert response.status_code == 404


def test_search_filters_by_catalogue_uploader_terms_and_pages(client, user_headers, user):
    benchmark = BenchmarkFactory()
    linked = ExperimentFactory(experiment_id="resnet-sweep", uploader=user)
    linked.benchmark_id = benchmark.id
    db.session.commit()
    ExperimentFactory(experiment_id="bert-sweep")

    by_benchmark = client.get(f"/experiments:search?benchmark_id={benchmark.id}").json
    by_uploader = client.get(f"/experiments:search?uploader_id={user.id}").json
    by_terms = client.get("/experiments:search?terms=BERT").json
    first_page = client.get("/experiments:search?per_page=1&sort_by=%2Bexperiment_id").json

    assert [e["experiment_id"] for e in by_benchmark["items"]] == ["resnet-sweep"]
    assert [e["experiment_id"] for e in by_uploader["items"]] == ["resnet-sweep"]
    assert [e["experiment_id"] for e in by_terms["items"]] == ["bert-sweep"]
    assert first_page["total"] == 2
    assert first_page["has_next"] is True
    assert [e["experiment_id"] for e in first_page["items"]] == ["bert-sweep"]


def test_search_by_tags_and_creation_date(client, user_headers):
    client.post("/qps", json=qps("tagged"), headers=user_headers)
    client.post("/qps", json=qps("plain"), headers=user_headers)
    tag = TagFactory()
    client.patch("/experiments/tagged", json={"tags_ids": [str(tag.id)]}, headers=user_headers)

    tagged = client.get(f"/experiments:search?tags_ids={tag.id}").json
    future = client.get("/experiments:search?created_after=2999-01-01").json

    assert [e["experiment_id"] for e in tagged["items"]] == ["tagged"]
    assert future["total"] == 0


def test_an_experiment_counts_its_samples(client, user_headers):
    client.post("/latencies", json=latencies(values=np.arange(5.0).tolist()), headers=user_headers)

    assert client.get("/experiments/e").json["sample_count"] == 5
