"""Reading the output folder of an MLPerf Inference LoadGen run (``mlcommons-loadgen``).

LoadGen writes ``mlperf_log_summary.txt`` (its figures, for people), ``mlperf_log_detail.txt``
(the same run as ``:::MLLOG {json}`` lines: requested and effective settings, results) and,
with tracing on, ``mlperf_log_trace.json``, Chrome trace events in which each ``Sample``
begin event carries the sample's ``issue_start_ns`` and ``complete_ns``. A job is stored
from the detail log (QPS, settings) and the trace (one latency per sample,
``complete_ns - issue_start_ns``, in the order LoadGen issued them: ``sample_seq``).

The trace is not strict JSON (a trailing comma, no closing bracket when a run is cut
short), so it is read line by line, and only ``Sample`` begin lines are parsed: about
1 µs per line. The summary is not needed; ``parse_summary`` reads its figures so that a
test (or a client) can compare them with the stored statistics.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from backend.errors import InvalidArguments
from backend.latency_stats import LatencyError, refuse_bad_samples

DETAIL = "mlperf_log_detail.txt"
TRACE = "mlperf_log_trace.json"
SUMMARY = "mlperf_log_summary.txt"

#: The QPS of a run, by the first result key present: Offline's and Server's throughput,
#: else the QPS with LoadGen's overhead (SingleStream, MultiStream), as the summary says.
QPS_KEYS = (
    "result_samples_per_second",
    "result_completed_samples_per_sec",
    "result_qps_with_loadgen_overhead",
)
#: Detail-log keys kept as the job's settings besides every requested_* and effective_*.
SETTING_KEYS = ("loadgen_version", "sut_name", "qsl_name", "test_datetime", "result_validity")

_MLLOG = b":::MLLOG "
_SAMPLE_BEGIN = (b'"name":"Sample"', b'"ph":"b"')


@dataclass
class LoadgenRun:
    """What a job keeps of a run: latencies (ns, issue order), QPS and settings."""

    latencies: np.ndarray
    qps: float
    settings: dict[str, Any]


def read_run(files: Mapping[str, str]) -> LoadgenRun:
    """The run in an uploaded output folder (file name to text); InvalidArguments naming
    what is missing or unreadable."""
    names = {name.rsplit("/", 1)[-1]: text.encode().splitlines() for name, text in files.items()}
    missing = [name for name in (DETAIL, TRACE) if name not in names]
    if missing:
        raise InvalidArguments(
            f"The LoadGen output lacks {' and '.join(missing)} (LoadGen writes the trace "
            "with tracing on: log_settings.enable_trace = True)."
        )
    detail = parse_detail(names[DETAIL])
    qps = next((detail[key] for key in QPS_KEYS if key in detail), None)
    if not isinstance(qps, int | float) or qps < 0:
        raise InvalidArguments(f"{DETAIL} holds no QPS result (one of {', '.join(QPS_KEYS)}).")
    settings = {
        key: value
        for key, value in detail.items()
        if key.startswith(("requested_", "effective_")) or key in SETTING_KEYS
    }
    return LoadgenRun(latencies=parse_trace(names[TRACE]), qps=float(qps), settings=settings)


def parse_detail(lines: Iterable[bytes]) -> dict[str, Any]:
    """``{key: value}`` of the ``:::MLLOG`` lines (the last value of a repeated key)."""
    values: dict[str, Any] = {}
    for number, line in enumerate(lines, 1):
        if not line.startswith(_MLLOG):
            continue
        try:
            entry = orjson.loads(line[len(_MLLOG) :])
            values[entry["key"]] = entry["value"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise InvalidArguments(f"{DETAIL} line {number} is not a LoadGen log entry.") from None
    if not values:
        raise InvalidArguments(f"{DETAIL} holds no ':::MLLOG' entries; is it LoadGen's?")
    return values


def parse_trace(lines: Iterable[bytes]) -> np.ndarray:
    """Per-sample latencies in ns from the trace's ``Sample`` begin events, by sample_seq."""
    sequence, latency = [], []
    for number, line in enumerate(lines, 1):
        if not all(marker in line for marker in _SAMPLE_BEGIN):
            continue
        try:
            args = orjson.loads(line.strip().rstrip(b","))["args"]
            sequence.append(args["sample_seq"])
            latency.append(args["complete_ns"] - args["issue_start_ns"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise InvalidArguments(
                f"{TRACE} line {number} is a Sample event without sample_seq, "
                "issue_start_ns and complete_ns."
            ) from None
    if not latency:
        raise InvalidArguments(f"{TRACE} holds no Sample events; was tracing on?")
    order = np.argsort(np.array(sequence), kind="stable")
    samples = np.array(latency, dtype=np.float64)[order]
    try:
        refuse_bad_samples(samples)
    except LatencyError as error:
        raise InvalidArguments(f"{TRACE}: {error}") from None
    return samples


_SUMMARY_LINE = re.compile(r"^(.+?)\s*:\s*(\S+)\s*$")
_PERCENTILE_LABEL = re.compile(r"^(\d+\.\d+) percentile latency \(ns\)$")


def parse_summary(text: str) -> dict[str, float]:
    """The numbers of the summary's "Additional Stats": ``min``, ``max``, ``mean`` (ns),
    ``qps`` and a ``p<percentile>`` per percentile line (``p99.9``), as LoadGen printed them."""
    figures: dict[str, float] = {}
    names = {
        "Min latency (ns)": "min",
        "Max latency (ns)": "max",
        "Mean latency (ns)": "mean",
        "QPS w/ loadgen overhead": "qps",
    }
    for line in text.splitlines():
        match = _SUMMARY_LINE.match(line)
        if not match:
            continue
        label, value = match.groups()
        if label in names:
            figures[names[label]] = float(value)
        elif percentile := _PERCENTILE_LABEL.match(label):
            figures["p" + percentile.group(1).rstrip("0").rstrip(".")] = float(value)
    return figures
