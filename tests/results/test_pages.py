"""List pages are written out by backend.result_pages, not by the Result schema: both
must give the same items, since the schema is what the OpenAPI document promises."""

from __future__ import annotations

from sqlalchemy import select

from backend.extensions import db
from backend.models import Result
from backend.schemas.results import Result as ResultSchema
from factories import BenchmarkFactory, FlavorFactory, ResultFactory, TagFactory


def test_list_items_equal_the_result_schema_dump(client):
    tags = [TagFactory(name=name) for name in ("zeta", "alpha", "mid")]
    benchmark = BenchmarkFactory(json_schema={"type": "object", "title": "ünïcode"})
    flavors = [FlavorFactory(), FlavorFactory()]
    for n in range(5):
        ResultFactory(
            benchmark=benchmark,
            flavor=flavors[n % 2],
            tags=tags[: n % 4],
            json={"n": n, "nested": {"list": [1, 2.5, None, "x"]}},
        )

    response = client.get("/results", query_string={"sort_by": "-json.n"})

    assert response.status_code == 200
    db.session.expire_all()
    results = db.session.scalars(select(Result).order_by(Result.json["n"].as_integer().desc()))
    assert response.json["items"] == ResultSchema(many=True).dump(results)
    assert [tag["name"] for tag in response.json["items"][1]["tags"]] == ["alpha", "mid", "zeta"]


def test_an_empty_page_has_no_items(client):
    response = client.get("/results")
    assert response.status_code == 200
    assert response.json["items"] == []
    assert response.json["total"] == 0
