"""Downloading an artifact's bytes: streamed from the store, with HTTP's validators and
ranges (RFC 9110): ``ETag`` is the sha256 (a strong validator: the bytes never change),
``If-None-Match`` answers 304, a single ``Range`` answers 206 (416 if it lies past the
end), so a broken download resumes where it stopped."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from flask import Request, Response
from werkzeug.wsgi import wrap_file

from backend.artifact_stores.base import READ_CHUNK, ArtifactStore, BlobMissing
from backend.errors import NotFound
from backend.models import Artifact, Visibility


def content_disposition(name: str) -> str:
    """``attachment`` with the name, in ASCII and (RFC 6266) in UTF-8."""
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "'").replace("\\", "_")
    ascii_name = "".join(c if c.isprintable() else "_" for c in ascii_name) or "artifact"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name or 'artifact')}"


def blob_response(store: ArtifactStore, artifact: Artifact, request: Request) -> Response:
    """The response to GET or HEAD of an artifact's blob."""
    size = artifact.size or 0
    headers = {
        "ETag": f'"{artifact.sha256}"',
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(artifact.name),
        "Cache-Control": "private, no-cache"
        if artifact.visibility == Visibility.private
        else "no-cache",
    }
    if request.if_none_match.contains(artifact.sha256 or ""):
        return Response(status=304, headers=headers)
    start, end, status = 0, size, 200
    wanted = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    ranges = request.range if wanted else None
    fresh = if_range is None or if_range.strip('"') == artifact.sha256
    # A malformed Range, or several ranges, is ignored (RFC 9110 allows it): the whole blob.
    if ranges is not None and len(ranges.ranges) == 1 and fresh:
        bounds = ranges.range_for_length(size)
        if bounds is None:
            headers["Content-Range"] = f"bytes */{size}"
            return Response(status=416, headers=headers)
        (start, end), status = bounds, 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    if request.method == "HEAD":
        return Response(status=status, headers=headers, mimetype="application/octet-stream")
    try:
        chunks = _body(store, artifact.blob_key or "", start, end, size, request)
    except BlobMissing:
        raise NotFound(
            f"The bytes of artifact {artifact.id} are missing from the store; an "
            "administrator can list such artifacts with 'flask artifacts gc'."
        ) from None
    return Response(
        chunks,
        status=status,
        headers=headers,
        mimetype="application/octet-stream",
        direct_passthrough=True,
    )


def _body(
    store: ArtifactStore, key: str, start: int, end: int, size: int, request: Request
) -> Iterable[bytes]:
    """The bytes ``start`` to ``end`` of a blob. To its end from a local file: through
    ``wsgi.file_wrapper``, which gunicorn sends with sendfile(2) (no copy through Python;
    gunicorn sends exactly Content-Length bytes from the file's position, any other server
    reads the file to its end, hence only for ranges that reach it)."""
    file = store.open_file(key) if end == size else None
    if file is None:
        return store.read(key, start, end)
    file.seek(start)
    return wrap_file(request.environ, file, buffer_size=READ_CHUNK)
