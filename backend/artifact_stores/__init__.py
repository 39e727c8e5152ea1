"""Artifact stores: where artifact bytes live, behind one interface (``base.py``).

``ARTIFACT_STORE`` picks one at start-up: ``file:///path`` (``local.py``, the default:
``<instance>/artifacts``) or ``s3://bucket/prefix`` (``s3.py``, with
``ARTIFACT_S3_ENDPOINT_URL`` for S3-compatible servers). Every store passes the same test
suite (tests/artifacts/test_stores.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import current_app

from backend.artifact_stores.base import ArtifactStore, BlobMissing, BlobWriter, StoredBlob

__all__ = [
    "ArtifactStore",
    "BlobMissing",
    "BlobWriter",
    "StoredBlob",
    "current_store",
    "open_store",
]

_EXTENSION = "backend.artifact_store"


def check_url(url: str) -> None:
    """Raise ValueError unless ``url`` names a store this service can open."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if not parts.path or parts.netloc not in {"", "localhost"}:
            raise ValueError("a file store is file:///absolute/path")
    elif parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError("an S3 store is s3://bucket or s3://bucket/prefix")
    else:
        raise ValueError("use file:///path or s3://bucket/prefix")


def open_store(url: str, config: dict[str, Any]) -> ArtifactStore:
    """The store ``url`` names (checked by ``check_url``), with the ARTIFACT_S3_* settings."""
    check_url(url)
    parts = urlsplit(url)
    if parts.scheme == "file":
        from backend.artifact_stores.local import LocalStore

        return LocalStore(Path(unquote(parts.path)))
    from backend.artifact_stores.s3 import DEFAULT_PART_SIZE, S3Store

    return S3Store(
        parts.netloc,
        unquote(parts.path),
        endpoint_url=config.get("ARTIFACT_S3_ENDPOINT_URL"),
        region=config.get("ARTIFACT_S3_REGION"),
        access_key_id=config.get("ARTIFACT_S3_ACCESS_KEY_ID"),
        secret_access_key=config.get("ARTIFACT_S3_SECRET_ACCESS_KEY"),
        part_size=config.get("ARTIFACT_S3_PART_SIZE") or DEFAULT_PART_SIZE,
    )


def current_store() -> ArtifactStore:
    """The app's store, opened once on first use from ARTIFACT_STORE."""
    store = current_app.extensions.get(_EXTENSION)
    if store is None:
        store = current_app.extensions[_EXTENSION] = open_store(
            current_app.config["ARTIFACT_STORE"], current_app.config
        )
    return store
