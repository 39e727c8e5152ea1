"""The service's answers as pandas DataFrames, with the same columns whichever way the rows
came (pages of ``/results`` or ``/results:export``).

A result row has the columns of the export's default: ``id``, ``benchmark`` (image:tag),
``site``, ``flavor`` (names; a flavor's name is unique within its site), ``tags`` (a list of
names), ``execution_datetime`` and ``upload_datetime`` (UTC), then one ``json.<dotted.path>``
column per leaf of the result document, a leaf being any value but an object with keys
(numbers, text, booleans, null, lists, empty objects).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

#: The columns every results frame starts with, in this order.
RESULT_COLUMNS = [
    "id",
    "benchmark",
    "site",
    "flavor",
    "tags",
    "execution_datetime",
    "upload_datetime",
]


def json_leaves(document: Any, prefix: str = "json") -> dict[str, Any]:
    """``{"json.a.b": value}`` for every leaf of a JSON document."""
    if not isinstance(document, Mapping) or not document:
        return {prefix: document}
    leaves: dict[str, Any] = {}
    for key, value in document.items():
        leaves.update(json_leaves(value, f"{prefix}.{key}"))
    return leaves


def benchmark_name(benchmark: Mapping[str, Any]) -> str:
    """How people name a benchmark: ``image:tag``."""
    return f"{benchmark['docker_image']}:{benchmark['docker_tag']}"


def result_row(result: Mapping[str, Any]) -> dict[str, Any]:
    """One result of the API (as ``GET /results`` lists it) as a flat row."""
    return {
        "id": result["id"],
        "benchmark": benchmark_name(result["benchmark"]),
        "site": result["site"]["name"],
        "flavor": result["flavor"]["name"],
        "tags": [tag["name"] for tag in result.get("tags", [])],
        "execution_datetime": result["execution_datetime"],
        "upload_datetime": result["upload_datetime"],
        **json_leaves(result.get("json")),
    }


def results_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A frame of flat result rows, catalogue columns first and JSON leaves sorted.

    A JSON null and a leaf a document lacks are both missing (NaN): an export cannot tell
    them apart, and the frame must not depend on how the rows came.
    """
    frame = pd.DataFrame.from_records(
        [{name: value for name, value in row.items() if not _missing(value)} for row in rows]
    )
    if frame.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    leaves = sorted(column for column in frame.columns if column not in RESULT_COLUMNS)
    return parse_datetimes(frame[RESULT_COLUMNS + leaves])


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def parse_datetimes(frame: pd.DataFrame) -> pd.DataFrame:
    """ISO 8601 text (with its offset) as timezone-aware UTC timestamps."""
    for column in frame.columns:
        if column.endswith("_datetime") and not pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def items_frame(items: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Catalogue items (benchmarks, sites, flavors, tags...) one per row, ``id`` first."""
    frame = pd.DataFrame.from_records(list(items))
    if "id" in frame.columns:
        frame = frame[["id", *(c for c in frame.columns if c != "id")]]
    return parse_datetimes(frame)
