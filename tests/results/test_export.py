"""GET /results:export: the selected results as CSV, JSON Lines or Parquet, streamed."""

import csv
import io
import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select, update

from backend.extensions import db
from backend.models import Result
from backend.result_finding.flatten import document_shape
from factories import (
    BenchmarkFactory,
    ClaimFactory,
    FlavorFactory,
    ResultFactory,
    SiteFactory,
    TagFactory,
)
from tests.api.test_errors import assert_error


def export(client, **query):
    return client.get("/results:export", query_string=query)


@pytest.fixture
def runs():
    """Three results of one benchmark on one flavor, with documents of different shapes."""
    benchmark = BenchmarkFactory(docker_image="example/c-ray", docker_tag="1.0")
    flavor = FlavorFactory(name="hpc", site=SiteFactory(name="CESNET"))
    fast, slow = TagFactory(name="fast"), TagFactory(name="slow")
    first = ResultFactory(
        benchmark=benchmark,
        flavor=flavor,
        execution_datetime=datetime(2024, 1, 1, 12, 0, tzinfo=UTC),
        json={"result": {"score": 12.5, "unit": "s"}, "machine": {"cores": 8, "gpu": False}},
        tags=[slow, fast],
    )
    second = ResultFactory(
        benchmark=benchmark,
        flavor=flavor,
        execution_datetime=datetime(2024, 2, 1, tzinfo=UTC),
        json={"result": {"score": 7}, "machine": {"cores": 4}, "runs": [1, 2], "notes": {}},
    )
    third = ResultFactory(
        benchmark=benchmark,
        flavor=flavor,
        execution_datetime=datetime(2024, 3, 1, tzinfo=UTC),
        json={"result": {"score": "n/a", "unit": None}},
    )
    ClaimFactory(resource=ResultFactory(benchmark=benchmark, flavor=flavor))  # hidden
    return benchmark, [first, second, third]


def test_csv_has_every_json_leaf_as_a_column(client, runs):
    benchmark, (first, second, third) = runs
    response = export(client, format="csv", benchmark_id=str(benchmark.id))
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="results-')
    assert response.headers["Content-Disposition"].endswith('.csv"')
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == [
        "id",
        "benchmark",
        "site",
        "flavor",
        "tags",
        "execution_datetime",
        "upload_datetime",
        "json.machine.cores",
        "json.machine.gpu",
        "json.notes",
        "json.result.score",
        "json.result.unit",
        "json.runs",
    ]
    assert [row[:6] + row[7:] for row in rows[1:]] == [
        [str(first.id), "example/c-ray:1.0", "CESNET", "hpc", '["fast","slow"]',
         "2024-01-01T12:00:00+00:00", "8", "false", "", "12.5", "s", ""],
        [str(second.id), "example/c-ray:1.0", "CESNET", "hpc", "[]",
         "2024-02-01T00:00:00+00:00", "4", "", "{}", "7", "", "[1,2]"],
        [str(third.id), "example/c-ray:1.0", "CESNET", "hpc", "[]",
         "2024-03-01T00:00:00+00:00", "", "", "", "n/a", "", ""],
    ]  # fmt: skip
    assert datetime.fromisoformat(rows[1][6]) == first.upload_datetime


def test_jsonl_keeps_json_types_and_the_asked_columns(client, runs):
    benchmark, (first, second, third) = runs
    response = export(
        client,
        format="jsonl",
        benchmark_id=str(benchmark.id),
        columns="json.result.score,id,site_id,json.machine,tags",
        sort_by="-execution_datetime",
    )
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    assert response.headers["Content-Disposition"].endswith('.jsonl"')
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert lines == [
        {"json.result.score": "n/a", "id": str(third.id), "site_id": str(third.site_id),
         "json.machine": None, "tags": []},
        {"json.result.score": 7, "id": str(second.id), "site_id": str(second.site_id),
         "json.machine": {"cores": 4}, "tags": []},
        {"json.result.score": 12.5, "id": str(first.id), "site_id": str(first.site_id),
         "json.machine": {"cores": 8, "gpu": False}, "tags": ["fast", "slow"]},
    ]  # fmt: skip


def test_parquet_columns_are_typed_by_what_the_documents_hold(client, runs):
    benchmark, (first, second, third) = runs
    response = export(client, format="parquet", benchmark_id=str(benchmark.id))
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.apache.parquet"
    assert response.headers["Content-Disposition"].endswith('.parquet"')
    table = pq.read_table(io.BytesIO(response.get_data()))
    schema = dict(zip(table.schema.names, table.schema.types, strict=True))
    assert schema["id"] == pa.string()
    assert schema["tags"] == pa.list_(pa.string())
    assert schema["execution_datetime"] == pa.timestamp("us", tz="UTC")
    assert schema["json.machine.cores"] == pa.int64()
    assert schema["json.machine.gpu"] == pa.bool_()
    assert schema["json.result.score"] == pa.string()  # numbers and text: JSON text
    data = table.to_pydict()
    assert data["id"] == [str(first.id), str(second.id), str(third.id)]
    assert data["tags"] == [["fast", "slow"], [], []]
    assert data["json.result.score"] == ["12.5", "7", '"n/a"']
    assert data["json.machine.cores"] == [8, 4, None]
    assert data["json.runs"] == [None, "[1,2]", None]
    assert data["execution_datetime"][0] == first.execution_datetime


def test_parquet_columns_of_objects_are_json_text(client, runs):
    benchmark, _ = runs
    response = export(
        client,
        format="parquet",
        benchmark_id=str(benchmark.id),
        columns="json.machine,json.result.unit",
    )
    data = pq.read_table(io.BytesIO(response.get_data())).to_pydict()
    assert [json.loads(text) if text else None for text in data["json.machine"]] == [
        {"cores": 8, "gpu": False},
        {"cores": 4},
        None,
    ]
    assert data["json.result.unit"] == ["s", None, None]


def test_parquet_numbers_of_both_kinds_are_doubles(client):
    benchmark = BenchmarkFactory()
    for value in (1, 2.5, None):
        ResultFactory(benchmark=benchmark, json={"score": value})
    response = export(
        client, format="parquet", benchmark_id=str(benchmark.id), columns="json.score"
    )
    table = pq.read_table(io.BytesIO(response.get_data()))
    assert table.schema.types == [pa.float64()]
    assert sorted(table.to_pydict()["json.score"], key=str) == [1.0, 2.5, None]


def test_every_results_filter_and_sort_applies(client, runs):
    _, (first, second, _) = runs
    other = ResultFactory(json={"result": {"score": 100}})  # another benchmark
    response = export(
        client,
        format="jsonl",
        columns="id",
        filters="result.score > 5",
        sort_by="-json.result.score",
    )
    ids = [json.loads(line)["id"] for line in response.get_data(as_text=True).splitlines()]
    assert ids == [str(other.id), str(first.id), str(second.id)]
    tagged = export(client, format="jsonl", columns="id", tags_ids=str(first.tags[0].id))
    assert (
        tagged.get_data(as_text=True) == json.dumps({"id": str(first.id)}).replace(" ", "") + "\n"
    )


def test_an_empty_selection_is_a_header_alone(client):
    response = export(client, format="csv", site_id="00000000-0000-0000-0000-000000000001")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == (
        "id,benchmark,site,flavor,tags,execution_datetime,upload_datetime\n"
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "format"),
        ({"format": "xlsx"}, "format"),
        ({"format": "csv", "columns": "id,uploader"}, "columns"),
        ({"format": "csv", "columns": "id,id"}, "columns"),
        ({"format": "csv", "columns": "json.a..b"}, "columns"),
        ({"format": "csv", "sort_by": "-score"}, "sort_by"),
        ({"format": "csv", "per_page": "10"}, "per_page"),
    ],
)
def test_bad_arguments_say_what_to_fix(client, query, field):
    response = export(client, **query)
    assert_error(response, 422)
    assert field in response.json["errors"]["query"], response.json


def test_columns_follow_changes_to_the_results(client, runs):
    benchmark, _ = runs

    def header():
        response = export(client, format="csv", benchmark_id=str(benchmark.id))
        return response.get_data(as_text=True).splitlines()[0].split(",")

    assert "json.extra" not in header()
    added = ResultFactory(benchmark=benchmark, json={"extra": 1})
    assert "json.extra" in header()
    ClaimFactory(resource=added)
    assert "json.extra" not in header()


def test_results_stored_without_a_shape_give_their_leaves(client, runs):
    """Results stored before migration 0010 have no json_shape: their documents are read."""
    benchmark, _ = runs
    legacy = ResultFactory(benchmark=benchmark, json={"legacy": {"flag": True}})
    db.session.execute(update(Result).where(Result.id == legacy.id).values(json_shape=None))
    db.session.commit()
    response = export(client, format="csv", benchmark_id=str(benchmark.id))
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["json.legacy.flag"] for row in rows if row["id"] == str(legacy.id)] == ["true"]


def test_one_document_per_shape_gives_the_columns_of_all(client):
    """Same leaves with other kinds are another shape: the text beside the numbers counts."""
    benchmark = BenchmarkFactory()
    for score in (1, 2, 3):
        ResultFactory(benchmark=benchmark, json={"score": score})
    ResultFactory(benchmark=benchmark, json={"score": "n/a"})
    shapes = {document_shape({"score": 1}), document_shape({"score": "n/a"})}
    assert len(shapes) == 2
    stored = db.session.execute(select(Result.json_shape)).scalars().all()
    assert set(stored) == shapes
    response = export(client, format="parquet", benchmark_id=str(benchmark.id))
    table = pq.read_table(io.BytesIO(response.get_data()))
    assert table.schema.field("json.score").type == pa.string()
    assert sorted(table.column("json.score").to_pylist()) == ['"n/a"', "1", "2", "3"]


def test_tags_are_named_and_ordered_as_in_result_pages(client):
    """Exports name a result's tags from the catalogue and sort them by the database's
    ordering of names; a result page sorts them in the database: both agree, for sets
    that many results share and sets of one result alone."""
    names = ["beta", "Alpha", "alpha-2", "Zulu", "échelle", "10", "9"]
    tags = [TagFactory(name=name) for name in names]
    sets = [tags[:3], tags[2:], tags[::2], [], tags[:3], [tags[4]], tags]
    for chosen in sets:
        ResultFactory(tags=chosen)
    page = client.get("/results?per_page=100").get_json()["items"]
    expected = {item["id"]: [tag["name"] for tag in item["tags"]] for item in page}
    for export_format in ("jsonl", "csv", "parquet"):
        response = export(client, format=export_format, columns="id,tags")
        if export_format == "jsonl":
            rows = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
            got = {row["id"]: row["tags"] for row in rows}
        elif export_format == "csv":
            rows = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
            got = {row["id"]: json.loads(row["tags"]) for row in rows}
        else:
            data = pq.read_table(io.BytesIO(response.get_data())).to_pydict()
            got = dict(zip(data["id"], data["tags"], strict=True))
        assert got == expected, export_format
    assert sorted(map(len, expected.values())) == sorted(map(len, sets))


def test_datetimes_are_written_as_isoformat_writes_them(client):
    """The database formats an export's datetimes: the text is Python's isoformat (with
    microseconds only where there are some), the Parquet value the same instant."""
    instants = [
        datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
        datetime(2024, 5, 6, 7, 8, 9, 120, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
    ]
    results = [ResultFactory(execution_datetime=instant) for instant in instants]
    expected = {
        str(r.id): (r.execution_datetime.isoformat(), r.upload_datetime.isoformat())
        for r in results
    }
    assert {text for text, _ in expected.values()} == {i.isoformat() for i in instants}
    query = {"columns": "id,execution_datetime,upload_datetime"}
    lines = export(client, format="jsonl", **query).get_data(as_text=True).splitlines()
    assert {
        row["id"]: (row["execution_datetime"], row["upload_datetime"])
        for row in map(json.loads, lines)
    } == expected
    rows = list(csv.reader(io.StringIO(export(client, format="csv", **query).get_data(True))))
    assert {row[0]: (row[1], row[2]) for row in rows[1:]} == expected
    table = pq.read_table(io.BytesIO(export(client, format="parquet", **query).get_data()))
    data = table.to_pydict()
    assert {
        i: (e.isoformat(), u.isoformat())
        for i, e, u in zip(
            data["id"], data["execution_datetime"], data["upload_datetime"], strict=True
        )
    } == expected


def test_parquet_keeps_statistics_of_numbers_and_dictionaries_of_text(client, runs):
    """Readers prune row groups by numbers and datetimes (min/max); text is dictionary
    encoded and has no statistics (``formats.write_parquet``)."""
    response = export(client, format="parquet", columns="id,execution_datetime,json.machine.cores")
    metadata = pq.ParquetFile(io.BytesIO(response.get_data())).metadata
    group = metadata.row_group(0)
    columns = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    cores = columns["json.machine.cores"]
    assert cores.is_stats_set and (cores.statistics.min, cores.statistics.max) == (4, 8)
    assert columns["execution_datetime"].is_stats_set
    assert not columns["id"].is_stats_set
    assert any("DICTIONARY" in encoding for encoding in columns["id"].encodings)
    assert not any("DICTIONARY" in encoding for encoding in cores.encodings)
