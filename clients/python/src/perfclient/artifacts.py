"""Artifacts (models, data, logs... of a result or an experiment): uploads and downloads
streamed from and to files, with a progress bar, never whole in memory."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import IO, Any

import pandas as pd

from perfclient.frames import items_frame
from perfclient.transport import Transport, progress_bar


class _ProgressReader:
    """A file that requests sends block by block (its length gives the Content-Length,
    which the service requires), advancing a progress bar as it is read."""

    def __init__(self, file: IO[bytes], size: int, bar: Any) -> None:
        self.file, self.size, self.bar = file, size, bar

    def __len__(self) -> int:
        return self.size

    def read(self, amount: int = -1) -> bytes:
        data = self.file.read(amount)
        self.bar.update(len(data))
        return data


class ArtifactCalls:
    """The client's artifact methods (mixed into :class:`perfclient.Client`)."""

    http: Transport
    progress: bool

    def artifacts(self, **filters: Any) -> pd.DataFrame:
        """Artifacts, one row each, filtered as ``GET /artifacts`` filters them (``kind``,
        ``result_id``, ``experiment_id``, ``parent_id``, ``state``, ``terms``,
        ``filters`` on the metadata, ``sort_by``...)."""
        return items_frame(self.http.pages("/artifacts", filters))

    def artifact(self, artifact_id: str) -> dict[str, Any]:
        """One artifact's description."""
        return self.http.json("GET", f"/artifacts/{artifact_id}")

    def upload_artifact(
        self, path: str | Path, *, kind: str, metadata: dict[str, Any] | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Upload the file at ``path`` as an artifact of ``kind`` (algo, data, model,
        prediction, problem, log, config, other), streamed; the stored artifact.

        ``fields``: name (default: the file's name), description, visibility, result_id,
        experiment_id, parent_id. Its size and sha256 are sent along, so that the service
        refuses bytes that did not arrive intact.
        """
        path = Path(path)
        size = path.stat().st_size
        params = {
            "kind": kind,
            "name": path.name,
            **fields,
            "size": size,
            "sha256": _sha256(path),
            "metadata": json.dumps(metadata) if metadata is not None else None,
        }
        bar = progress_bar(self.progress, total=size, unit="B", unit_scale=True, desc=path.name)
        with bar, open(path, "rb") as file:
            return self.http.json(
                "POST",
                "/artifacts",
                params=params,
                data=_ProgressReader(file, size, bar),
                headers={"Content-Type": "application/octet-stream"},
            )

    def download_artifact(self, artifact_id: str, into: str | Path | IO[bytes]) -> None:
        """Save an artifact's bytes to a path or a binary file, streamed."""
        self.http.save(f"/artifacts/{artifact_id}/blob", {}, into, progress=self.progress)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
