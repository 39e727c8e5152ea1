"""The one interface every artifact store implements, and what its writers return.

A store keeps blobs under keys it chooses itself. Bytes reach it through a writer that
hashes them on the way and either commits (the blob exists under its key, with its size and
sha256) or aborts (nothing is left behind): an upload never exists half-written. Reads are
iterators of chunks over a byte range, so a download never holds a blob in memory.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import BinaryIO, Self

#: Size of the chunks reads yield: large enough that per-chunk overhead vanishes at
#: hundreds of MB/s, small enough to stay far below the 64 MB memory bound.
READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredBlob:
    """A committed blob: where it is and what it holds."""

    key: str
    size: int
    sha256: str


class BlobMissing(LookupError):
    """The store has no blob under this key (deleted behind the service's back)."""


class BlobWriter(ABC):
    """Takes a blob's bytes chunk by chunk; ``commit`` keeps them, ``abort`` drops them.

    Used as a context manager, an exception (or leaving without ``commit``) aborts.
    """

    def __init__(self) -> None:
        self.size = 0
        self._hash = hashlib.sha256()
        self._finished = False

    def write(self, chunk: bytes) -> None:
        """Store ``chunk`` after what came before."""
        if not chunk:
            return
        self._hash.update(chunk)
        self.size += len(chunk)
        self._write(chunk)

    @property
    def sha256(self) -> str:
        """The hex digest of the bytes written so far."""
        return self._hash.hexdigest()

    def commit(self) -> StoredBlob:
        """Keep the blob; returns its key, size and sha256."""
        self._finished = True
        return self._commit()

    def abort(self) -> None:
        """Drop whatever was written; safe to call more than once."""
        if not self._finished:
            self._finished = True
            self._abort()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.abort()

    @abstractmethod
    def _write(self, chunk: bytes) -> None: ...

    @abstractmethod
    def _commit(self) -> StoredBlob: ...

    @abstractmethod
    def _abort(self) -> None: ...


class ArtifactStore(ABC):
    """Where artifact bytes live: local disk (``local.py``) or an S3 bucket (``s3.py``)."""

    #: The URL scheme that selects this store in ARTIFACT_STORE.
    scheme: str

    @abstractmethod
    def writer(self) -> BlobWriter:
        """A writer for a new blob."""

    @abstractmethod
    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes ``start`` to ``end`` (exclusive; None: to the end) of a blob, in
        chunks. Raises BlobMissing (before the first chunk) if there is no such blob."""

    def open_file(self, key: str) -> BinaryIO | None:
        """The blob as an open local file, for the server to send with sendfile(2); None
        for stores that are not local files. BlobMissing if there is no such blob."""
        return None

    @abstractmethod
    def size(self, key: str) -> int:
        """The size of a blob in bytes; BlobMissing if there is none."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove a blob; a missing one is not an error."""

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except BlobMissing:
            return False
        return True

    @abstractmethod
    def blobs(self) -> Iterator[tuple[str, datetime]]:
        """Every blob's key and when it was last written (for ``flask artifacts gc``, which
        leaves young blobs alone: their rows may be being committed)."""

    def keys(self) -> Iterator[str]:
        return (key for key, _ in self.blobs())

    def direct_upload_key(self) -> str | None:
        """A fresh key a client may PUT to directly (``direct_upload_url``), or None when
        the store takes no direct uploads and the service receives the bytes itself."""
        return None

    def direct_upload_url(self, key: str, expires_in: int) -> str:
        """A URL that takes one PUT of the bytes for ``key`` without further credentials."""
        raise NotImplementedError(f"The {self.scheme} store takes no direct uploads.")

    def adopt(self, key: str) -> StoredBlob:
        """The size and sha256 of a blob a client uploaded directly, read back in chunks."""
        digest = hashlib.sha256()
        size = 0
        for chunk in self.read(key):
            digest.update(chunk)
            size += len(chunk)
        return StoredBlob(key, size, digest.hexdigest())
