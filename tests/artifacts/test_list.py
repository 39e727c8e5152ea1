"""GET /artifacts: the usual page, filters on kind, uploader, links, dates, metadata
(``filters=`` as on results) and ``terms=``."""

from __future__ import annotations

from backend.models import ArtifactKind
from factories import ArtifactFactory, ResultFactory, UserFactory


def names(response) -> list[str]:
    assert response.status_code == 200, response.json
    return sorted(item["name"] for item in response.json["items"])


def test_the_list_is_a_page_newest_first(client):
    ArtifactFactory(name="old")
    ArtifactFactory(name="new")

    response = client.get("/artifacts?per_page=1")

    assert response.json["total"] == 2
    assert response.json["pages"] == 2
    assert [item["name"] for item in response.json["items"]] == ["new"]


def test_filters_by_kind_uploader_and_result(client):
    owner = UserFactory()
    result = ResultFactory()
    ArtifactFactory(name="model", kind=ArtifactKind.model, uploader=owner)
    ArtifactFactory(name="log", kind=ArtifactKind.log, result_id=result.id)

    assert names(client.get("/artifacts?kind=model")) == ["model"]
    assert names(client.get(f"/artifacts?uploader_id={owner.id}")) == ["model"]
    assert names(client.get(f"/artifacts?result_id={result.id}")) == ["log"]
    assert names(client.get(f"/results/{result.id}/artifacts")) == ["log"]


def test_filters_on_metadata_use_the_results_grammar(client):
    ArtifactFactory(name="tf2", properties={"framework": {"name": "tensorflow", "version": 2}})
    ArtifactFactory(name="tf1", properties={"framework": {"name": "tensorflow", "version": 1}})
    ArtifactFactory(name="none", properties={})

    assert names(client.get("/artifacts?filters=framework.version%20>=%202")) == ["tf2"]
    assert names(client.get("/artifacts?filters=framework.name%20==%20tensorflow")) == [
        "tf1",
        "tf2",
    ]


def test_a_malformed_filter_is_422_saying_how_to_write_it(client):
    response = client.get("/artifacts?filters=framework.version")

    assert response.status_code == 422
    assert "<path.separated.by.dots> <operator> <value>" in response.json["message"]


def test_terms_match_name_description_and_metadata(client):
    ArtifactFactory(name="resnet50.onnx")
    ArtifactFactory(name="b", description="ImageNet validation set")
    ArtifactFactory(name="c", properties={"doi": "10.5281/zenodo.42"})

    assert names(client.get("/artifacts?terms=RESNET")) == ["resnet50.onnx"]
    assert names(client.get("/artifacts?terms=imagenet")) == ["b"]
    assert names(client.get("/artifacts?terms=zenodo.42")) == ["c"]


def test_unknown_result_or_experiment_lists_are_404(client):
    assert client.get("/results/6a7b2ad8-5b1c-4d6f-9a49-3f3c1c1f0c11/artifacts").status_code == 404
    assert client.get("/experiments/no-such-sweep/artifacts").status_code == 404
    assert client.get("/artifacts?experiment_id=no-such-sweep").status_code == 404
