"""Receiving artifact bytes from a request body into the store, as they arrive.

A raw body is read in chunks straight into a store writer; a ``multipart/form-data`` body
is parsed incrementally (werkzeug's sans-IO ``MultipartDecoder`` over the request stream):
the metadata fields come first and are kept (at most ``FIELDS_MAX_BYTES``), the file part
last goes chunk by chunk to the writer. Werkzeug's own form parser would spool the file to
a temporary file first, and the store would then copy it again.

Every chunk is counted against ARTIFACTS_MAX_SIZE, the uploader's ARTIFACTS_USER_QUOTA and
a declared size before it is written (``Limits``); past any of them, or if the body ends
early or the client goes away, the writer aborts and nothing is kept. A committed blob whose
row is not stored after all is removed again by ``discard`` (unless another row names it:
the local store keeps equal bytes once).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from werkzeug.sansio.multipart import Data, Epilogue, Event, Field, File, MultipartDecoder, NeedData

from backend.artifact_stores.base import READ_CHUNK, ArtifactStore, StoredBlob
from backend.errors import BadRequest, PayloadTooLarge
from backend.models import Artifact

#: Metadata fields of a multipart upload, all together (the JSON routes' limit).
FIELDS_MAX_BYTES = 1024 * 1024


class ArtifactTooLarge(PayloadTooLarge):
    """Past ARTIFACTS_MAX_SIZE or the uploader's quota."""


class BlobMismatch(BadRequest):
    """The bytes are not what the client declared (size or sha256)."""


class MalformedUpload(BadRequest):
    """A body that is not a usable upload (no file part, truncated, file not last)."""


class BodyEndedEarly(BadRequest):
    """The body ended before the bytes its Content-Length announced: the client went away."""


class ExactBody:
    """A request body that must deliver the ``length`` bytes it announced.

    gunicorn marks its input as terminated, and werkzeug then takes an early end of the
    body for its end: a client that disconnects halfway would leave a truncated blob.
    """

    def __init__(self, stream: IO[bytes], length: int | None) -> None:
        self.stream = stream
        self.length = length
        self.received = 0

    def read(self, size: int) -> bytes:
        chunk = self.stream.read(size)
        self.received += len(chunk)
        if not chunk and self.length is not None and self.received < self.length:
            raise BodyEndedEarly(
                f"The body ended after {self.received:,} of the {self.length:,} bytes its "
                "Content-Length announced; nothing was kept."
            )
        return chunk


@dataclass(frozen=True)
class Limits:
    """What one upload may hold: ARTIFACTS_MAX_SIZE, the quota left, a declared size."""

    max_size: int
    quota: int
    used: int
    declared_size: int | None = None

    def check(self, size: int) -> None:
        """Raise unless ``size`` bytes (so far) are acceptable."""
        if size > self.max_size:
            raise ArtifactTooLarge(
                f"The artifact is larger than ARTIFACTS_MAX_SIZE ({self.max_size:,} bytes); "
                "nothing was kept."
            )
        if self.used + size > self.quota:
            raise ArtifactTooLarge(
                f"The artifact would exceed your quota (ARTIFACTS_USER_QUOTA, "
                f"{self.quota:,} bytes): your artifacts use {self.used:,} bytes already, "
                f"{max(self.quota - self.used, 0):,} are left; nothing was kept. Delete "
                "artifacts you no longer need."
            )
        if self.declared_size is not None and size > self.declared_size:
            raise BlobMismatch(
                f"The body holds more than the declared size ({self.declared_size:,} bytes); "
                "nothing was kept."
            )


def check_declared(blob: StoredBlob, size: int | None, sha256: str | None) -> None:
    """Raise BlobMismatch if the stored bytes differ from a declared size or sha256."""
    if size is not None and blob.size != size:
        raise BlobMismatch(
            f"The body held {blob.size:,} bytes, not the declared size {size:,}; nothing was kept."
        )
    if sha256 is not None and blob.sha256 != sha256.lower():
        raise BlobMismatch(
            f"The body's sha256 is {blob.sha256}, not the declared {sha256.lower()}; nothing "
            "was kept."
        )


def discard(store: ArtifactStore, key: str) -> None:
    """Remove a blob unless a stored row names it (call after the owning row is gone)."""
    if not Artifact.blob_is_named(key):
        store.delete(key)


def receive_raw(stream: IO[bytes] | ExactBody, store: ArtifactStore, limits: Limits) -> StoredBlob:
    """The whole body as one blob."""
    with store.writer() as writer:
        while chunk := stream.read(READ_CHUNK):
            limits.check(writer.size + len(chunk))
            writer.write(chunk)
        return writer.commit()


def receive_multipart(
    stream: IO[bytes] | ExactBody,
    boundary: bytes,
    store: ArtifactStore,
    file_starts: Callable[[dict[str, str]], Limits],
    *,
    file_required: bool = True,
) -> tuple[dict[str, str], StoredBlob | None]:
    """The metadata fields and the stored file of a multipart body (None if it has none
    and ``file_required`` is false).

    ``file_starts(fields)`` is called when the file part begins, with the fields so far: it
    checks them (raising refuses the upload before any byte is stored) and returns the
    limits the file must keep.
    """
    fields: dict[str, str] = {}
    fields_size = 0
    field_name: str | None = None
    value = bytearray()
    writer = None
    limits: Limits | None = None
    blob: StoredBlob | None = None
    try:
        for event in _events(MultipartDecoder(boundary), stream):
            if isinstance(event, (Field, File)) and writer is not None:
                raise MalformedUpload(
                    "The file must be the last part of the form: send the metadata fields "
                    "first and only one file."
                )
            if isinstance(event, Field):
                field_name, value = event.name, bytearray()
            elif isinstance(event, File):
                limits = file_starts(fields)
                writer = store.writer()
            elif isinstance(event, Data) and writer is not None and limits is not None:
                limits.check(writer.size + len(event.data))
                writer.write(event.data)
                if not event.more_data:
                    blob = writer.commit()
            elif isinstance(event, Data):
                fields_size += len(event.data)
                if fields_size > FIELDS_MAX_BYTES:
                    raise ArtifactTooLarge(
                        f"The form fields are larger than {FIELDS_MAX_BYTES:,} bytes together."
                    )
                value += event.data
                if not event.more_data and field_name:
                    fields[field_name] = _text(field_name, value)
        if blob is None and file_required:
            raise MalformedUpload(
                "The form has no file part: send the bytes as the last field, with a "
                "filename (curl -F blob=@file)."
            )
    except BaseException:
        if writer is not None:
            writer.abort()
        if blob is not None:
            discard(store, blob.key)
        raise
    return fields, blob


def _text(name: str, value: bytearray) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise MalformedUpload(f"The form field '{name}' is not UTF-8 text.") from None


def _events(decoder: MultipartDecoder, stream: IO[bytes] | ExactBody) -> Iterator[Event]:
    """The decoder's events (but the preamble and epilogue) as the body arrives."""
    while True:
        chunk = stream.read(READ_CHUNK)
        decoder.receive_data(chunk or None)
        while True:
            try:
                event = decoder.next_event()
            except ValueError as error:
                raise MalformedUpload(
                    f"The multipart body is malformed or ended early ({error}); nothing was kept."
                ) from None
            if isinstance(event, NeedData):
                break
            if isinstance(event, Epilogue):
                return
            if isinstance(event, (Field, File, Data)):
                yield event
