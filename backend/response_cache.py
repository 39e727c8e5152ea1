"""Per-process cache of the catalogue's public answers (sites, flavors, benchmarks, tags).

Every page view and notebook starts with these small requests, and the catalogue changes a
few times a day. Building such an answer (query parsing, a SELECT, ORM objects, marshmallow)
costs about 1.5 ms of worker CPU; a hit answered through Flask still paid Flask's request
handling and hooks (this app's ``/health`` made about 1,950 req/s, a bare WSGI callable
4,000), so hits are answered by
``CatalogueFront``, a WSGI layer in front of Flask that replays the stored bytes with the
headers Flask would have sent (``perf/small_requests.py`` has the figures).

When does a stored answer still hold? It is stored with the catalogue version (a value
every committed catalogue change replaces, ``backend.models.catalogue_version``) and this
host's write epoch, both taken *before* it was built, and served only while both are
unchanged:
- The version, on PostgreSQL's primary, is the one ``backend.catalogue_listener`` last
  heard (LISTEN/NOTIFY: no round trip per request). While that listener does not know it
  (starting, reconnecting, no answer to its heartbeat for 1.5 s, migration 0009 missing,
  ``CATALOGUE_LISTEN`` off), on SQLite, and on a read replica, it is read per request
  from the database that serves the request, so a lagging replica's answers are cached
  under the replica's own version.
- The write epoch changes, in every worker of this gunicorn (a shared 8-byte file) or of
  this process, as soon as a connection that wrote to a catalogue table goes back to its
  pool, that is after its commit and before its response is sent: a worker never serves
  an answer older than a write this host acknowledged, notification or not.
Changes from elsewhere (another host, plain SQL) are seen once their notification arrives,
normally within a millisecond of the commit, or by the next request with per-request reads.

The key is the path with its query string as sent, so only routes whose answer depends on
nothing else (public, the same for every caller) may use ``cached``. Answers carry a
strong ``ETag`` (a hash of the body); ``If-None-Match`` gives a 304 without a body.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Flask, Response, current_app, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.http import parse_etags

from backend.catalogue_listener import VERSION_QUERY, CatalogueListener
from backend.dialects import read_one_value
from backend.extensions import db
from backend.lru_cache import LruCache
from backend.models.catalogue_version import CATALOGUE_TABLES
from backend.observability import REQUEST_ID_HEADER, chosen_request_id
from backend.read_routing import REPLICA, on_the_primary_if_the_replica_fails

_EXTENSION = "backend.response_cache"
#: Set by gunicorn's master for its workers (``gunicorn.conf.py``), not by operators.
EPOCH_FILE_VARIABLE = "CATALOGUE_EPOCH_FILE"
#: Response headers a cached answer keeps (the pagination headers of list answers).
_KEPT_HEADERS = ("X-Pagination", "Link")
_TABLES = "|".join(CATALOGUE_TABLES)
_CATALOGUE_WRITE = re.compile(
    rf"\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+\"?(?:{_TABLES})\b",
    re.IGNORECASE,
)
_WROTE_CATALOGUE = "backend.response_cache.wrote_catalogue"


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    version: int
    epoch: bytes
    body: bytes
    mimetype: str
    etag: str
    headers: tuple[tuple[str, str], ...]


class WriteEpoch:
    """8 bytes that change after every catalogue write of this host's workers.

    Shared through a file (named by ``EPOCH_FILE_VARIABLE``, made by gunicorn's master in
    ``gunicorn.conf.py``) between the workers of one gunicorn, else kept in this process.
    A torn read can only look like a change: one extra miss.
    """

    def __init__(self, path: str | None) -> None:
        if path:
            with open(path, "r+b") as file:
                self._bytes: mmap.mmap | bytearray = mmap.mmap(file.fileno(), 8)
        else:
            self._bytes = bytearray(8)

    def value(self) -> bytes:
        return self._bytes[:8]

    def bump(self) -> None:
        self._bytes[:8] = os.urandom(8)


@dataclass
class CatalogueCache:
    entries: LruCache[str, CachedAnswer]
    epoch: WriteEpoch
    primary: Engine
    listener: CatalogueListener | None
    #: Values computed from catalogue rows (``CatalogueState``): (version, epoch, value).
    values: LruCache[str, tuple[int, bytes, Any]]

    def version_of(self, engine: Engine) -> int | None:
        """The catalogue version held by ``engine``'s database (None: unknown)."""
        if engine is self.primary and self.listener is not None:
            heard = self.listener.start().version
            if heard is not None:
                return heard
        return read_one_value(engine, VERSION_QUERY)


def current_catalogue_version(
    cache: CatalogueCache, engine: Engine | None = None
) -> tuple[int | None, bytes]:
    """(version, write epoch) for the database this request reads from (``engine``, by
    default the session's), both taken before anything is read from it: what a cached
    value built now is stored under."""
    epoch = cache.epoch.value()
    version = on_the_primary_if_the_replica_fails(
        db.engines, engine or db.session.get_bind(), cache.version_of
    )
    return version, epoch


@dataclass(frozen=True, slots=True)
class CatalogueState:
    """The catalogue as this request finds it (taken before anything is read): values
    computed from catalogue rows are kept under it (``recall`` and ``remember``)."""

    cache: CatalogueCache | None
    version: int | None
    epoch: bytes

    def recall(self, key: str) -> Any:
        """The value kept under ``key`` if it still holds, else None."""
        if self.cache is None or self.version is None:
            return None
        kept = self.cache.values.get(key)
        if kept is not None and kept[0] == self.version and kept[1] == self.epoch:
            return kept[2]
        return None

    def remember(self, key: str, value: Any) -> None:
        """Keep ``value``, computed from what was read after this state was taken."""
        if self.cache is not None and self.version is not None:
            self.cache.values.put(key, (self.version, self.epoch, value))


def catalogue_state(engine: Engine | None = None) -> CatalogueState:
    """The catalogue as the database the request reads from (``engine``, by default the
    session's) holds it now."""
    cache = catalogue_cache()
    if cache is None:
        return CatalogueState(None, None, b"")
    version, epoch = current_catalogue_version(cache, engine)
    return CatalogueState(cache, version, epoch)


def catalogue_cache(app: Flask | None = None) -> CatalogueCache | None:
    """The app's cache, or None when CATALOGUE_CACHE_ENTRIES is 0."""
    return (app or current_app).extensions.get(_EXTENSION)


def init_app(app: Flask) -> None:
    entries = int(app.config["CATALOGUE_CACHE_ENTRIES"])
    if entries <= 0:
        return
    with app.app_context():
        engines = dict(db.engines)
    primary = engines[None]
    listener = None
    if primary.dialect.name == "postgresql" and app.config["CATALOGUE_LISTEN"]:
        connect_args = app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("connect_args", {})
        listener = CatalogueListener(primary, connect_args)
    cache = CatalogueCache(
        LruCache(entries),
        WriteEpoch(os.environ.get(EPOCH_FILE_VARIABLE)),
        primary,
        listener,
        LruCache(entries),
    )
    app.extensions[_EXTENSION] = cache
    for engine in engines.values():
        watch_catalogue_writes(engine, cache.epoch)
    if (
        REPLICA not in engines
        and not app.config["CORS_ORIGINS"]
        and not app.config["METRICS_ENABLED"]
    ):
        # Flask's hooks add nothing else to these answers (a test compares the two).
        from backend.single_result import SingleResultFront  # it reads through this cache

        front = SingleResultFront(app.wsgi_app, app)
        app.wsgi_app = CatalogueFront(front, cache)  # type: ignore[method-assign]


def watch_catalogue_writes(engine: Engine, epoch: WriteEpoch) -> None:
    """Bump ``epoch`` when a connection that wrote to a catalogue table goes back to the
    pool (after its commit or rollback; a rollback costs one miss)."""

    @event.listens_for(engine, "after_cursor_execute")
    def note_write(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement[:1] not in "Ss(" and _CATALOGUE_WRITE.match(statement):
            conn.info[_WROTE_CATALOGUE] = True

    @event.listens_for(engine, "checkin")
    def after_write(dbapi_connection: Any, connection_record: Any) -> None:
        if connection_record is not None and connection_record.info.pop(_WROTE_CATALOGUE, None):
            epoch.bump()


def cache_key(environ: dict[str, Any]) -> str:
    return f"{environ.get('PATH_INFO', '')}?{environ.get('QUERY_STRING', '')}"


def cached(view: Callable[..., Any]) -> Callable[..., Any]:
    """Serve the view's 200 answers from the per-process cache while the catalogue is
    unchanged. Place it right below ``@blp.route`` so a hit skips argument parsing too."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        cache = catalogue_cache()
        if cache is None:
            return view(*args, **kwargs)
        version, epoch = current_catalogue_version(cache)
        key = cache_key(request.environ)
        answer = cache.entries.get(key) if version is not None else None
        if answer is None or answer.version != version or answer.epoch != epoch:
            response = current_app.make_response(view(*args, **kwargs))
            if response.status_code != 200 or response.is_streamed:
                return response
            body = response.get_data()
            answer = CachedAnswer(
                version=version if version is not None else 0,
                epoch=epoch,
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
                cache.entries.put(key, answer)
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


class CatalogueFront:
    """WSGI layer answering a GET whose stored answer still holds, below Flask.

    Installed only where Flask's hooks add nothing request-specific to these answers but
    the request id (no read replica, no CORS, no metrics: ``init_app``). Anything else,
    misses included, goes on to Flask, where ``cached`` builds and stores the answer.
    """

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]], cache: CatalogueCache) -> None:
        from backend.middleware import SECURITY_HEADERS  # it imports extensions' api

        self.wsgi_app = wsgi_app
        self.cache = cache
        self._static_headers = [("Cache-Control", "no-cache"), *SECURITY_HEADERS.items()]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") == "GET":
            answer = self.cache.entries.get(cache_key(environ))
            if (
                answer is not None
                and answer.epoch == self.cache.epoch.value()
                and answer.version == self._version()
            ):
                return self._replay(answer, environ, start_response)
        return self.wsgi_app(environ, start_response)

    def _version(self) -> int | None:
        try:
            return self.cache.version_of(self.cache.primary)
        except Exception:  # the database is away: Flask answers (503) as for a miss
            return None

    def _replay(
        self, answer: CachedAnswer, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> list[bytes]:
        etag = f'"{answer.etag}"'
        headers = [
            ("ETag", etag),
            *self._static_headers,
            (REQUEST_ID_HEADER, chosen_request_id(environ.get("HTTP_X_REQUEST_ID", ""))),
        ]
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match and parse_etags(if_none_match).contains(answer.etag):
            start_response("304 NOT MODIFIED", headers)
            return []
        headers += [
            ("Content-Type", answer.mimetype),
            ("Content-Length", str(len(answer.body))),
            *answer.headers,
        ]
        start_response("200 OK", headers)
        return [answer.body]
