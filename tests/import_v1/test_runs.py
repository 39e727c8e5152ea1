"""``flask import-v1`` runs: again (nothing new), after v1 changed (just the new rows),
dry, strict, on a database that is not v1.2.x, and with rows v1 held but this service
would not have accepted."""

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select

from backend.bulk.v1_source import V1SourceRefused, import_v1
from backend.devtools.databases import throwaway_database
from backend.devtools.v1_database import create_v1_schema
from backend.extensions import db
from backend.models import Claim, ItemStatus, Result, Site, Tag, User
from backend.settings import database_uri
from tests.import_v1.conftest import T0, source_server, v1_rows


def count(model) -> int:
    return db.session.query(model).count()


def test_a_second_run_imports_nothing(v1, v1_url, client):
    import_v1(v1_url)
    before = client.get("/results").json

    report = import_v1(v1_url)

    assert report.ok
    assert report.results == 0
    assert sum(report.created.values()) == 0
    assert report.skipped_results == 8
    assert report.matched == {"user": 3, "tag": 2, "site": 3, "flavor": 3, "benchmark": 3,
                              "claim": 2}  # fmt: skip
    assert client.get("/results").json == before


def test_a_later_run_imports_just_what_is_new(v1, v1_url, client):
    import_v1(v1_url)
    claimed = v1.visible[0]
    with v1_rows(v1_url) as rows:
        dave = rows.user("dave-sub", v1.alice[1], "dave@example.org", T0)
        hpc = rows.tag("hpc")
        new = rows.result(
            dave, T0, T0 + timedelta(days=40), {"score": 9.0},
            v1.benchmarks["approved"], v1.flavors["approved"], v1.sites["approved"], [hpc],
        )  # fmt: skip
        claim = rows.claim(v1.bob, T0 + timedelta(days=41), "on_review", claimed, "typo")
        rows.connection.exec_driver_sql(
            f"UPDATE site SET status = 'approved' WHERE id = '{v1.sites['on_review']}'"
        )

    report = import_v1(v1_url)

    assert report.ok, report.summary()
    assert report.results == 1
    assert report.created == {"user": 1, "tag": 1, "claim": 1, "site status change": 1,
                              "hidden change": 1}  # fmt: skip
    listed = [item["id"] for item in client.get("/results").json["items"]]
    assert str(new) in listed and str(claimed) not in listed
    assert db.session.get(Claim, claim).resource_id == claimed
    assert db.session.get(Site, v1.sites["on_review"]).status == ItemStatus.approved
    assert [t["name"] for t in client.get(f"/results/{new}").json["tags"]] == ["hpc"]


def test_a_dry_run_writes_nothing(v1, v1_url):
    report = import_v1(v1_url, dry_run=True)

    assert report.ok
    assert report.results == 8
    assert report.created["user"] == 3
    assert (count(User), count(Tag), count(Site), count(Result), count(Claim)) == (0, 0, 0, 0, 0)


def test_a_source_that_is_not_v1_2_is_refused(tmp_path):
    with throwaway_database(source_server(), tmp_path, "test_v1_old") as url:
        engine = create_engine(database_uri(url))
        with engine.begin() as connection:
            create_v1_schema(connection, revision="0123456789ab")
        engine.dispose()

        with pytest.raises(V1SourceRefused, match="revision 0123456789ab; this importer reads"):
            import_v1(url)

    assert count(User) == 0


def test_a_database_without_alembic_version_is_refused(tmp_path):
    with (
        throwaway_database(source_server(), tmp_path, "test_v1_empty") as url,
        pytest.raises(V1SourceRefused, match="no readable alembic_version table"),
    ):
        import_v1(url)


def test_a_url_that_is_not_postgresql_is_refused(tmp_path):
    with pytest.raises(V1SourceRefused, match="must be a PostgreSQL URL"):
        import_v1(f"sqlite:///{tmp_path}/v1.db")


def add_problem_rows(v1, url):
    """A result whose document no longer matches its schema, one whose uploader is not a
    user (v1 has no foreign key there), and a claim no result refers to."""
    with v1_rows(url) as rows:
        invalid = rows.result(
            v1.alice, T0, T0, {"no": "score"},
            v1.benchmarks["approved"], v1.flavors["approved"], v1.sites["approved"],
        )  # fmt: skip
        orphan = rows.result(
            ("gone", "https://gone.example.org"), T0, T0, {"score": 1},
            v1.benchmarks["approved"], v1.flavors["approved"], v1.sites["approved"],
        )  # fmt: skip
        dangling = rows.claim(v1.bob, T0, "on_review", orphan, "x")
        rows.connection.exec_driver_sql(
            f"UPDATE result SET deleted = false, _claim_report_id = NULL WHERE id = '{orphan}'"
        )
    return invalid, orphan, dangling


def test_row_problems_are_reported_with_the_row_id(v1, v1_url, client):
    invalid, orphan, dangling = add_problem_rows(v1, v1_url)

    report = import_v1(v1_url)

    messages = {str(m) for m in report.warnings + report.errors}
    assert any(
        m.startswith(f"result {invalid}: warning: The result does not match the benchmark's "
                     "JSON Schema at $") and m.endswith("Stored as v1 accepted it.")
        for m in messages
    )  # fmt: skip
    assert (
        f"result {orphan}: warning: its uploader (gone, https://gone.example.org) is not a "
        "v1 user; stored without uploader" in messages
    )
    assert f"claim {dangling}: error: skipped: no result refers to it" in messages
    assert report.results == 10
    assert client.get(f"/results/{invalid}").json["json"] == {"no": "score"}
    assert not report.ok  # the claim was skipped


def test_strict_stops_at_the_first_problem_and_a_rerun_finishes(v1, v1_url):
    add_problem_rows(v1, v1_url)

    stopped = import_v1(v1_url, strict=True, batch_size=3)

    assert stopped.aborted
    assert len(stopped.warnings + stopped.errors) == 1
    assert count(Result) < 10
    stored = set(db.session.scalars(select(Result.id)))

    finished = import_v1(v1_url, batch_size=3)

    assert finished.skipped_results == len(stored)
    assert count(Result) == 10
    assert count(Claim) == 2


def test_the_command_prints_a_summary(v1, v1_url, app):
    result = app.test_cli_runner().invoke(args=["import-v1", v1_url])

    assert result.exit_code == 0, result.output
    assert "8 results imported" in result.output
    assert "created: 3 users, 2 tags, 3 sites, 3 flavors, 3 benchmarks, 2 claims" in result.output


def test_the_command_refuses_another_schema_with_exit_code_1(app, tmp_path):
    with throwaway_database(source_server(), tmp_path, "test_v1_bad") as url:
        result = app.test_cli_runner().invoke(args=["import-v1", url])

    assert result.exit_code == 1
    assert "not a v1 database; expected Alembic revision 112055db4eff" in result.output


def test_an_unreachable_source_is_refused():
    with pytest.raises(V1SourceRefused, match="Cannot connect to the source"):
        import_v1("postgresql://postgres@127.0.0.1:1/nothing")
