"""HTTP to the service: one session, timeouts on every request, retries that are safe.

Retries: a 503 (the service's "the database is unavailable right now") and a connection
that could not be made or was dropped are retried with exponential back-off, honouring
``Retry-After``, but only for idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS): a POST
that may have reached the service is never sent twice, since it could store a result twice.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any
from uuid import UUID

import requests
from tqdm import TqdmWarning, tqdm

from perfclient.errors import ApiError, ConnectionFailed

logger = logging.getLogger("perfclient")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_DROPPED = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently idempotent requests are retried.

    ``attempts`` counts every try (1 disables retries); the waits are ``backoff``,
    2 * ``backoff``, 4 * ``backoff``... each capped at ``max_wait`` seconds (a longer
    ``Retry-After`` from the service is capped too).
    """

    attempts: int = 5
    backoff: float = 0.5
    max_wait: float = 10.0

    def wait(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        seconds = self.backoff * 2 ** (attempt - 1)
        if retry_after and retry_after.strip().isdigit():
            seconds = max(seconds, float(retry_after))
        return min(seconds, self.max_wait)


def progress_bar(enabled: bool, **options: Any) -> tqdm:
    """A tqdm progress bar: a widget in a notebook that has ipywidgets, text otherwise; a
    disabled one shows nothing."""
    if not enabled:
        return tqdm(disable=True, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TqdmWarning)  # without ipywidgets: text bars
        from tqdm.auto import tqdm as auto_tqdm
    return auto_tqdm(**options)


def query_value(value: Any) -> Any:
    """A Python value as the service's query strings spell it (lists stay lists, so each
    item becomes a repeated parameter)."""
    if isinstance(value, list | tuple | set):
        return [query_value(item) for item in value]
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone; the service needs aware datetimes")
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def query(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters that were given (None means "not given"), in the service's spelling."""
    return {name: query_value(value) for name, value in params.items() if value is not None}


class Transport:
    """Sends requests to ``base_url`` and turns failures into this package's exceptions."""

    def __init__(
        self,
        base_url: str,
        token: Callable[[], str | None],
        *,
        timeout: float | tuple[float, float],
        retry: RetryPolicy,
        user_agent: str,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retry = retry
        self.session = requests.Session()
        self.session.headers["User-Agent"] = user_agent
        self.session.headers["Accept"] = "application/json"

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send one request (retried when that is safe); the response of a 2xx or 3xx, an
        :class:`ApiError` for any other status, :class:`ConnectionFailed` when no answer
        came."""
        method = method.upper()
        url = self.base_url + path
        attempts = self.retry.attempts if method in IDEMPOTENT_METHODS else 1
        for attempt in range(1, attempts + 1):
            try:
                response = self.session.request(
                    method,
                    url,
                    params=query(params or {}),
                    json=json,
                    data=data,
                    headers={**(headers or {}), **self._auth_header()},
                    timeout=self.timeout,
                    stream=stream,
                )
            except requests.Timeout as error:
                if isinstance(error, requests.ConnectTimeout) and attempt < attempts:
                    self._pause(method, path, attempt, attempts, "could not connect")
                    continue
                raise ConnectionFailed(
                    f"{method} {url}: no answer within the timeout ({self.timeout} s)"
                ) from error
            except _DROPPED as error:
                if attempt < attempts:
                    self._pause(method, path, attempt, attempts, f"connection failed ({error})")
                    continue
                raise ConnectionFailed(
                    f"{method} {url}: the connection failed"
                    f"{f' after {attempts} tries' if attempts > 1 else ' (not retried)'}: {error}"
                ) from error
            if response.status_code == 503 and attempt < attempts:
                retry_after = response.headers.get("Retry-After")
                response.close()
                self._pause(method, path, attempt, attempts, "503", retry_after)
                continue
            if response.status_code >= 400:
                raise ApiError.from_response(response)
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The decoded JSON answer of a request (None for an empty body, as a 204's)."""
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else None

    def pages(
        self, path: str, params: Mapping[str, Any], *, progress: bool = False
    ) -> Iterator[dict]:
        """Every item of a paginated list, page by page (``per_page`` 100, the maximum)."""
        page, bar = 1, None
        try:
            while True:
                body = self.json("GET", path, params={**params, "page": page, "per_page": 100})
                if progress and bar is None and body["pages"] > 1:
                    bar = progress_bar(True, total=body["total"], unit="item", desc=path)
                yield from body["items"]
                if bar is not None:
                    bar.update(len(body["items"]))
                if not body["has_next"]:
                    return
                page = body["next_num"]
        finally:
            if bar is not None:
                bar.close()

    def download(
        self, path: str, params: Mapping[str, Any], into: IO[bytes], *, progress: bool = False
    ) -> requests.Response:
        """Stream a GET's body into ``into`` (chunk by chunk, so memory stays small); a
        connection dropped mid-way starts the download again, within the retry budget."""
        for attempt in range(1, self.retry.attempts + 1):
            into.seek(0)
            into.truncate()
            response = self.request("GET", path, params=params, stream=True)
            size = response.headers.get("Content-Length")
            bar = progress_bar(
                progress,
                total=int(size) if size and size.isdigit() else None,
                unit="B",
                unit_scale=True,
                desc=path,
            )
            try:
                with response:
                    for chunk in response.iter_content(chunk_size=1 << 16):
                        into.write(chunk)
                        bar.update(len(chunk))
                into.seek(0)
                return response
            except _DROPPED as error:
                if attempt == self.retry.attempts:
                    raise ConnectionFailed(
                        f"GET {path}: the connection dropped during the download "
                        f"{self.retry.attempts} times: {error}"
                    ) from error
                self._pause("GET", path, attempt, self.retry.attempts, "download dropped")
            finally:
                bar.close()
        raise AssertionError("unreachable: the last attempt returns or raises")

    def save(
        self,
        path: str,
        params: Mapping[str, Any],
        into: str | os.PathLike | IO[bytes],
        *,
        progress: bool = False,
    ) -> None:
        """:meth:`download` into a file path (created or replaced) or a binary file."""
        if isinstance(into, str | os.PathLike):
            with open(into, "wb") as file:
                self.download(path, params, file, progress=progress)
        else:
            self.download(path, params, into, progress=progress)

    def _auth_header(self) -> dict[str, str]:
        token = self.token()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _pause(
        self,
        method: str,
        path: str,
        attempt: int,
        attempts: int,
        reason: str,
        retry_after: str | None = None,
    ) -> None:
        seconds = self.retry.wait(attempt, retry_after)
        logger.warning(
            "%s %s: %s; retrying in %.1f s (try %d of %d)",
            method,
            path,
            reason,
            seconds,
            attempt + 1,
            attempts,
        )
        time.sleep(seconds)
