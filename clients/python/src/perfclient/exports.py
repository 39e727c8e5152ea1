"""Reading what ``/results:export`` and ``/results:aggregate`` answer into DataFrames."""

from __future__ import annotations

import importlib.util
import json
from typing import IO, Any

import pandas as pd

from perfclient.frames import results_frame


def parquet_readable() -> bool:
    """Whether pyarrow is installed (it is a dependency, but a slim install may lack it)."""
    return importlib.util.find_spec("pyarrow") is not None


def results_frame_of_export(file: IO[bytes], format: str) -> pd.DataFrame:
    """The results frame (as :func:`perfclient.frames.results_frame` shapes it from pages)
    of an export in its default columns, in ``format`` (parquet or jsonl)."""
    if format != "parquet":
        # Not pandas.read_json: it turns columns named like dates (json.x.start_at) into
        # datetimes, which pages would not.
        return results_frame(json.loads(line) for line in file if line.strip())
    frame = pd.read_parquet(file)
    frame["tags"] = [list(tags) for tags in frame["tags"]]
    for column in frame.columns:
        if column.startswith("json") and _holds_json_text(frame[column]):
            frame[column] = [_decoded(value) for value in frame[column]]
    return results_frame(frame.to_dict("records"))


def _holds_json_text(column: pd.Series) -> bool:
    """Whether a Parquet text column holds JSON lists or objects: the export writes those
    as JSON text. A column that also holds plain text is left as text (its lists too)."""
    if not pd.api.types.is_string_dtype(column) and column.dtype != object:
        return False
    values = column.dropna()
    return not values.empty and all(
        isinstance(v, str) and v.startswith(("[", "{")) and _parses(v) for v in values
    )


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


STATISTICS = ["count", "mean", "stddev", "min", "p50", "p90", "p99", "max"]


def aggregate_frame(body: dict[str, Any]) -> pd.DataFrame:
    """One row per group, in the service's order: the keys' names (``site``, ``flavor``...,
    ``month`` as YYYY-MM), their ids (``site_id``...), then the statistics.
    ``frame.attrs`` keeps ``metric`` and ``missing`` (results without a number there)."""
    keys = body["group_by"]
    names = list(keys)
    ids = [f"{key}_id" for key in keys if key != "month"]
    rows = []
    for group in body["groups"]:
        row = {key: group["keys"][key]["name"] for key in keys}
        row.update({f"{key}_id": group["keys"][key]["id"] for key in keys if key != "month"})
        row.update({name: group[name] for name in STATISTICS})
        rows.append(row)
    frame = pd.DataFrame.from_records(rows, columns=names + ids + STATISTICS)
    frame.attrs.update(metric=body["metric"], missing=body["missing"])
    return frame
