"""flask export: the import format, filters, and export → import reproducing the API."""

import json
import os
from datetime import UTC, datetime, timedelta

import flask_migrate
import pytest

from backend import create_app
from backend.bulk import RECORD_TYPES
from backend.devtools.databases import throwaway_database
from backend.extensions import db
from backend.models import ItemStatus
from factories import (
    BenchmarkFactory,
    ClaimFactory,
    FlavorFactory,
    ResultFactory,
    SiteFactory,
    TagFactory,
    UserFactory,
)

SCHEMA = {"type": "object", "required": ["result"]}
PAGES = [
    "/sites",
    "/sites?status=on_review",
    "/benchmarks",
    "/benchmarks?status=on_review",
    "/tags",
    "/results",
    "/results?filters=result.score > 2",
]


@pytest.fixture
def second_app(app_settings, tmp_path):
    """An app on a second, empty (migrated) database, dropped after the test."""
    with throwaway_database(os.environ.get("TEST_DATABASE_URL"), tmp_path, "test_second") as url:
        second = create_app(**{**app_settings, "DATABASE_URL": url})
        with second.app_context():
            flask_migrate.upgrade()
        yield second
        with second.app_context():
            db.session.remove()
            db.engine.dispose()


def without_ids(value):
    """The API answer minus what an import cannot keep: ids and upload times."""
    if isinstance(value, dict):
        return {
            k: without_ids(v)
            for k, v in value.items()
            if k not in {"id", "upload_datetime"} and not k.endswith("_id")
        }
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    return value


def answers(app) -> dict:
    client = app.test_client()
    pages = {}
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 200, response.json
        pages[url] = without_ids(response.json)
    for site in client.get("/sites").json["items"]:
        flavors = client.get(f"/sites/{site['id']}/flavors").json
        pages[f"flavors of {site['name']}"] = without_ids(flavors)
    return pages


def invoke(app, *args, input=None):
    """Run a command of ``app`` (flask's CLI runs in the current app's context if any)."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args), input=input)


def export(app, *args) -> str:
    outcome = invoke(app, "export", "-", *args)
    assert outcome.exit_code == 0, outcome.stderr
    return outcome.stdout


def records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def make_data():
    alice, bob = UserFactory(sub="alice"), UserFactory(sub="bob")
    site = SiteFactory(name="SITE-A", uploader=alice)
    small = FlavorFactory(site=site, name="small", uploader=alice)
    large = FlavorFactory(site=site, name="large", description=None, uploader=bob)
    pending = SiteFactory(name="SITE-P", status=ItemStatus.on_review, uploader=bob)
    FlavorFactory(site=pending, name="p1", status=ItemStatus.on_review)
    benchmark = BenchmarkFactory(
        docker_image="ex/b", docker_tag="1", json_schema=SCHEMA, uploader=alice
    )
    other = BenchmarkFactory(docker_image="registry:5000/ex/c", docker_tag="2")
    BenchmarkFactory(docker_image="ex/new", status=ItemStatus.on_review)
    gpu, cpu = TagFactory(name="gpu"), TagFactory(name="cpu", description=None)
    TagFactory(name="unused")
    start = datetime(2022, 1, 1, tzinfo=UTC)
    for n in range(5):
        ResultFactory(
            benchmark=benchmark,
            flavor=small if n % 2 else large,
            uploader=alice if n < 3 else bob,
            execution_datetime=start + timedelta(hours=n),
            json={"result": {"score": n}, "name": f"run {n}", "ok": n % 2 == 0},
            tags=[gpu, cpu][: n % 3],
        )
    ResultFactory(
        benchmark=other,
        flavor=small,
        uploader=None,
        execution_datetime=start + timedelta(days=1, hours=3, minutes=7),
        json={"result": {"score": 9.5}, "unicode": "Zürich ✓", "path": "C:\\tmp\tx\n"},
    )
    ClaimFactory(resource=ResultFactory(benchmark=other, flavor=small))  # hidden: not exported
    return benchmark


def test_export_then_import_into_an_empty_database_gives_the_same_answers(app, second_app):
    make_data()
    text = export(app)

    outcome = invoke(second_app, "import", "-", input=text)

    assert outcome.exit_code == 0, outcome.stderr
    assert answers(second_app) == answers(app)
    assert answers(app)["/results"]["total"] == 6
    assert export(second_app) == text


def test_export_writes_the_import_format_catalogue_first(app):
    make_data()

    exported = records(export(app))

    kinds = [r["type"] for r in exported]
    assert kinds == sorted(kinds, key=RECORD_TYPES.index)
    result = next(r for r in exported if r["type"] == "result" and r["tags"])
    assert set(result) == {
        "type",
        "benchmark",
        "site",
        "flavor",
        "tags",
        "execution_datetime",
        "uploader",
        "json",
    }
    assert result["benchmark"] == "ex/b:1"
    assert result["uploader"]["iss"] == "https://issuer.example.org"
    assert result["execution_datetime"].endswith("+00:00")
    assert {r["status"] for r in exported if r["type"] == "site"} == {"approved", "on_review"}
    assert "claim" not in kinds


def test_export_of_one_benchmark_holds_what_its_results_refer_to(app):
    benchmark = make_data()

    exported = records(export(app, "--benchmark", "ex/b:1"))

    by_type = {}
    for record in exported:
        by_type.setdefault(record["type"], []).append(record)
    assert {r["benchmark"] for r in by_type["result"]} == {benchmark.name}
    assert len(by_type["result"]) == 5
    assert [b["docker_image"] for b in by_type["benchmark"]] == ["ex/b"]
    assert [s["name"] for s in by_type["site"]] == ["SITE-A"]
    assert [t["name"] for t in by_type["tag"]] == ["cpu", "gpu"]
    assert sorted(u["sub"] for u in by_type["user"]) == ["alice", "bob"]


def test_export_since_filters_on_upload_time(app):
    make_data()
    later = datetime.now(UTC) + timedelta(hours=1)
    ResultFactory(upload_datetime=later + timedelta(minutes=1), json={"result": "late"})

    exported = records(export(app, "--since", later.isoformat()))

    results = [r for r in exported if r["type"] == "result"]
    assert [r["json"] for r in results] == [{"result": "late"}]
    assert len([r for r in exported if r["type"] == "site"]) == 1


def test_export_of_an_unknown_benchmark_is_a_usage_error(app):
    outcome = invoke(app, "export", "-", "--benchmark", "no/such:1")

    assert outcome.exit_code == 2
    assert "No benchmark no/such:1" in outcome.stderr
