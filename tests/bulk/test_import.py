"""flask import: the demo data, bad lines, --strict, re-imports and uploaders."""

import json
import time
from pathlib import Path

from backend.bulk import import_records
from backend.bulk import writer as bulk_writer
from backend.extensions import db
from backend.models import Flavor, ItemStatus, Result, Site, Tag, User
from backend.result_finding.flatten import document_shape
from factories import BenchmarkFactory, FlavorFactory, SiteFactory, TagFactory, UserFactory

SAMPLES = Path(__file__).resolve().parents[2] / "backend" / "devtools" / "sample_data"
DEMO = SAMPLES / "demo.jsonl"
SCHEMA = {
    "type": "object",
    "properties": {"score": {"type": "number"}},
    "required": ["score"],
}


def lines(*records) -> list[str]:
    return [r if isinstance(r, str) else json.dumps(r) for r in records]


def catalogue():
    """A site, flavor, benchmark and tag, as import records."""
    return [
        {"type": "tag", "name": "gpu"},
        {"type": "site", "name": "SITE-A", "address": "a.example.org"},
        {"type": "flavor", "site": "SITE-A", "name": "m1.small"},
        {
            "type": "benchmark",
            "docker_image": "example/bench",
            "docker_tag": "1.0",
            "url": "https://example.org/bench",
            "json_schema": SCHEMA,
        },
    ]


def result(score=1.0, **changes):
    return {
        "type": "result",
        "benchmark": "example/bench:1.0",
        "site": "SITE-A",
        "flavor": "m1.small",
        "tags": ["gpu"],
        "execution_datetime": "2022-10-14T23:21:47+01:00",
        "json": {"score": score},
        **changes,
    }


def count(model) -> int:
    return db.session.query(model).count()


def test_demo_data_answers_like_its_sample_files(client, user):
    report = import_records(DEMO.open("rb"), uploader=(user.sub, user.iss))

    assert report.ok, report.errors
    c_ray = [json.loads(p.read_text()) for p in (SAMPLES / "c-ray").glob("*-*.json")]
    tf_cnn = list((SAMPLES / "tf-cnn").glob("*.json"))
    assert report.results == len(c_ray) + len(tf_cnn)
    response = client.get("/results", query_string={"filters": ["machine.cpu.count > 4"]})
    assert response.status_code == 200
    expected = sorted(
        (d["machine"]["cpu"]["count"], d["result"]["score"])
        for d in c_ray
        if d["machine"]["cpu"]["count"] > 4
    )
    found = sorted(
        (i["json"]["machine"]["cpu"]["count"], i["json"]["result"]["score"])
        for i in response.json["items"]
    )
    assert found == expected
    assert response.json["total"] == len(expected)
    assert {i["benchmark"]["docker_image"] for i in response.json["items"]} == {
        "thechristophe/openbench-c-ray"
    }
    sites = client.get("/sites").json["items"]
    assert {s["name"] for s in sites} == {
        "IFCA-LCG2",
        "CESNET-MCC",
        "IISAS-FedCloud",
        "NCG-INGRID-PT",
        "CESGA",
        "FORHLR2",
    }
    assert {t["name"] for t in client.get("/tags").json["items"]} == {"cpu", "gpu", "hpc"}
    gpu = client.get("/results:search", query_string={"terms": ["gpu"]}).json
    assert gpu["total"] == len(tf_cnn)
    stored = db.session.query(Result).all()
    assert {r.uploader_id for r in stored} == {user.id}
    assert [r.json_shape for r in stored] == [document_shape(r.json) for r in stored]


def test_the_demo_file_is_up_to_date(tmp_path):
    from backend.devtools import make_demo_data

    make_demo_data.main(["--output", str(tmp_path / "demo.jsonl")])

    assert (tmp_path / "demo.jsonl").read_text() == DEMO.read_text()


def test_bad_lines_are_reported_with_their_number_and_skipped(app):
    naive = result(execution_datetime="2022-10-14T23:21:47")
    text = "\n".join(
        lines(
            *catalogue(),  # lines 1-4
            result(1.0),  # 5
            "{not json",  # 6
            {"type": "planet", "name": "Mars"},  # 7
            result(site="NOWHERE"),  # 8
            result(json={"score": "fast"}),  # 9
            naive,  # 10
            "",  # 11: blank lines are skipped
            result(2.0),  # 12
        )
    )

    outcome = app.test_cli_runner().invoke(args=["import", "-"], input=text)

    assert outcome.exit_code == 1, outcome.output
    errors = [line for line in outcome.stderr.splitlines() if ": error: " in line]
    assert [e.split(":")[0] for e in errors] == [
        "line 6",
        "line 7",
        "line 8",
        "line 9",
        "line 10",
    ]
    assert "invalid JSON" in errors[0]
    assert "unknown type 'planet'" in errors[1]
    assert "no site named 'NOWHERE'" in errors[2]
    assert "$.score" in errors[3]
    assert "Include the time zone" in errors[4]
    assert "5 lines failed" in outcome.stderr
    assert count(Result) == 2


def test_errors_say_what_the_api_would(user):
    report = import_records(
        lines(
            *catalogue(),
            {"type": "site", "name": "PENDING", "address": "p.example.org", "status": "on_review"},
            {"type": "flavor", "site": "PENDING", "name": "m1.small"},
            result(site="PENDING"),  # 7: the API refuses results on sites on review
            result(flavor="m9.huge"),  # 8
            result(benchmark="example/bench"),  # 9
            result(tags=["gpu", "nope"]),  # 10
            result(json=[1, 2]),  # 11
            result(uploader={"sub": "nobody", "iss": "https://x.example.org"}),  # 12
            result(color="blue"),  # 13
            {"type": "site", "name": "NO-ADDRESS"},  # 14
            {**catalogue()[3], "json_schema": {"type": "nonsense"}, "docker_tag": "2"},  # 15
            result(execution_datetime="2999-01-01T00:00:00Z"),  # 16
            {"type": "result", "benchmark": "example/bench:1.0"},  # 17
            "[" * 100_000,  # 18: too deep for the parser
        )
    )

    messages = {m.line: m.message for m in report.errors}
    assert sorted(messages) == list(range(7, 19))
    assert "still on review" in messages[7]
    assert "no flavor 'm9.huge' at site 'SITE-A'" in messages[8]
    assert "image:tag" in messages[9]
    assert "no tag named 'nope'" in messages[10]
    assert "must be a JSON object" in messages[11]
    assert "no user with sub 'nobody'" in messages[12]
    assert "unknown field(s) color" in messages[13]
    assert "address: Missing data for required field." in messages[14]
    assert "not a valid JSON Schema" in messages[15]
    assert "in the future" in messages[16]
    assert "missing field(s) execution_datetime, flavor, json, site" in messages[17]
    assert "recursion" in messages[18]
    assert count(Result) == 0


def test_strict_stops_at_the_first_error_and_writes_nothing_of_its_batch():
    records = lines(
        *catalogue(),  # batch 1: lines 1-4
        result(1.0),  # batch 2: lines 5-8
        result(2.0),
        {"type": "tag", "name": "cpu"},
        result(3.0),
        result(4.0),  # batch 3: lines 9-12
        {"type": "tag", "name": "hpc"},
        result(site="NOWHERE"),  # 11: the first error
        result(5.0),
    )

    report = import_records(records, strict=True, batch_size=4)

    assert report.aborted
    assert [(m.line, m.is_error) for m in report.errors] == [(11, True)]
    assert report.results == 3
    assert sorted(r.json["score"] for r in db.session.query(Result)) == [1.0, 2.0, 3.0]
    assert {t.name for t in db.session.query(Tag)} == {"gpu", "cpu"}
    assert "ABORTED at line 11" in report.summary()


def test_strict_cli_exits_with_1(app):
    text = "\n".join(lines(*catalogue(), result(site="NOWHERE"), result()))

    outcome = app.test_cli_runner().invoke(args=["import", "--strict", "-"], input=text)

    assert outcome.exit_code == 1
    assert "line 5: error: no site named 'NOWHERE'" in outcome.stderr
    assert count(Result) == 0


def test_reimport_matches_the_catalogue_and_appends_results(user):
    uploader = (user.sub, user.iss)
    first = import_records(DEMO.open("rb"), uploader=uploader)
    sites, flavors, tags = count(Site), count(Flavor), count(Tag)

    second = import_records(DEMO.open("rb"), uploader=uploader)

    assert second.ok
    assert (count(Site), count(Flavor), count(Tag)) == (sites, flavors, tags)
    assert second.created == {}
    assert second.matched == first.created
    assert not second.warnings
    assert count(Result) == 2 * first.results


def test_skip_existing_results_makes_a_reimport_add_nothing(app, user):
    args = ["import", str(DEMO), "--uploader", user.sub, user.iss]
    runner = app.test_cli_runner()
    assert runner.invoke(args=args).exit_code == 0
    stored = count(Result)

    outcome = runner.invoke(args=[*args, "--skip-existing-results", "--batch-size", "5"])

    assert outcome.exit_code == 0, outcome.stderr
    assert f"skipped {stored} results already stored" in outcome.stderr
    assert count(Result) == stored


def test_skip_existing_results_compares_documents_and_skips_repeats_in_the_file():
    import_records(lines(*catalogue(), result(1.0)))

    report = import_records(
        lines(*catalogue(), result(1.0), result(2.0), result(2.0)), skip_existing_results=True
    )

    assert report.skipped_results == 2
    assert sorted(r.json["score"] for r in db.session.query(Result)) == [1.0, 2.0]


def test_stored_catalogue_items_are_kept_with_a_warning_for_differing_fields():
    site = SiteFactory(name="SITE-A", address="old.example.org", status=ItemStatus.on_review)

    report = import_records(lines({"type": "site", "name": "SITE-A", "address": "new.example.org"}))

    assert report.ok
    assert report.matched == {"site": 1}
    assert [str(w) for w in report.warnings] == [
        "line 1: warning: site 'SITE-A' exists with other address; kept the stored values"
    ]
    db.session.refresh(site)
    assert (site.address, site.status) == ("old.example.org", ItemStatus.on_review)


def test_records_refer_to_stored_items_and_users_by_name():
    user = UserFactory(sub="alice", iss="https://issuer.example.org")
    flavor = FlavorFactory(name="m1.small", site=SiteFactory(name="SITE-A"))
    BenchmarkFactory(docker_image="example/bench", docker_tag="1.0", json_schema=SCHEMA)
    TagFactory(name="gpu")

    report = import_records(
        lines(
            result(1.0, uploader={"sub": "alice", "iss": "https://issuer.example.org/"}),
            result(2.0, uploader=None),
        ),
        uploader=("alice", "https://issuer.example.org"),
    )

    assert report.ok, report.errors
    assert report.created == {}
    stored = {r.json["score"]: r for r in db.session.query(Result)}
    assert stored[1.0].uploader_id == user.id
    assert stored[1.0].flavor_id == flavor.id
    assert [t.name for t in stored[1.0].tags] == ["gpu"]
    assert stored[2.0].uploader_id is None


def test_user_records_register_users(client):
    report = import_records(
        lines({"type": "user", "sub": "demo", "iss": "https://i.example.org/", "email": "d@x.org"})
    )

    assert report.created == {"user": 1}
    user = db.session.query(User).one()
    assert (user.sub, user.iss, user.email) == ("demo", "https://i.example.org", "d@x.org")


def test_user_records_with_unusable_emails_are_bad_lines():
    """The registration rule: mail to such an address would fail at every retry."""
    emails = [
        "d@x",
        "a@b.org, c@d.org",
        "Name <n@x.org>",
        "a\r\nBcc: e@x.org",
        "x" * 70 + "@x.org",
    ]
    report = import_records(
        lines(
            *(
                {"type": "user", "sub": f"u{n}", "iss": "https://i.example.org", "email": email}
                for n, email in enumerate(emails)
            ),
            {"type": "user", "sub": "fine", "iss": "https://i.example.org", "email": "f@x.org"},
        )
    )

    assert [e.line for e in report.errors] == [1, 2, 3, 4, 5]
    assert all("plain address" in e.message for e in report.errors)
    assert [u.sub for u in db.session.query(User)] == ["fine"]


def test_default_uploader_must_be_registered():
    report = import_records(lines(*catalogue()), uploader=("ghost", "https://x.example.org"))

    assert report.failed == 3  # the site, flavor and benchmark (tags have no uploader)
    assert "--uploader: no user with sub 'ghost'" in report.errors[0].message


def refuse_the_batch_with_score_3(monkeypatch, *, after_seconds: float = 0) -> None:
    """The database refuses (after a while) the batch holding the result of score 3."""
    prepare = bulk_writer.prepare_bulk_insert

    def disk_full(connection):
        time.sleep(after_seconds)
        raise RuntimeError("disk full")

    def refuse_score_3(dialect, table, rows):
        if any(row.get("json") == {"score": 3.0} for row in rows):
            return disk_full
        return prepare(dialect, table, rows)

    monkeypatch.setattr(bulk_writer, "prepare_bulk_insert", refuse_score_3)


def test_a_batch_the_database_refuses_stops_the_import(monkeypatch):
    refuse_the_batch_with_score_3(monkeypatch)

    report = import_records(
        lines(*catalogue(), result(1.0), result(2.0), result(3.0), result(4.0), result(5.0)),
        batch_size=3,
    )

    assert report.aborted
    assert str(report.errors[-1]) == "line 9: error: the database refused lines 7-9: disk full"
    assert report.results == 2
    assert sorted(r.json["score"] for r in db.session.query(Result)) == [1.0, 2.0]


def test_batches_after_a_refused_one_are_not_committed_even_if_written_first(monkeypatch):
    """On PostgreSQL two connections write batches at once; commits keep the file's order,
    so what is stored is always the batches before the refused one."""
    # The next batch is written meanwhile, and waits for its turn.
    refuse_the_batch_with_score_3(monkeypatch, after_seconds=0.5)
    scores = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]

    report = import_records(lines(*catalogue(), *map(result, scores)), batch_size=2)

    assert report.aborted
    assert str(report.errors[-1]) == "line 8: error: the database refused lines 7-8: disk full"
    assert report.results == 2
    assert sorted(r.json["score"] for r in db.session.query(Result)) == [1.0, 2.0]


def test_text_with_nul_characters_is_a_bad_line_as_in_the_api():
    """Neither database can store NUL; the API refuses it (422) and so does the import,
    line by line, instead of the database refusing the whole batch."""
    report = import_records(
        lines(
            *catalogue(),  # lines 1-4
            {"type": "site", "name": "SITE\u0000B", "address": "b.example.org"},  # 5
            result(1.0, json={"score": 1.0, "note": "a\u0000b"}),  # 6
            result(2.0),  # 7
            result(3.0, json={"score": 3.0, "note": "a\\u0000b, spelled out"}),  # 8
        )
    )

    assert [(e.line, e.message) for e in report.errors] == [
        (5, "Text must not contain NUL (\\u0000) characters."),
        (6, "Text must not contain NUL (\\u0000) characters."),
    ]
    assert not report.aborted
    assert sorted(r.json["score"] for r in db.session.query(Result)) == [2.0, 3.0]
