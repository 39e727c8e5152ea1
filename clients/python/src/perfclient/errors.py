"""The exceptions the client raises, carrying what the service said.

The service answers every failure with one JSON shape, ``{"code", "status", "message",
"errors"}``; :class:`ApiError` keeps those fields so a notebook can show the service's own
words (which say what to fix) instead of a bare status line.
"""

from __future__ import annotations

from typing import Any

import requests


class PerfClientError(Exception):
    """Base of every error this package raises."""


class ApiError(PerfClientError):
    """The service answered with a 4xx or 5xx status.

    ``status`` is the HTTP status, ``message`` the service's explanation and ``errors`` its
    per-field details (when it gave any).
    """

    def __init__(
        self,
        status: int,
        message: str,
        errors: dict[str, Any] | None = None,
        *,
        method: str = "",
        url: str = "",
    ) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.errors = errors
        self.method = method
        self.url = url

    @classmethod
    def from_response(cls, response: requests.Response) -> ApiError:
        """Read the service's error shape; a body that is not in it (a proxy's HTML page)
        still gives the status and the start of the text."""
        message, errors = response.reason or "", None
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "message" in body:
            message, errors = str(body["message"]), body.get("errors")
        elif response.text:
            message = response.text.strip()[:300]
        error_class = BatchRejected if "results:batch" in response.url else cls
        return error_class(
            response.status_code,
            message,
            errors,
            method=(response.request.method or "") if response.request is not None else "",
            url=response.url,
        )


class BatchRejected(ApiError):
    """A ``POST /results:batch`` was refused: nothing of that batch was stored.

    ``item_errors`` maps the index of each refused item (in the whole upload, not only in
    the refused batch) to the service's ``{"status", "message"}`` for it; ``stored_ids``
    are the ids of the batches stored before this one.
    """

    item_errors: dict[int, dict[str, Any]]
    stored_ids: list[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.item_errors = {
            int(index): detail
            for index, detail in ((self.errors or {}).get("json") or {}).items()
            if str(index).isdigit()
        }
        self.stored_ids = []


class ConnectionFailed(PerfClientError):
    """The service could not be reached, or dropped the connection, after every retry (or
    at once, for a request that is not safe to send twice)."""


class NotListed(PerfClientError, LookupError):
    """A catalogue name that no listed item (or more than one) has."""
