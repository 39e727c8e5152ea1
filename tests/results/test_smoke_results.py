import json
from pathlib import Path

from factories import BenchmarkFactory, FlavorFactory

SAMPLES = Path(__file__).resolve().parents[2] / "backend" / "devtools" / "sample_data"


def test_upload_and_filter(client, user_headers):
    schema = {
        "type": "object",
        "properties": {"machine": {"type": "object"}},
        "required": ["machine"],
    }
    benchmark = BenchmarkFactory(json_schema=schema)
    flavor = FlavorFactory()
    for count in (1, 4, 8, 16):
        r = client.post(
            "/results",
            query_string={
                "execution_datetime": "2022-10-14T23:21:47+01:00",
                "benchmark_id": str(benchmark.id),
                "flavor_id": str(flavor.id),
            },
            json={"machine": {"cpu": {"count": count}}, "result": {"score": 100 / count}},
            headers=user_headers,
        )
        assert r.status_code == 201, r.json
    r = client.get("/results", query_string={"filters": ["machine.cpu.count > 4"]})
    assert r.status_code == 200, r.json
    assert sorted(i["json"]["machine"]["cpu"]["count"] for i in r.json["items"]) == [8, 16]
    r = client.get("/results", query_string={"sort_by": "-json.result.score"})
    assert [i["json"]["machine"]["cpu"]["count"] for i in r.json["items"]] == [1, 4, 8, 16]
    r = client.get("/results:search", query_string={"terms": [flavor.site.name.lower()]})
    assert r.json["total"] == 4
    r = client.post(
        "/results",
        query_string={
            "execution_datetime": "2022-10-14T23:21:47+01:00",
            "benchmark_id": str(benchmark.id),
            "flavor_id": str(flavor.id),
        },
        json={"x": 1},
        headers=user_headers,
    )
    assert r.status_code == 422, r.json
    print(r.json)
