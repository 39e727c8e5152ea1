"""Large selections come through /results:export, transparently: the frame is the one the
pages give. And an export saved as it is, in the format asked for."""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from factories import BenchmarkFactory, FlavorFactory, ResultFactory, TagFactory
from perfclient import Client
from tests.client.conftest import QUICK_RETRIES

#: Documents with every kind of leaf: numbers (int and float in one column), text,
#: booleans, null, lists, empty objects, and leaves some documents lack.
DOCUMENTS = [
    {"result": {"score": 1, "unit": "s"}, "machine": {"flags": ["avx", "sse"], "gpu": None}},
    {"result": {"score": 2.5, "ok": True}, "machine": {"flags": [], "extra": {}}},
    {"result": {"score": 3.25, "ok": False}, "notes": "rerun", "started_at": "2024-01-01"},
]


@pytest.fixture
def selection():
    """130 results (more than a page) of one benchmark, with tags on some."""
    benchmark, flavor, tag = BenchmarkFactory(), FlavorFactory(), TagFactory(name="cpu")
    started = datetime(2024, 1, 1, tzinfo=UTC)
    for number in range(130):
        ResultFactory(
            benchmark=benchmark,
            flavor=flavor,
            json=DOCUMENTS[number % 3],
            execution_datetime=started + timedelta(hours=number),
            tags=[tag] if number % 2 else [],
        )
    return benchmark


def exported(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "/results:export" in r.getMessage()]


@pytest.mark.parametrize("export_format", ["parquet", "jsonl"])
def test_a_large_selection_comes_through_the_export_as_the_same_frame(
    service_url, selection, caplog, export_format
):
    by_pages = Client(service_url, retry=QUICK_RETRIES, pages_up_to=10_000)
    by_export = Client(
        service_url, retry=QUICK_RETRIES, pages_up_to=100, export_format=export_format
    )
    caplog.set_level(logging.INFO, logger="werkzeug")

    paged = by_pages.results(benchmark_id=selection.id, sort_by="+execution_datetime")
    assert not exported(caplog)
    streamed = by_export.results(benchmark_id=selection.id, sort_by="+execution_datetime")

    assert len(exported(caplog)) == 1
    assert len(streamed) == 130
    pd.testing.assert_frame_equal(streamed, paged)
    first = streamed.iloc[0]
    assert list(first["json.machine.flags"]) == ["avx", "sse"]
    assert streamed.iloc[1]["json.machine.extra"] == {}


def test_an_export_is_saved_as_the_service_writes_it(anonymous, tmp_path):
    low = ResultFactory(json={"result": {"score": 1.5}})
    high = ResultFactory(json={"result": {"score": 9.0}})

    anonymous.export(
        tmp_path / "scores.csv",
        format="csv",
        columns=["id", "site", "json.result.score"],
        sort_by="-json.result.score",
    )

    rows = list(csv.reader(io.StringIO((tmp_path / "scores.csv").read_text())))
    assert rows == [
        ["id", "site", "json.result.score"],
        [str(high.id), high.flavor.site.name, "9.0"],
        [str(low.id), low.flavor.site.name, "1.5"],
    ]


def test_an_export_with_an_unknown_column_raises_the_service_message(anonymous, tmp_path):
    with pytest.raises(Exception) as raised:
        anonymous.export(tmp_path / "x.csv", format="csv", columns=["id", "planet"])

    assert raised.value.status == 422
    assert "planet" in raised.value.message
