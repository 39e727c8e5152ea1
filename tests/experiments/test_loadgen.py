"""A real MLPerf LoadGen run (``mlcommons-loadgen``) against a small Python system under
test, uploaded as its output folder (its files' text in one JSON body): the stored figures
equal LoadGen's own summary."""

import subprocess
import sys
from pathlib import Path

import pytest

from backend.loadgen import DETAIL, SUMMARY, TRACE, parse_detail, parse_summary
from backend.models import Job

SAMPLES = 3000


@pytest.fixture(scope="module")
def loadgen_output(tmp_path_factory) -> Path:
    outdir = tmp_path_factory.mktemp("loadgen")
    subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("loadgen_run.py")),
            str(outdir),
            str(SAMPLES),
        ],
        check=True,
        timeout=60,
    )
    return outdir


def upload(client, headers, folder: Path, names=(SUMMARY, DETAIL, TRACE), selector="run-1"):
    files = {name: (folder / name).read_text() for name in names}
    return client.post(
        "/experiments/e/loadgen", json={"selector": selector, "files": files}, headers=headers
    )


def test_a_loadgen_run_is_stored_with_the_figures_of_its_summary(
    client, user_headers, loadgen_output
):
    response = upload(client, user_headers, loadgen_output)

    assert response.status_code == 201, response.json
    summary = parse_summary((loadgen_output / SUMMARY).read_text())
    assert response.json["count"] == SAMPLES
    with open(loadgen_output / DETAIL, "rb") as detail:
        logged_qps = parse_detail(detail)["result_qps_with_loadgen_overhead"]
    assert response.json["qps"] == logged_qps
    assert round(response.json["qps"], 2) == summary["qps"]  # the summary prints 2 decimals
    stats = client.get("/experiments/e/stats?method=loadgen&percentiles=50,90,95,97,99,99.9").json
    job = stats["jobs"][0]["latencies"]
    assert stats["jobs"][0]["qps"] == logged_qps
    assert job["count"] == SAMPLES
    assert job["min"] == summary["min"]
    assert job["max"] == summary["max"]
    assert job["mean"] == summary["mean"]
    for percent in ("50", "90", "95", "97", "99", "99.9"):
        assert job["percentiles"][percent] == summary[f"p{percent}"], percent


def test_the_runs_settings_are_kept_with_the_job(client, user_headers, loadgen_output):
    response = upload(client, user_headers, loadgen_output)

    settings = response.json["settings"]
    with open(loadgen_output / DETAIL, "rb") as detail:
        logged = parse_detail(detail)
    assert settings["effective_scenario"] == "SingleStream"
    assert settings["effective_min_query_count"] == SAMPLES
    assert settings["loadgen_version"] == logged["loadgen_version"]
    assert Job.query.one().settings == settings


def test_the_latencies_are_those_of_the_trace_in_issue_order(client, user_headers, loadgen_output):
    upload(client, user_headers, loadgen_output, names=(DETAIL, TRACE))

    stored = client.get("/latencies/e?format=array").json[0]["latencies"]

    assert len(stored) == SAMPLES
    assert stored[0] > 0
    assert all(value == int(value) for value in stored)  # whole nanoseconds


def test_an_output_without_its_trace_is_422_saying_how_to_get_one(
    client, user_headers, loadgen_output
):
    response = upload(client, user_headers, loadgen_output, names=(SUMMARY, DETAIL))

    assert response.status_code == 422
    assert "mlperf_log_trace.json" in response.json["message"]
    assert "enable_trace" in response.json["message"]
    assert Job.query.count() == 0


def test_a_file_that_is_not_a_loadgen_log_is_422(client, user_headers, tmp_path, loadgen_output):
    (tmp_path / DETAIL).write_text("hello\n")
    (tmp_path / TRACE).write_bytes((loadgen_output / TRACE).read_bytes())

    response = upload(client, user_headers, tmp_path, names=(DETAIL, TRACE))

    assert response.status_code == 422
    assert "no ':::MLLOG' entries" in response.json["message"]
