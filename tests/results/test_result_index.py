"""The index tables beside results (counters, numeric JSON leaves) stay exact through every
way results change, and lists answered through them equal the plain answers.

The tables are PostgreSQL's (kept by triggers): the consistency checks run there. The list
answers are checked on both databases, since SQLite must give the same ones.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, insert, text

from backend.extensions import db
from backend.models import Result, results_tags
from backend.models.result_index import counts_agree, numbers_agree, rebuild
from factories import BenchmarkFactory, ClaimFactory, FlavorFactory, ResultFactory, TagFactory

SCHEMA = {
    "type": "object",
    "properties": {
        "v": {"type": "number"},
        "deep": {"type": "object", "properties": {"n": {"type": "integer"}}},
        "name": {"type": "string"},
    },
}


def on_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def assert_index_exact() -> None:
    """Counters and leaves equal a fresh computation (after the writes have committed).

    Also forgets the session's objects, as the end of a request would: the next request
    loads what it needs afresh."""
    db.session.remove()
    if on_postgresql():
        with db.engine.connect() as connection:
            assert counts_agree(connection)
            assert numbers_agree(connection)


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


def total(client, path: str, **query) -> int:
    response = client.get(path, query_string=query)
    assert response.status_code == 200, response.json
    return response.json["total"]


@pytest.fixture
def catalogue():
    benchmark = BenchmarkFactory(json_schema=SCHEMA)
    flavors = [FlavorFactory(), FlavorFactory()]
    tags = [TagFactory(name="gpu"), TagFactory(name="hpc")]
    return benchmark, flavors, tags


def make(benchmark, flavor, n, tags=(), **json):
    executed = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=n)
    return ResultFactory(
        benchmark=benchmark,
        flavor=flavor,
        tags=list(tags),
        execution_datetime=executed,
        json={"v": n, "deep": {"n": n % 3}, **json},
    )


def test_uploads_claims_tag_changes_and_deletes_keep_the_index_exact(
    client, catalogue, user_headers, admin_headers
):
    benchmark, flavors, (gpu, hpc) = catalogue
    site_id, gpu_id, hpc_id = str(flavors[0].site_id), str(gpu.id), str(hpc.id)
    results = [
        str(make(benchmark, flavors[n % 2], n, tags=[gpu] if n % 3 else []).id) for n in range(9)
    ]
    assert_index_exact()
    assert total(client, "/results") == 9
    assert total(client, "/results", tags_ids=gpu_id) == 6
    assert total(client, "/results", site_id=site_id) == 5

    response = client.post(
        f"/results/{results[1]}:claim", json={"message": "wrong"}, headers=user_headers
    )
    assert response.status_code == 201
    assert_index_exact()
    assert total(client, "/results") == 8
    assert total(client, "/results", tags_ids=gpu_id) == 5

    claim_id = response.json["id"]
    response = client.post(f"/reports/claims/{claim_id}:reject", headers=admin_headers)
    assert response.status_code == 204
    assert_index_exact()
    assert total(client, "/results", tags_ids=gpu_id) == 6

    response = client.put(
        f"/results/{results[0]}/tags", json={"tags_ids": [gpu_id, hpc_id]}, headers=admin_headers
    )
    assert response.status_code == 204
    assert_index_exact()
    assert total(client, "/results", tags_ids=hpc_id) == 1

    assert client.delete(f"/results/{results[2]}", headers=admin_headers).status_code == 204
    assert_index_exact()
    assert total(client, "/results") == 8
    assert total(client, "/results", tags_ids=gpu_id) == 6  # 6, +1 by the PUT, -1 deleted


def test_plain_sql_deletes_and_core_inserts_keep_the_index_exact(client, catalogue):
    """What the bulk importer (Core executemany) and an operator's SQL do."""
    benchmark, flavors, (gpu, _) = catalogue
    gpu_id = str(gpu.id)
    doomed = make(benchmark, flavors[0], 1, tags=[gpu]).id
    rows = [
        {
            "id": uuid.uuid4(),
            "execution_datetime": datetime(2023, 1, 1, tzinfo=UTC),
            "upload_datetime": datetime(2023, 1, 2, tzinfo=UTC),
            "json": {"v": n, "deep": {"n": "not a number"}},
            "benchmark_id": benchmark.id,
            "site_id": flavors[1].site_id,
            "flavor_id": flavors[1].id,
            "hidden": False,
        }
        for n in range(5)
    ]
    db.session.execute(insert(Result.__table__), rows)
    db.session.execute(
        insert(results_tags), [{"result_id": row["id"], "tag_id": gpu.id} for row in rows[:2]]
    )
    db.session.commit()
    assert_index_exact()
    assert total(client, "/results", tags_ids=gpu_id) == 3

    # The foreign key cascade removes the tags after the result row (no ORM involved).
    db.session.execute(delete(Result.__table__).where(Result.__table__.c.id == doomed))
    db.session.commit()
    assert_index_exact()
    assert total(client, "/results") == 5
    assert total(client, "/results", tags_ids=gpu_id) == 2


def test_truncating_results_clears_the_index(client, catalogue):
    if not on_postgresql():
        pytest.skip("TRUNCATE and the index tables are PostgreSQL's")
    benchmark, flavors, (gpu, _) = catalogue
    gpu_id = str(gpu.id)
    for n in range(3):
        make(benchmark, flavors[0], n, tags=[gpu])
    db.session.commit()
    assert total(client, "/results", tags_ids=gpu_id) == 3
    db.session.execute(text("TRUNCATE results CASCADE"))
    db.session.commit()
    assert_index_exact()
    assert db.session.scalar(text("SELECT count(*) FROM result_numbers")) == 0
    assert total(client, "/results", tags_ids=gpu_id) == 0


def test_changing_a_benchmark_schema_rebuilds_its_leaves(client, catalogue, admin_headers):
    benchmark, flavors, _ = catalogue
    benchmark_id = str(benchmark.id)
    for n in range(4):
        make(benchmark, flavors[0], n, score=10 - n)
    new_schema = {"type": "object", "properties": {"score": {"type": "number"}}}
    response = client.put(
        f"/benchmarks/{benchmark_id}", json={"json_schema": new_schema}, headers=admin_headers
    )
    assert response.status_code == 204
    assert_index_exact()
    response = client.get(
        "/results",
        query_string={"benchmark_id": benchmark_id, "sort_by": "+json.score", "per_page": 2},
    )
    assert [item["json"]["score"] for item in response.json["items"]] == [7, 8]


def test_rebuild_recomputes_what_the_triggers_keep(catalogue):
    if not on_postgresql():
        pytest.skip("the index tables are PostgreSQL's")
    benchmark, flavors, (gpu, _) = catalogue
    make(benchmark, flavors[0], 1, tags=[gpu])
    with db.engine.begin() as connection:
        connection.execute(text("DELETE FROM result_counts"))
        connection.execute(text("DELETE FROM result_numbers"))
    with db.engine.connect() as connection:
        assert not counts_agree(connection)
    with db.engine.begin() as connection:
        rebuild(connection)
    assert_index_exact()


def test_json_sort_through_the_index_equals_the_plain_order(client, catalogue):
    """Numbers first (ties by id), then text, then missing: pages across that border."""
    benchmark, flavors, _ = catalogue
    numbers = [make(benchmark, flavors[0], n, score=n % 4) for n in range(7)]
    text_valued = make(benchmark, flavors[0], 20, score="abc")
    missing = make(benchmark, flavors[0], 21)
    ResultFactory(flavor=flavors[0], json={"score": 100})  # another benchmark
    ClaimFactory(resource=make(benchmark, flavors[0], 22, score=99))  # hidden
    expected = [str(r.id) for r in sorted(numbers, key=lambda r: (-r.json["score"], str(r.id)))] + [
        str(text_valued.id),
        str(missing.id),
    ]
    schema = {"type": "object", "properties": {"score": {"type": "number"}}}
    benchmark.json_schema = schema
    db.session.commit()

    seen = []
    for page in (1, 2, 3):
        response = client.get(
            "/results",
            query_string={
                "benchmark_id": str(benchmark.id),
                "sort_by": "-json.score",
                "per_page": 4,
                "page": page,
            },
        )
        assert response.json["total"] == 9
        seen += ids(response)
    assert seen == expected


def test_numeric_json_filters_count_exactly(client, catalogue):
    benchmark, flavors, _ = catalogue
    for n in range(10):
        make(benchmark, flavors[n % 2], n)
    make(benchmark, flavors[0], 30, v="7")  # text: never matches a numeric filter
    ClaimFactory(resource=make(benchmark, flavors[0], 5))  # hidden
    query = {"benchmark_id": str(benchmark.id), "filters": ["v > 2", "v <= 7.5"]}
    response = client.get("/results", query_string=query)
    assert response.json["total"] == len(ids(response)) == 5
    query["filters"] = ["deep.n == 1"]
    response = client.get("/results", query_string=query)
    assert response.json["total"] == len(ids(response)) == 3
    query["filters"] = ["name == x"]
    assert total(client, "/results", **query) == 0


def test_search_totals_through_the_counters_equal_the_items(client, catalogue):
    benchmark, flavors, (gpu, _) = catalogue
    site = flavors[0].site
    for n in range(6):
        make(benchmark, flavors[n % 2], n, tags=[gpu] if n == 1 else [])
    response = client.get("/results:search", query_string={"terms": site.name.lower()})
    assert response.json["total"] == len(ids(response)) == 3
    # A term naming a tag counts through the results themselves.
    response = client.get("/results:search", query_string={"terms": "gpu"})
    assert response.json["total"] == len(ids(response)) == 1
    response = client.get("/results:search", query_string={"terms": [site.name, "gpu"]})
    assert response.json["total"] == len(ids(response)) == 0


def test_kept_json_filter_totals_follow_every_change(client, catalogue, admin_headers):
    """Totals kept per benchmark version: an upload, a claim and a schema change each
    make the next answer count again."""
    benchmark, flavors, _ = catalogue
    benchmark_id = str(benchmark.id)
    made = [make(benchmark, flavors[0], n) for n in range(4)]
    query = {"benchmark_id": benchmark_id, "filters": ["v >= 0", "v < 100"]}
    assert total(client, "/results", **query) == 4
    assert total(client, "/results", **query) == 4  # kept

    make(benchmark, flavors[1], 5)
    assert total(client, "/results", **query) == 5
    ClaimFactory(resource=made[0])
    assert total(client, "/results", **query) == 4
    db.session.remove()
    response = client.put(
        f"/benchmarks/{benchmark_id}",
        json={"json_schema": {"type": "object", "properties": {"w": {"type": "number"}}}},
        headers=admin_headers,
    )
    assert response.status_code == 204
    response = client.get("/results", query_string=query)  # v is no longer tracked
    assert response.json["total"] == len(ids(response)) == 4
