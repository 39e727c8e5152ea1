"""A page of 100 results with nested benchmark, site, flavor and tags costs a small,
constant number of SQL statements: never one (or more) per item."""

import pytest
from sqlalchemy import event

from backend.extensions import db
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
    # count + page + benchmarks + sites + flavors + tags
    assert len(counter.statements) <= 6, counter.statements
