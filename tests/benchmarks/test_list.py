"""GET /benchmarks and /benchmarks:search: approved benchmarks, filtered, sorted, paginated."""

from datetime import UTC, datetime

import pytest

from backend.models import ItemStatus
from factories import BenchmarkFactory


def images(response):
    return [item["docker_image"] for item in response.json["items"]]


def test_lists_approved_benchmarks_sorted_by_image_and_tag(client):
    BenchmarkFactory(docker_image="b/bench", docker_tag="1.0")
    BenchmarkFactory(docker_image="a/bench", docker_tag="2.0")
    benchmark = BenchmarkFactory(
        docker_image="a/bench",
        docker_tag="1.0",
        url="https://example.org/docs",
        json_schema={"type": "object"},
        description="The first",
    )

    response = client.get("/benchmarks")

    assert response.status_code == 200
    pairs = [(i["docker_image"], i["docker_tag"]) for i in response.json["items"]]
    assert pairs == [("a/bench", "1.0"), ("a/bench", "2.0"), ("b/bench", "1.0")]
    assert response.json["items"][0] == {
        "id": str(benchmark.id),
        "docker_image": "a/bench",
        "docker_tag": "1.0",
        "url": "https://example.org/docs",
        "json_schema": {"type": "object"},
        "description": "The first",
        "upload_datetime": benchmark.upload_datetime.isoformat(),
    }
    assert response.json["items"][0]["upload_datetime"].endswith("+00:00")


def test_pagination_fields(client):
    BenchmarkFactory.create_batch(3)

    first = client.get("/benchmarks?per_page=2")
    last = client.get("/benchmarks?per_page=2&page=2")

    assert first.json["total"] == 3
    assert first.json["pages"] == 2
    assert first.json["has_next"] is True
    assert first.json["next_num"] == 2
    assert first.json["prev_num"] is None
    assert len(last.json["items"]) == 1
    assert last.json["has_next"] is False
    assert last.json["next_num"] is None
    assert last.json["has_prev"] is True
    assert last.json["prev_num"] == 1


def test_benchmarks_on_review_are_listed_only_when_asked_for(client):
    BenchmarkFactory(docker_image="approved/bench")
    BenchmarkFactory(docker_image="pending/bench", status=ItemStatus.on_review)

    assert images(client.get("/benchmarks")) == ["approved/bench"]
    assert images(client.get("/benchmarks?status=on_review")) == ["pending/bench"]


def test_filter_by_docker_image_and_tag(client):
    BenchmarkFactory(docker_image="a/bench", docker_tag="1.0")
    BenchmarkFactory(docker_image="a/bench", docker_tag="2.0")
    BenchmarkFactory(docker_image="b/bench", docker_tag="1.0")

    assert client.get("/benchmarks?docker_image=a/bench").json["total"] == 2
    assert client.get("/benchmarks?docker_tag=1.0").json["total"] == 2
    response = client.get("/benchmarks?docker_image=a/bench&docker_tag=2.0")
    assert [(i["docker_image"], i["docker_tag"]) for i in response.json["items"]] == [
        ("a/bench", "2.0")
    ]


def test_filter_by_upload_dates(client):
    BenchmarkFactory(docker_image="old/bench", upload_datetime=datetime(2020, 1, 1, tzinfo=UTC))
    BenchmarkFactory(docker_image="new/bench", upload_datetime=datetime(2022, 1, 1, tzinfo=UTC))

    assert images(client.get("/benchmarks?upload_after=2021-01-01")) == ["new/bench"]
    assert images(client.get("/benchmarks?upload_before=2021-01-01")) == ["old/bench"]


def test_sort_benchmarks(client):
    BenchmarkFactory(docker_image="b/bench")
    BenchmarkFactory(docker_image="c/bench")
    BenchmarkFactory(docker_image="a/bench")

    assert images(client.get("/benchmarks?sort_by=-docker_image")) == [
        "c/bench",
        "b/bench",
        "a/bench",
    ]
    assert images(client.get("/benchmarks?sort_by=%2Bdocker_image")) == [
        "a/bench",
        "b/bench",
        "c/bench",
    ]


def test_search_matches_image_tag_or_description(client):
    BenchmarkFactory(docker_image="deephdc/tf-bench", docker_tag="1.0", description="ML")
    BenchmarkFactory(docker_image="other/bench", docker_tag="tf-2.1", description="x")
    BenchmarkFactory(docker_image="third/bench", docker_tag="1.0", description="Uses TF")
    BenchmarkFactory(docker_image="fourth/bench", docker_tag="1.0", description="nothing")

    response = client.get("/benchmarks:search?terms=tf")

    assert response.status_code == 200
    assert images(response) == ["deephdc/tf-bench", "other/bench", "third/bench"]


def test_search_needs_every_term(client):
    BenchmarkFactory(docker_image="deephdc/tf-bench", description="GPU")
    BenchmarkFactory(docker_image="deephdc/torch-bench", description="GPU")

    assert images(client.get("/benchmarks:search?terms=deephdc&terms=TF")) == ["deephdc/tf-bench"]
    assert images(client.get("/benchmarks:search?terms[]=gpu&terms[]=torch")) == [
        "deephdc/torch-bench"
    ]


def test_search_with_an_empty_term_matches_all(client):
    BenchmarkFactory.create_batch(3)

    assert client.get("/benchmarks:search?terms=").json["total"] == 3


def test_search_treats_percent_and_underscore_literally(client):
    BenchmarkFactory(docker_image="a/my_bench")
    BenchmarkFactory(docker_image="a/myxbench")
    BenchmarkFactory(docker_image="a/bench", description="100% CPU")

    assert images(client.get("/benchmarks:search?terms=y_b")) == ["a/my_bench"]
    assert images(client.get("/benchmarks:search?terms=%25")) == ["a/bench"]


def test_search_benchmarks_on_review(client):
    BenchmarkFactory(docker_image="pending/bench", status=ItemStatus.on_review)

    assert images(client.get("/benchmarks:search?terms=pending")) == []
    assert images(client.get("/benchmarks:search?terms=pending&status=on_review")) == [
        "pending/bench"
    ]


def test_search_sorts_filters_and_paginates(client):
    BenchmarkFactory(docker_image="x/a", upload_datetime=datetime(2020, 1, 1, tzinfo=UTC))
    BenchmarkFactory(docker_image="x/b", upload_datetime=datetime(2022, 1, 1, tzinfo=UTC))
    BenchmarkFactory(docker_image="x/c", upload_datetime=datetime(2022, 2, 1, tzinfo=UTC))

    response = client.get(
        "/benchmarks:search?terms=x/&upload_after=2021-01-01&sort_by=-docker_image&per_page=1"
    )

    assert images(response) == ["x/c"]
    assert response.json["total"] == 2
    assert response.json["next_num"] == 2


@pytest.mark.parametrize("path", ["/benchmarks", "/benchmarks:search"])
@pytest.mark.parametrize(
    ("query", "argument"),
    [
        ("colour=red", "colour"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("page=2", "page"),
        ("sort_by=docker_image", "sort_by"),
        ("sort_by=%2Bname", "sort_by"),
        ("status=approve", "status"),
        ("upload_before=01/01/2022", "upload_before"),
    ],
)
def test_bad_arguments_are_422(client, path, query, argument):
    response = client.get(f"{path}?{query}")

    assert response.status_code == 422
    assert argument in response.json["errors"]["query"]
