"""``Client``: the service's resources as pandas DataFrames, for notebooks and scripts
(its experiment and artifact methods live in ``experiments.py`` and ``artifacts.py``).

Results come as one row per result with their JSON leaves as ``json.<path>`` columns.
Small selections are read through pages of ``/results``; large ones through
``/results:export`` (parquet, or JSON Lines without pyarrow), which streams every row in
one request instead of thousands of page requests. Which one was used never shows in the
frame.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TypedDict, Unpack
from uuid import UUID

import pandas as pd

from perfclient import exports
from perfclient.artifacts import ArtifactCalls
from perfclient.errors import BatchRejected, NotListed
from perfclient.experiments import ExperimentCalls
from perfclient.frames import benchmark_name, items_frame, result_row, results_frame
from perfclient.transport import RetryPolicy, Transport, progress_bar, query_value

__version__ = "1.0.0"

#: Environment variables the token is read from when ``Client(token=None)``.
TOKEN_VARIABLE = "PERF_TOKEN"
TOKEN_FILE_VARIABLE = "PERF_TOKEN_FILE"

Id = str | UUID


class ResultFilters(TypedDict, total=False):
    """The filters every results call takes (those of ``GET /results``)."""

    benchmark_id: Id
    site_id: Id
    flavor_id: Id
    tags_ids: list[Id]
    execution_before: datetime | str
    execution_after: datetime | str
    upload_before: datetime | str
    upload_after: datetime | str
    #: JSON filters, each ``"<dotted.path> <op> <value>"``, e.g. ``"machine.cpu.count > 4"``
    filters: list[str] | str
    #: ``"-json.result.score"`` or a list of such keys
    sort_by: list[str] | str


def result_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Check the names (a typo must not silently widen a selection) and spell the values
    as the service expects them."""
    unknown = set(filters) - set(ResultFilters.__annotations__)
    if unknown:
        raise TypeError(
            f"Unknown filter(s) {sorted(unknown)}; the filters are "
            f"{sorted(ResultFilters.__annotations__)}"
        )
    params = dict(filters)
    if isinstance(params.get("filters"), str):
        params["filters"] = [params["filters"]]
    if isinstance(params.get("sort_by"), list | tuple):
        params["sort_by"] = ",".join(params["sort_by"])
    return params


def read_token(token: str | None) -> str | None:
    """The token given, else ``$PERF_TOKEN``, else the contents of ``$PERF_TOKEN_FILE``
    (read at every request, so a file that a token agent refreshes keeps working)."""
    if token:
        return token
    if os.environ.get(TOKEN_VARIABLE):
        return os.environ[TOKEN_VARIABLE].strip()
    if os.environ.get(TOKEN_FILE_VARIABLE):
        return Path(os.environ[TOKEN_FILE_VARIABLE]).read_text().strip() or None
    return None


class Client(ExperimentCalls, ArtifactCalls):
    """A connection to one service, e.g. ``Client("https://perf.example.org/api/v1")``.

    ``token``: an OIDC access token (else ``$PERF_TOKEN`` or the file ``$PERF_TOKEN_FILE``);
    reading needs none, uploads and claims do. ``timeout``: seconds to connect and
    between bytes of the answer. ``retry``: how idempotent requests are retried on 503 and
    dropped connections. ``progress``: show progress bars for long reads and uploads.
    ``pages_up_to``: selections of at most this many results are read page by page, larger
    ones through the export route, in ``export_format`` (parquet, the fastest to read, or
    jsonl; the default is parquet when pyarrow is installed).
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float | tuple[float, float] = (5.0, 60.0),
        retry: RetryPolicy | None = None,
        progress: bool = False,
        pages_up_to: int = 1000,
        export_format: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.progress = progress
        self.pages_up_to = pages_up_to
        self.export_format = export_format or ("parquet" if exports.parquet_readable() else "jsonl")
        if self.export_format not in {"parquet", "jsonl"}:
            raise ValueError(f"export_format is parquet or jsonl, not {export_format!r}")
        self.http = Transport(
            self.url,
            lambda: read_token(token),
            timeout=timeout,
            retry=retry or RetryPolicy(),
            user_agent=f"perfclient/{__version__}",
        )
        self._export_route: bool | None = None

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # --- the catalogue ------------------------------------------------------------------

    def benchmarks(self) -> pd.DataFrame:
        """Every approved benchmark, with a ``name`` column (image:tag)."""
        items = list(self.http.pages("/benchmarks", {}))
        frame = items_frame(items)
        if not frame.empty:
            frame.insert(1, "name", [benchmark_name(item) for item in items])
        return frame

    def sites(self) -> pd.DataFrame:
        """Every approved site."""
        return items_frame(self.http.pages("/sites", {}))

    def flavors(self, site_id: Id | None = None) -> pd.DataFrame:
        """The approved flavors of one site, or of every site; with ``site_id`` and
        ``site`` (its name) columns."""
        sites = (
            [self.http.json("GET", f"/sites/{site_id}")]
            if site_id is not None
            else list(self.http.pages("/sites", {}))
        )
        rows = [
            {**flavor, "site_id": site["id"], "site": site["name"]}
            for site in sites
            for flavor in self.http.pages(f"/sites/{site['id']}/flavors", {})
        ]
        return items_frame(rows)

    def tags(self) -> pd.DataFrame:
        """Every tag."""
        return items_frame(self.http.pages("/tags", {}))

    def benchmark_id(self, name: str) -> str:
        """The id of the benchmark named ``image:tag``."""
        image, _, tag = name.rpartition(":")
        found = self.http.json(
            "GET", "/benchmarks", params={"docker_image": image, "docker_tag": tag}
        )["items"]
        return _only(found, f"benchmark {name!r}")["id"]

    def site_id(self, name: str) -> str:
        """The id of the site called ``name``."""
        found = self.http.json("GET", "/sites", params={"name": name})["items"]
        return _only(found, f"site {name!r}")["id"]

    def flavor_id(self, site: str, name: str) -> str:
        """The id of the flavor ``name`` of the site called ``site``."""
        path = f"/sites/{self.site_id(site)}/flavors"
        found = self.http.json("GET", path, params={"name": name})["items"]
        return _only(found, f"flavor {name!r} of site {site!r}")["id"]

    # --- reading results ----------------------------------------------------------------

    def results(self, **filters: Unpack[ResultFilters]) -> pd.DataFrame:
        """The results matching ``filters`` (every filter of ``GET /results``), one row
        each, their JSON leaves as ``json.<path>`` columns."""
        params = result_filters(filters)
        first = self.http.json("GET", "/results", params={**params, "per_page": 100})
        if not first["has_next"]:
            return results_frame(map(result_row, first["items"]))
        if first["total"] > self.pages_up_to and self._has_export_route():
            return self._exported_results(params)
        return results_frame(
            map(result_row, self.http.pages("/results", params, progress=self.progress))
        )

    def result(self, result_id: Id) -> dict[str, Any]:
        """One result as the service answers it (claimed results too)."""
        return self.http.json("GET", f"/results/{result_id}")

    def my_results(self, **filters: Unpack[ResultFilters]) -> pd.DataFrame:
        """The results you uploaded (claimed ones included), like :meth:`results`."""
        params = result_filters(filters)
        pages = self.http.pages("/users/self/results", params, progress=self.progress)
        return results_frame(map(result_row, pages))

    def export(
        self,
        into: str | Path | IO[bytes],
        format: str = "parquet",
        columns: list[str] | None = None,
        **filters: Unpack[ResultFilters],
    ) -> None:
        """Save ``GET /results:export`` as it is (csv, jsonl or parquet) to a path or a
        binary file, streamed."""
        params = {
            **result_filters(filters),
            "format": format,
            "columns": ",".join(columns) if columns else None,
        }
        self.http.save("/results:export", params, into, progress=self.progress)

    def aggregate(
        self,
        metric: str,
        group_by: str | list[str],
        *,
        sort_by: str | list[str] | None = None,
        **filters: Unpack[ResultFilters],
    ) -> pd.DataFrame:
        """Statistics of a numeric JSON value per group, e.g.
        ``aggregate("json.result.score", ["site", "flavor"], benchmark_id=B)``.

        ``group_by``: one to three of benchmark, site, flavor, tag, month. ``sort_by``: the
        groups' order, e.g. ``"+p50"`` or ``["+site", "-mean"]``. One row per group: the
        keys' names (``site``...) and ids (``site_id``...), then count, mean, stddev, min,
        p50, p90, p99, max (as numpy computes them). ``frame.attrs["missing"]`` counts the
        selected results left out for having no number there.
        """
        if not metric.startswith("json."):
            metric = f"json.{metric}"
        if not isinstance(group_by, str):
            group_by = ",".join(group_by)
        params = {**result_filters(filters), "metric": metric, "group_by": group_by}
        if sort_by is not None:
            params["sort_by"] = sort_by if isinstance(sort_by, str) else ",".join(sort_by)
        return exports.aggregate_frame(self.http.json("GET", "/results:aggregate", params=params))

    # --- uploading ----------------------------------------------------------------------

    def register(self) -> dict[str, Any]:
        """Register the token's owner, accepting the terms of use (needed once before
        uploading)."""
        return self.http.json("POST", "/users:register")

    def me(self) -> dict[str, Any]:
        """Your registered user."""
        return self.http.json("GET", "/users/self")

    def upload(
        self,
        document: Mapping[str, Any],
        *,
        benchmark_id: Id,
        flavor_id: Id,
        execution_datetime: datetime | str,
        tags_ids: list[Id] | None = None,
    ) -> dict[str, Any]:
        """Upload one result (validated against its benchmark's JSON Schema); the stored
        result as the service answers it."""
        params = {
            "benchmark_id": benchmark_id,
            "flavor_id": flavor_id,
            "execution_datetime": execution_datetime,
            "tags_ids": tags_ids,
        }
        return self.http.json("POST", "/results", params=params, json=dict(document))

    def upload_batch(
        self, items: Iterable[Mapping[str, Any]], *, batch_size: int = 1000
    ) -> list[str]:
        """Upload many results through ``POST /results:batch``, ``batch_size`` at a time
        (the service takes at most 1,000); the ids of the stored results, in order.

        Each item: ``json``, ``benchmark_id``, ``flavor_id``, ``execution_datetime`` and
        optional ``tags_ids``. Each batch is stored whole or not at all: on a refusal,
        :class:`BatchRejected` names the refused items (by their index in ``items``) and
        the ids of the batches stored before it.
        """
        bodies = [_batch_item(item) for item in items]
        ids: list[str] = []
        bar = progress_bar(self.progress, total=len(bodies), unit="result")
        try:
            for start in range(0, len(bodies), batch_size):
                chunk = bodies[start : start + batch_size]
                try:
                    created = self.http.json("POST", "/results:batch", json=chunk)
                except BatchRejected as error:
                    error.item_errors = {start + i: e for i, e in error.item_errors.items()}
                    error.stored_ids = ids
                    raise
                ids.extend(created["ids"])
                bar.update(len(chunk))
        finally:
            bar.close()
        return ids

    # --- claims -------------------------------------------------------------------------

    def claim(self, result_id: Id, message: str) -> dict[str, Any]:
        """Report a result as wrong; it leaves the lists until an admin rejects the claim."""
        return self.http.json("POST", f"/results/{result_id}:claim", json={"message": message})

    def my_claims(self, status: str | None = None) -> pd.DataFrame:
        """The claims you made, with a ``status`` column: ``on_review`` (the result is
        hidden until an admin decides), ``approved``, or both (``status=None``)."""
        statuses = [status] if status else ["on_review", "approved"]
        rows = [
            {**claim, "status": one}
            for one in statuses
            for claim in self.http.pages("/users/self/claims", {"status": one})
        ]
        return items_frame(rows)

    # --- internals ----------------------------------------------------------------------

    def _has_export_route(self) -> bool:
        """Whether the service has ``/results:export`` (older ones do not: they are read
        page by page)."""
        if self._export_route is None:
            paths = self.http.json("GET", "/api-spec.json").get("paths", {})
            self._export_route = "/results:export" in paths
        return self._export_route

    def _exported_results(self, params: dict[str, Any]) -> pd.DataFrame:
        format = self.export_format
        with tempfile.SpooledTemporaryFile(max_size=64 << 20) as file:
            self.http.download(
                "/results:export", {**params, "format": format}, file, progress=self.progress
            )
            return exports.results_frame_of_export(file, format)


def _only(items: list[dict[str, Any]], what: str) -> dict[str, Any]:
    if len(items) != 1:
        raise NotListed(f"No {what} is listed" if not items else f"{what} is ambiguous")
    return items[0]


def _batch_item(item: Mapping[str, Any]) -> dict[str, Any]:
    body = {
        "json": item["json"],
        "benchmark_id": str(item["benchmark_id"]),
        "flavor_id": str(item["flavor_id"]),
        "execution_datetime": query_value(item["execution_datetime"]),
    }
    if item.get("tags_ids"):
        body["tags_ids"] = [str(tag) for tag in item["tags_ids"]]
    return body
