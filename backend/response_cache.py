"""Per-process cache of the catalogue's public answers (sites, flavors, benchmarks, tags).

Every page view and notebook starts with these small requests, and the catalogue changes a
few times a day. Building such an answer (query parsing, a SELECT, ORM objects, marshmallow)
cost about 1.5 ms of worker CPU; a cache hit costs one tiny query for the catalogue's
version and the copy of stored bytes (``perf/small_requests.py`` has the figures).

An answer is cached under the catalogue version read *before* it was built, from the
database it was read from (``backend.models.catalogue_version``). A later request uses it
only while that database still holds the same version, so a change committed by any
worker, process or tool is seen by the next request that starts after the commit; there
is no time-to-live to tune and nothing to invalidate by hand. The key is the path with its
query string as sent, so only routes whose answer depends on nothing else (public, the same
for every caller) may use ``cached``.

Hits and misses carry a strong ``ETag`` (a hash of the body), and ``If-None-Match`` gives a
304, so browsers and notebook clients that revalidate skip the body too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Response, current_app, request

from backend.dialects import read_one_value
from backend.extensions import db
from backend.lru_cache import LruCache
from backend.read_routing import on_the_primary_if_the_replica_fails

_VERSION_QUERY = "SELECT version FROM catalogue_version WHERE id = 1"
#: Response headers a cached answer keeps (the pagination headers of list answers).
_KEPT_HEADERS = ("X-Pagination", "Link")


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    version: int
    body: bytes
    mimetype: str
    etag: str
    headers: tuple[tuple[str, str], ...]


def catalogue_cache() -> LruCache[str, CachedAnswer] | None:
    """This app's cache, or None when CATALOGUE_CACHE_ENTRIES is 0."""
    return current_app.extensions.get("backend.response_cache")


def init_app(app: Any) -> None:
    entries = int(app.config["CATALOGUE_CACHE_ENTRIES"])
    if entries > 0:
        app.extensions["backend.response_cache"] = LruCache(entries)


def read_catalogue_version() -> int | None:
    """The version stored in the database this request reads from (None: unknown).

    The request's session is not touched, so a hit never starts a transaction.
    """
    return on_the_primary_if_the_replica_fails(
        db.engines, db.session.get_bind(), lambda engine: read_one_value(engine, _VERSION_QUERY)
    )


def cached(view: Callable[..., Any]) -> Callable[..., Any]:
    """Serve the view's 200 answers from the per-process cache while the catalogue is
    unchanged. Place it right below ``@blp.route`` so a hit skips argument parsing too."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        cache = catalogue_cache()
        if cache is None:
            return view(*args, **kwargs)
        version = read_catalogue_version()
        key = request.full_path
        answer = cache.get(key) if version is not None else None
        if answer is None or answer.version != version:
            response = current_app.make_response(view(*args, **kwargs))
            if response.status_code != 200 or response.is_streamed:
                return response
            body = response.get_data()
            answer = CachedAnswer(
                version=version if version is not None else 0,
                body=body,
                mimetype=response.mimetype or "application/json",
                etag=hashlib.blake2b(body, digest_size=16).hexdigest(),
                headers=tuple(
                    (name, response.headers[name])
                    for name in _KEPT_HEADERS
                    if name in response.headers
                ),
            )
            if version is not None:
                cache.put(key, answer)
        return _respond(answer)

    return wrapper


def _respond(answer: CachedAnswer) -> Response:
    if answer.etag in request.if_none_match:
        response = current_app.response_class(status=304)
    else:
        response = current_app.response_class(answer.body, mimetype=answer.mimetype)
        for name, value in answer.headers:
            response.headers[name] = value
    response.set_etag(answer.etag)
    response.headers["Cache-Control"] = "no-cache"
    return response
