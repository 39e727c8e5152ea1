"""A page of 100 results with nested benchmark, site, flavor and tags costs a small,
constant number of SQL statements: never one (or more) per item."""

import uuid

import pytest
from sqlalchemy import event

from backend.extensions import db
from backend.models import Benchmark, Flavor, Result
from factories import BenchmarkFactory, FlavorFactory, ResultFactory, SiteFactory, TagFactory


class StatementCounter:
    def __init__(self):
        self.statements = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)


@pytest.fixture
def counter():
    counter = StatementCounter()
    event.listen(db.engine, "before_cursor_execute", counter)
    yield counter
    event.remove(db.engine, "before_cursor_execute", counter)


def make_results(count):
    tags = [TagFactory() for _ in range(5)]
    benchmarks = [BenchmarkFactory() for _ in range(3)]
    flavors = [FlavorFactory(site=SiteFactory()) for _ in range(4)]
    for n in range(count):
        ResultFactory(
            benchmark=benchmarks[n % 3], flavor=flavors[n % 4], tags=tags[: n % 4], json={"n": n}
        )


@pytest.mark.parametrize("count", [10, 100])
def test_a_page_costs_a_constant_number_of_statements(client, counter, count):
    make_results(count)
    db.session.remove()  # nothing cached in the identity map: every load is counted
    counter.statements.clear()
    response = client.get("/results", query_string={"per_page": 100, "sort_by": "-json.n"})
    assert response.status_code == 200
    assert len(response.json["items"]) == count
    assert all(
        item["benchmark"] and item["site"] and item["flavor"] for item in response.json["items"]
    )
    # count + page + benchmarks + sites + flavors + tags; on PostgreSQL also the result
    # versions before and after, under which the page is kept (result_finding.pages)
    kept = 2 if db.engine.dialect.name == "postgresql" else 0
    assert len(counter.statements) <= 6 + kept, counter.statements


def test_a_later_page_takes_its_catalogue_items_from_the_cache(client, counter):
    """Benchmarks, sites and flavors a worker has shown are kept dumped while the
    catalogue is unchanged: a page then costs its total, its rows and its tags."""
    make_results(20)
    query = {"per_page": 10, "sort_by": "-json.n"}
    first = client.get("/results", query_string=query)
    db.session.remove()
    counter.statements.clear()
    again = client.get("/results", query_string=query)
    assert again.status_code == 200
    assert again.json == first.json
    # count + page + tags (was 6 before the catalogue cache served them)
    assert len(counter.statements) <= 3, counter.statements


def test_a_catalogue_change_is_seen_by_the_next_page(client):
    make_results(2)
    first = client.get("/results").json["items"][0]["benchmark"]
    benchmark = db.session.get(Benchmark, uuid.UUID(first["id"]))
    benchmark.description = "changed after the first page"
    db.session.commit()
    again = client.get("/results").json["items"]
    assert {
        item["benchmark"]["description"] for item in again if item["benchmark"]["id"] == first["id"]
    } == {"changed after the first page"}


@pytest.mark.parametrize(
    "path", ["/sites", "/benchmarks", "/tags", "/sites/{site}/flavors", "/results/{result}"]
)
def test_small_requests_cost_one_statement_beyond_what_they_look_up(client, counter, path):
    """A catalogue page carries its total in its own statement; a result comes with its
    benchmark, site, flavor and tags in one. (/sites/{id}/flavors first finds the site.)"""
    make_results(3)
    db.session.remove()
    flavor = db.session.scalars(db.select(Flavor)).first()
    result = db.session.scalars(db.select(Result)).first()
    url = path.format(site=flavor.site_id, result=result.id)
    db.session.remove()
    counter.statements.clear()
    response = client.get(url)
    assert response.status_code == 200
    selects = [s for s in counter.statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == (2 if "flavors" in path else 1), selects
