"""Bulk import and export of benchmark data as JSON Lines (``flask import`` / ``flask export``).

One record per line, each with a ``type``: user, tag, site, flavor, benchmark or result;
references are by name (docs/import-export.md has the format and the rules). Import is
how large campaigns get in, so it streams: results never become ORM objects (they are
checked with the upload API's own rules, ``Result.check_upload`` and the
``ExecutionDateTime`` field, then written as Core rows in batches), and only small
name → id maps and the catalogue objects results refer to are kept between batches.
Catalogue items are matched by their natural key and never changed; results are appended.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

import marshmallow as ma
from sqlalchemy import Connection, Engine, Select, select, union
from sqlalchemy.exc import SQLAlchemyError

from backend.dialects import concurrent_writers, prepare_bulk_insert, snapshot_read_options
from backend.errors import DomainError, InvalidArguments, NotFound
from backend.extensions import db
from backend.json_provider import (
    dumps,
    loads_request,
    may_hold_unstorable_text,
    unstorable_text,
)
from backend.models import Benchmark, Flavor, ItemStatus, Result, Site, Tag, User, results_tags
from backend.models.benchmark import canonical_json
from backend.models.types import utc_now
from backend.models.user import MAX_EMAIL_LENGTH, usable_email
from backend.schemas.benchmarks import CreateBenchmark
from backend.schemas.results import ExecutionDateTime
from backend.schemas.sites import CreateFlavor, CreateSite
from backend.schemas.tags import CreateTag
from backend.unit_of_work import objects_kept_loaded

#: Record types in the order an export writes them (each refers only to earlier ones).
RECORD_TYPES = ("user", "tag", "site", "flavor", "benchmark", "result")
REQUIRED_RESULT_KEYS = frozenset({"benchmark", "site", "flavor", "execution_datetime", "json"})
RESULT_KEYS = REQUIRED_RESULT_KEYS | {"type", "tags", "uploader"}
#: How many errors and warnings a report keeps; the counts stay exact beyond.
KEPT_MESSAGES = 1000
EXPORT_CHUNK = 1000

_execution_datetime = ExecutionDateTime()


class BadRecord(Exception):
    """A line that cannot be imported; the message says why."""


@dataclass(frozen=True)
class LineMessage:
    """An error (the line was not imported) or a warning (it was, with a remark)."""

    line: int
    message: str
    is_error: bool = True

    def __str__(self) -> str:
        return f"line {self.line}: {'error' if self.is_error else 'warning'}: {self.message}"


@dataclass
class ImportReport:
    """What an import did; ``created`` and ``results`` count only what was committed."""

    lines: int = 0
    created: Counter[str] = field(default_factory=Counter)
    matched: Counter[str] = field(default_factory=Counter)
    results: int = 0
    skipped_results: int = 0
    failed: int = 0
    warned: int = 0
    errors: list[LineMessage] = field(default_factory=list)
    warnings: list[LineMessage] = field(default_factory=list)
    #: The line at which the import stopped (``--strict``, or the database refused a batch).
    aborted_at: int | None = None
    elapsed: float = 0.0

    @property
    def aborted(self) -> bool:
        return self.aborted_at is not None

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.aborted

    def summary(self) -> str:
        rate = self.results / self.elapsed if self.elapsed else 0.0
        lines = [
            f"{self.lines} lines in {self.elapsed:.1f} s: {self.results} results imported "
            f"({rate:,.0f} results/s)",
            f"created: {count_phrase(self.created)}; matched existing: "
            f"{count_phrase(self.matched)}",
        ]
        if self.skipped_results:
            lines.append(f"skipped {self.skipped_results} results already stored")
        if self.warned:
            lines.append(f"{self.warned} warnings")
        if self.aborted:
            lines.append(
                f"ABORTED at line {self.aborted_at}: nothing from its batch on was written"
            )
        elif self.failed:
            lines.append(f"{self.failed} lines failed (not imported); the others were imported")
        return "\n".join(lines)


def count_phrase(counts: Counter[str]) -> str:
    """``3 sites, 1 benchmark`` in record-type order; ``none`` when empty."""
    return (
        ", ".join(
            f"{counts[kind]} {kind}{'' if counts[kind] == 1 else 's'}"
            for kind in RECORD_TYPES
            if counts[kind]
        )
        or "none"
    )


def import_records(
    lines: Iterable[str | bytes],
    *,
    strict: bool = False,
    uploader: tuple[str, str] | None = None,
    batch_size: int = 5000,
    skip_existing_results: bool = False,
    progress: Callable[[ImportReport], None] | None = None,
    on_message: Callable[[LineMessage], None] | None = None,
) -> ImportReport:
    """Import JSON Lines records into the current app's database, one transaction per
    ``batch_size`` lines (catalogue items through ``db.session``, which it commits).

    A bad line is reported (``on_message``, ``report.errors``) and skipped; with ``strict``
    the first one stops the import, and nothing from its batch on is written. ``uploader``
    (sub, iss) is the user of records that name none. With ``skip_existing_results``, a
    result equal to a stored one (same benchmark, flavor, execution time, uploader and
    document) is not stored again. ``progress`` is called after every batch.
    """
    started = time.monotonic()
    report = ImportReport()

    def tell(message: LineMessage) -> None:
        if message.is_error:
            report.failed += 1
        else:
            report.warned += 1
        kept = report.errors if message.is_error else report.warnings
        if len(kept) < KEPT_MESSAGES:
            kept.append(message)
        if on_message:
            on_message(message)

    session = db.session()
    writer = _ResultWriter(db.engine, report, writers=concurrent_writers(db.engine.dialect.name))
    importer = _Importer(report, tell, writer, uploader, skip_existing_results)
    number = 0
    # The catalogue objects results refer to stay loaded from batch to batch.
    with objects_kept_loaded():
        try:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                report.lines += 1
                importer.batch_lines.append(number)
                try:
                    record = loads_request(line)
                    if not isinstance(record, dict):
                        raise BadRecord("not a JSON object")
                    # Text neither database stores comes only from a few spellings.
                    if may_hold_unstorable_text(line) and (problem := unstorable_text(record)):
                        raise BadRecord(problem)
                    importer.handle(number, record)
                except (BadRecord, DomainError, ValueError, RecursionError) as error:
                    tell(LineMessage(number, _reason(error)))
                    if strict:
                        report.aborted_at = number
                        session.rollback()
                        break
                if len(importer.batch_lines) >= batch_size:
                    importer.end_batch()
                    if progress:
                        progress(report)
            else:
                importer.end_batch()
        except SQLAlchemyError as error:
            session.rollback()
            first = importer.batch_lines[0] if importer.batch_lines else number
            tell(
                LineMessage(
                    number, f"the database refused lines {first}-{number}: {_first_line(error)}"
                )
            )
            report.aborted_at = number
        except _WriteFailed:
            session.rollback()
        finally:
            writer.close()
    if writer.failure is not None:
        tell(LineMessage(writer.failure.last_line, str(writer.failure)))
        report.aborted_at = report.aborted_at or writer.failure.last_line
    report.elapsed = time.monotonic() - started
    if progress:
        progress(report)
    return report


def _first_line(error: Exception) -> str:
    """The database's own message (psycopg2's come with context lines after it)."""
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _reason(error: Exception) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"invalid JSON: {error}"
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8: {error}"
    return getattr(error, "message", None) or str(error)


def _validation_message(error: ma.ValidationError) -> str:
    messages = error.messages
    if isinstance(messages, dict):
        return "; ".join(
            f"{name}: {' '.join(map(str, problems)) if isinstance(problems, list) else problems}"
            for name, problems in messages.items()
        )
    return " ".join(map(str, messages))


@dataclass
class _ResultBatch:
    """A batch's results, ready to be written (``prepare_bulk_insert``) in one transaction."""

    first_line: int
    last_line: int
    results: int
    writes: list[Callable[[Connection], None]]
    #: Its place in the file: batches commit in this order.
    sequence: int = 0


class _WriteFailed(Exception):
    """The database refused a batch of results (a concurrent deletion, for instance)."""

    def __init__(self, batch: _ResultBatch, error: Exception) -> None:
        super().__init__(
            f"the database refused lines {batch.first_line}-{batch.last_line}: {_first_line(error)}"
        )
        self.last_line = batch.last_line


class _ResultWriter:
    """Inserts batches of result rows, each batch in its own transaction, committed in the
    order of the file.

    Where the database takes concurrent writers (PostgreSQL), ``writers`` background
    threads do it, each on its own connection: the database stores batches while Python
    parses and validates the next one. One PostgreSQL connection works on one core, and
    storing a result costs the server about twice what checking it costs Python, so two
    writers are what keeps both cores of a small machine busy. A writer that has stored
    its batch waits for the batches before it to commit, then commits, or rolls back if
    one of them failed: whatever happens, what is committed is a prefix of the file's
    batches. Elsewhere (SQLite, ``writers=0``) it writes in the caller's thread.
    """

    def __init__(self, engine: Engine, report: ImportReport, writers: int) -> None:
        self.engine = engine
        self.report = report
        self.failure: _WriteFailed | None = None
        self.queue: queue.Queue[_ResultBatch | None] = queue.Queue(maxsize=1)
        self.sequence = 0
        self.committed = 0  # how many batches are done (committed, or given up)
        self.turn = threading.Condition()
        self.threads = [
            threading.Thread(target=self._run, name=f"import-writer-{n}", daemon=True)
            for n in range(writers)
        ]
        for thread in self.threads:
            thread.start()

    def write(self, batch: _ResultBatch) -> None:
        """Store the batch (now, or soon in a thread); raise an earlier batch's failure."""
        self._raise_failure()
        batch.sequence, self.sequence = self.sequence, self.sequence + 1
        if not self.threads:
            self._store(batch)
            self._raise_failure()
        else:
            self.queue.put(batch)

    def wait(self) -> None:
        """Return once every batch given so far is committed."""
        if self.threads:
            self.queue.join()
        self._raise_failure()

    def close(self) -> None:
        """Finish the batches given so far and stop the threads; never raises."""
        for _ in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join()
        self.threads = []

    def _raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure

    def _run(self) -> None:
        while (batch := self.queue.get()) is not None:
            self._store(batch)
            self.queue.task_done()
        self.queue.task_done()

    def _store(self, batch: _ResultBatch) -> None:
        error: Exception | None = None
        connection = transaction = None
        try:
            if self.failure is None:  # else an earlier batch failed: this one is given up
                connection = self.engine.connect()
                transaction = connection.begin()
                for write in batch.writes:
                    write(connection)
        except Exception as refused:  # COPY raises the driver's errors; threads must not die
            error = refused
        with self.turn:
            self.turn.wait_for(lambda: self.committed == batch.sequence)
        try:
            if transaction is not None and error is None and self.failure is None:
                # The counters fold in at commit (result_index): a refusal may come here.
                transaction.commit()
                self.report.results += batch.results
            elif transaction is not None:
                transaction.rollback()
        except Exception as refused:
            error = error or refused
        finally:
            if connection is not None:
                connection.close()
            with self.turn:
                if error is not None and self.failure is None:
                    self.failure = _WriteFailed(batch, error)
                self.committed += 1
                self.turn.notify_all()


class _Importer:
    """The state of one import: name → id maps of the catalogue (small, kept for the
    whole run) and the current batch (its line numbers and result rows)."""

    def __init__(
        self,
        report: ImportReport,
        tell: Callable[[LineMessage], None],
        writer: _ResultWriter,
        uploader: tuple[str, str] | None,
        skip_existing_results: bool,
    ) -> None:
        self.report = report
        self.tell = tell
        self.writer = writer
        self.default_uploader = uploader
        self.skip_existing_results = skip_existing_results
        self.users: dict[tuple[str, str], uuid.UUID] = {}
        self.tags: dict[str, uuid.UUID] = {}
        self.sites: dict[str, uuid.UUID] = {}
        self.flavors: dict[tuple[uuid.UUID, str], uuid.UUID] = {}
        self.benchmarks: dict[tuple[str, str], uuid.UUID] = {}
        self.objects: dict[tuple[type, uuid.UUID], Any] = {}
        self.batch_lines: list[int] = []
        self.batch_created: Counter[str] = Counter()
        self.result_rows: list[dict[str, Any]] = []
        self.tag_rows: list[dict[str, uuid.UUID]] = []
        self.handlers: dict[str, Callable[[int, dict[str, Any]], None]] = {
            "user": self.user,
            "tag": self.tag,
            "site": self.site,
            "flavor": self.flavor,
            "benchmark": self.benchmark,
            "result": self.result,
        }

    def handle(self, number: int, record: dict[str, Any]) -> None:
        kind = record.get("type")
        handler = self.handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise BadRecord(f"unknown type {kind!r}; expected one of {', '.join(RECORD_TYPES)}")
        handler(number, record)

    # --- the batch ---------------------------------------------------------------------

    def end_batch(self) -> None:
        """Commit the batch's catalogue items, then hand its results to the writer (the
        results refer to those items, so they must be committed first)."""
        db.session.commit()
        self.report.created.update(self.batch_created)
        self.batch_created.clear()
        if self.skip_existing_results and self.result_rows:
            self.writer.wait()
            self._drop_stored_results()
        if self.result_rows and self.batch_lines:
            dialect = self.writer.engine.dialect
            self.writer.write(
                _ResultBatch(
                    self.batch_lines[0],
                    self.batch_lines[-1],
                    len(self.result_rows),
                    [
                        prepare_bulk_insert(dialect, Result.__table__, self.result_rows),
                        prepare_bulk_insert(dialect, results_tags, self.tag_rows),
                    ],
                )
            )
        self.batch_lines = []
        self.result_rows = []
        self.tag_rows = []

    def _drop_stored_results(self) -> None:
        def key(row: dict[str, Any]) -> tuple:
            return (
                row["benchmark_id"],
                row["flavor_id"],
                row["execution_datetime"],
                row["uploader_id"],
                canonical_json(row["json"]),
            )

        rows = self.result_rows
        stored = db.session.execute(
            select(
                Result.benchmark_id,
                Result.flavor_id,
                Result.execution_datetime,
                Result.uploader_id,
                Result.json,
            ).where(
                Result.benchmark_id.in_({row["benchmark_id"] for row in rows}),
                Result.execution_datetime.in_({row["execution_datetime"] for row in rows}),
            )
        )
        seen = {(*row[:4], canonical_json(row[4])) for row in stored}
        kept = []
        for row in rows:
            row_key = key(row)
            if row_key in seen:
                self.report.skipped_results += 1
            else:
                seen.add(row_key)
                kept.append(row)
        kept_ids = {row["id"] for row in kept}
        self.result_rows = kept
        self.tag_rows = [row for row in self.tag_rows if row["result_id"] in kept_ids]

    def _object(self, model: type, item_id: uuid.UUID) -> Any:
        """The catalogue object with this id, loaded once for the whole import."""
        key = (model, item_id)
        if key not in self.objects:
            self.objects[key] = db.session.get(model, item_id)
        return self.objects[key]

    # --- references by name --------------------------------------------------------------

    def _lookup(self, cache: dict, key: Any, query: Callable[[], Select]) -> uuid.UUID | None:
        """The id for ``key`` from the map, else from the database (then remembered)."""
        found = cache.get(key)
        if found is None:
            found = db.session.scalar(query())
            if found is not None:
                cache[key] = found
        return found

    def user_id(self, sub: str, iss: str) -> uuid.UUID | None:
        iss = iss.rstrip("/")
        return self._lookup(
            self.users, (sub, iss), lambda: select(User.id).where(User.sub == sub, User.iss == iss)
        )

    def site_id(self, name: Any) -> uuid.UUID:
        found = isinstance(name, str) and self._lookup(
            self.sites, name, lambda: select(Site.id).where(Site.name == name)
        )
        if not found:
            raise BadRecord(f"no site named {name!r}; add a site record before this line")
        return found

    def flavor_id(self, site_name: Any, name: Any) -> uuid.UUID:
        site_id = self.site_id(site_name)
        found = isinstance(name, str) and self._lookup(
            self.flavors,
            (site_id, name),
            lambda: select(Flavor.id).where(Flavor.site_id == site_id, Flavor.name == name),
        )
        if not found:
            raise BadRecord(f"no flavor {name!r} at site {site_name!r}")
        return found

    def benchmark_id(self, reference: Any) -> uuid.UUID:
        image, tag = _split_benchmark(reference)
        found = self._lookup(
            self.benchmarks, (image, tag), lambda: _benchmark_id_by_name(image, tag)
        )
        if not found:
            raise BadRecord(f"no benchmark {reference!r}; add a benchmark record before this line")
        return found

    def tag_id(self, name: Any) -> uuid.UUID:
        found = isinstance(name, str) and self._lookup(
            self.tags, name, lambda: select(Tag.id).where(Tag.name == name)
        )
        if not found:
            raise BadRecord(f"no tag named {name!r}; add a tag record before this line")
        return found

    def uploader_id(self, record: dict[str, Any]) -> uuid.UUID | None:
        """The record's ``uploader`` ({sub, iss}; null for none), else the default one."""
        if "uploader" in record:
            reference, origin = record["uploader"], "uploader"
            if reference is None:
                return None
            if not (
                isinstance(reference, dict)
                and reference.keys() == {"sub", "iss"}
                and all(isinstance(v, str) for v in reference.values())
            ):
                raise BadRecord('uploader must be {"sub": "...", "iss": "..."} or null')
            sub, iss = reference["sub"], reference["iss"]
        elif self.default_uploader is not None:
            (sub, iss), origin = self.default_uploader, "--uploader"
        else:
            return None
        found = self.user_id(sub, iss)
        if found is None:
            raise BadRecord(
                f"{origin}: no user with sub {sub!r} and iss {iss!r}; add a user record first"
            )
        return found

    # --- catalogue records -----------------------------------------------------------------

    def _fields(self, schema: ma.Schema, record: dict[str, Any], extra: set[str]) -> dict[str, Any]:
        """The record's fields, validated by the API's own create schema."""
        unknown = record.keys() - set(schema.fields) - extra - {"type"}
        if unknown:
            raise BadRecord(f"unknown field(s) {', '.join(sorted(unknown))}")
        try:
            return schema.load({k: v for k, v in record.items() if k in schema.fields})
        except ma.ValidationError as error:
            raise BadRecord(_validation_message(error)) from None

    def _status(self, record: dict[str, Any]) -> dict[str, ItemStatus]:
        if "status" not in record:
            return {}
        try:
            return {"status": ItemStatus(record["status"])}
        except ValueError:
            raise BadRecord("status must be 'approved' or 'on_review'") from None

    def _match_or_create(
        self,
        number: int,
        kind: str,
        label: str,
        existing: Any,
        given: dict[str, Any],
        create: Callable[[], Any],
    ) -> uuid.UUID:
        """Keep a stored item as it is (warning about fields the line gives otherwise), or
        create the item and flush it to learn its id."""
        if existing is not None:
            differing = [name for name, value in given.items() if getattr(existing, name) != value]
            if differing:
                self.tell(
                    LineMessage(
                        number,
                        f"{kind} {label} exists with other {', '.join(differing)}; "
                        "kept the stored values",
                        is_error=False,
                    )
                )
            self.report.matched[kind] += 1
            return existing.id
        item = create()
        db.session.flush()
        self.batch_created[kind] += 1
        return item.id

    def user(self, number: int, record: dict[str, Any]) -> None:
        if record.keys() - {"type", "sub", "iss", "email"}:
            raise BadRecord("a user record has exactly the fields type, sub, iss and email")
        values = {name: record.get(name) for name in ("sub", "iss", "email")}
        for name, value in values.items():
            if not isinstance(value, str) or not value.strip() or len(value) > 255:
                raise BadRecord(f"{name} must be a non-empty string of at most 255 characters")
        try:
            usable_email(values["email"])
        except InvalidArguments:
            raise BadRecord(
                f"email must be one plain address (name@example.org) of at most "
                f"{MAX_EMAIL_LENGTH} ASCII characters: mail to it would fail"
            ) from None
        sub, iss = values["sub"], values["iss"].rstrip("/")
        self.users[(sub, iss)] = self._match_or_create(
            number,
            "user",
            f"{sub} of {iss}",
            User.find(sub, iss),
            {"email": values["email"]},
            lambda: _add(User(sub=sub, iss=iss, email=values["email"])),
        )

    def tag(self, number: int, record: dict[str, Any]) -> None:
        fields = self._fields(CreateTag(), record, extra=set())
        name = fields["name"]
        self.tags[name] = self._match_or_create(
            number,
            "tag",
            repr(name),
            db.session.scalar(select(Tag).where(Tag.name == name)),
            fields,
            lambda: Tag.create(**fields),
        )

    def site(self, number: int, record: dict[str, Any]) -> None:
        fields = self._fields(CreateSite(), record, extra={"status", "uploader"})
        status = self._status(record)
        name = fields["name"]
        self.sites[name] = self._match_or_create(
            number,
            "site",
            repr(name),
            db.session.scalar(select(Site).where(Site.name == name)),
            fields | status,
            lambda: Site.create(
                **{"status": ItemStatus.approved, **fields, **status},
                uploader_id=self.uploader_id(record),
            ),
        )

    def flavor(self, number: int, record: dict[str, Any]) -> None:
        fields = self._fields(CreateFlavor(), record, extra={"site", "status", "uploader"})
        status = self._status(record)
        site_id = self.site_id(record.get("site"))
        name = fields["name"]
        self.flavors[(site_id, name)] = self._match_or_create(
            number,
            "flavor",
            f"{name!r} of site {record['site']!r}",
            db.session.scalar(select(Flavor).where(Flavor.site_id == site_id, Flavor.name == name)),
            fields | status,
            lambda: Flavor.create(
                **{"status": ItemStatus.approved, **fields, **status},
                site_id=site_id,
                uploader_id=self.uploader_id(record),
            ),
        )

    def benchmark(self, number: int, record: dict[str, Any]) -> None:
        fields = self._fields(CreateBenchmark(), record, extra={"status", "uploader"})
        status = self._status(record)
        key = (fields["docker_image"], fields["docker_tag"])
        self.benchmarks[key] = self._match_or_create(
            number,
            "benchmark",
            ":".join(key),
            db.session.scalar(
                select(Benchmark).where(
                    Benchmark.docker_image == key[0], Benchmark.docker_tag == key[1]
                )
            ),
            fields | status,
            lambda: Benchmark.create(
                **{"status": ItemStatus.approved, **fields, **status},
                uploader_id=self.uploader_id(record),
            ),
        )

    # --- results -------------------------------------------------------------------------

    def result(self, number: int, record: dict[str, Any]) -> None:
        """Check the result like ``POST /results`` does and queue its row for the batch."""
        if not RESULT_KEYS.issuperset(record):
            raise BadRecord(f"unknown field(s) {', '.join(sorted(record.keys() - RESULT_KEYS))}")
        if not REQUIRED_RESULT_KEYS.issubset(record):
            missing = sorted(REQUIRED_RESULT_KEYS - record.keys())
            raise BadRecord(f"missing field(s) {', '.join(missing)}")
        try:
            executed = _execution_datetime.deserialize(record["execution_datetime"])
        except ma.ValidationError as error:
            raise BadRecord(f"execution_datetime: {_validation_message(error)}") from None
        benchmark_id = self.benchmark_id(record["benchmark"])
        flavor_id = self.flavor_id(record["site"], record["flavor"])
        tag_names = record.get("tags", [])
        if not isinstance(tag_names, list) or not all(isinstance(n, str) for n in tag_names):
            raise BadRecord("tags must be a list of tag names")
        tag_ids = [self.tag_id(name) for name in dict.fromkeys(tag_names)]
        uploader_id = self.uploader_id(record)
        document = record["json"]
        Result.check_upload(
            self._object(Benchmark, benchmark_id),
            self._object(Flavor, flavor_id),
            document,
        )
        result_id = time_ordered_uuid()
        self.result_rows.append(
            {
                "id": result_id,
                "upload_datetime": utc_now(),
                "execution_datetime": executed,
                "json": document,
                "benchmark_id": benchmark_id,
                "site_id": self.sites[record["site"]],
                "flavor_id": flavor_id,
                "uploader_id": uploader_id,
                "hidden": False,
            }
        )
        self.tag_rows.extend({"result_id": result_id, "tag_id": tag_id} for tag_id in tag_ids)


def time_ordered_uuid() -> uuid.UUID:
    """A random UUID whose first 48 bits are the time in milliseconds (version 7 of RFC 9562).

    Imported results get these: a batch's ids are then neighbours in every index that
    starts with the result id (results, results_tags, result_numbers), so a bulk load
    touches a few index pages instead of one random page per row. 74 random bits keep
    them unique; like any id they are opaque to clients.
    """
    random_bits = int.from_bytes(os.urandom(10), "big")
    value = (time.time_ns() // 1_000_000) << 80 | random_bits & ((1 << 80) - 1)
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 9562 variant
    return uuid.UUID(int=value)


def _add(instance: Any) -> Any:
    db.session.add(instance)
    return instance


def _benchmark_id_by_name(image: str, tag: str) -> Select:
    return select(Benchmark.id).where(Benchmark.docker_image == image, Benchmark.docker_tag == tag)


def _split_benchmark(reference: Any) -> tuple[str, str]:
    """``image:tag`` → (image, tag); the image may hold a registry port (``host:5000/x``)."""
    if isinstance(reference, str):
        image, _, tag = reference.rpartition(":")
        if image and tag and "/" not in tag:
            return image, tag
    raise BadRecord(f"benchmark must be 'image:tag', not {reference!r}")


# --- export --------------------------------------------------------------------------------


def export_records(
    *, benchmark: str | None = None, since: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """Yield the database's content as import records: catalogue first, then results.

    Without filters: every user and catalogue item. With ``benchmark`` (``image:tag``)
    and/or ``since`` (upload time, inclusive): the matching results and just the catalogue
    items they refer to, so the output imports on its own. Claims, and results hidden by
    a claim, are left out. Everything is read from one snapshot, results in chunks through
    a server-side cursor.
    """
    with db.engine.connect() as connection:
        connection = connection.execution_options(**snapshot_read_options(connection.dialect.name))
        with connection.begin():
            yield from _Exporter(connection, benchmark, since).records()


def write_records(records: Iterable[dict[str, Any]], out: TextIO) -> Counter[str]:
    """Write records as JSON Lines; the counts by type."""
    counts: Counter[str] = Counter()
    for record in records:
        out.write(dumps(record))
        out.write("\n")
        counts[record["type"]] += 1
    return counts


class _Exporter:
    def __init__(self, connection: Connection, benchmark: str | None, since: datetime | None):
        self.connection = connection
        self.benchmark = benchmark
        self.since = since
        self.user_refs: dict[uuid.UUID, dict[str, str]] = {}
        self.tag_names: dict[uuid.UUID, str] = {}
        self.flavor_refs: dict[uuid.UUID, tuple[str, str]] = {}
        self.benchmark_names: dict[uuid.UUID, str] = {}

    def records(self) -> Iterator[dict[str, Any]]:
        results = [Result.hidden.is_(False)]
        benchmarks = []
        if self.benchmark is not None:
            benchmark_id = self.connection.scalar(
                _benchmark_id_by_name(*_split_benchmark_or_404(self.benchmark))
            )
            if benchmark_id is None:
                raise NotFound(f"No benchmark {self.benchmark}.")
            results.append(Result.benchmark_id == benchmark_id)
            benchmarks.append(Benchmark.id == benchmark_id)
        if self.since is not None:
            results.append(Result.upload_datetime >= self.since)
        filtered = len(results) > 1
        sites, flavors, tags = [], [], []
        if filtered:
            sites.append(Site.id.in_(select(Result.site_id).where(*results)))
            flavors.append(Flavor.id.in_(select(Result.flavor_id).where(*results)))
            tags.append(
                Tag.id.in_(
                    select(results_tags.c.tag_id)
                    .join(Result, Result.id == results_tags.c.result_id)
                    .where(*results)
                )
            )
            if not benchmarks:
                benchmarks.append(Benchmark.id.in_(select(Result.benchmark_id).where(*results)))
        users = []
        if filtered:
            uploaders = union(
                select(Result.uploader_id).where(*results),
                select(Site.uploader_id).where(*sites),
                select(Flavor.uploader_id).where(*flavors),
                select(Benchmark.uploader_id).where(*benchmarks),
            )
            users.append(User.id.in_(uploaders))
        yield from self.users(users)
        yield from self.tags(tags)
        yield from self.sites(sites)
        yield from self.flavors(flavors)
        yield from self.benchmarks(benchmarks)
        yield from self.results(results)

    def uploader(self, uploader_id: uuid.UUID | None) -> dict[str, str] | None:
        return None if uploader_id is None else self.user_refs[uploader_id]

    def users(self, where: list) -> Iterator[dict[str, Any]]:
        stmt = select(User.id, User.sub, User.iss, User.email).where(*where)
        for row in self.connection.execute(stmt.order_by(User.iss, User.sub)):
            self.user_refs[row.id] = {"sub": row.sub, "iss": row.iss}
            yield {"type": "user", "sub": row.sub, "iss": row.iss, "email": row.email}

    def tags(self, where: list) -> Iterator[dict[str, Any]]:
        stmt = select(Tag.id, Tag.name, Tag.description).where(*where).order_by(Tag.name)
        for row in self.connection.execute(stmt):
            self.tag_names[row.id] = row.name
            yield {"type": "tag", "name": row.name, "description": row.description}

    def sites(self, where: list) -> Iterator[dict[str, Any]]:
        stmt = select(
            Site.name, Site.address, Site.description, Site.status, Site.uploader_id
        ).where(*where)
        for row in self.connection.execute(stmt.order_by(Site.name)):
            yield {
                "type": "site",
                "name": row.name,
                "address": row.address,
                "description": row.description,
                "status": row.status.value,
                "uploader": self.uploader(row.uploader_id),
            }

    def flavors(self, where: list) -> Iterator[dict[str, Any]]:
        stmt = (
            select(
                Flavor.id,
                Site.name.label("site"),
                Flavor.name,
                Flavor.description,
                Flavor.status,
                Flavor.uploader_id,
            )
            .join(Site, Site.id == Flavor.site_id)
            .where(*where)
            .order_by(Site.name, Flavor.name)
        )
        for row in self.connection.execute(stmt):
            self.flavor_refs[row.id] = (row.site, row.name)
            yield {
                "type": "flavor",
                "site": row.site,
                "name": row.name,
                "description": row.description,
                "status": row.status.value,
                "uploader": self.uploader(row.uploader_id),
            }

    def benchmarks(self, where: list) -> Iterator[dict[str, Any]]:
        stmt = select(
            Benchmark.id,
            Benchmark.docker_image,
            Benchmark.docker_tag,
            Benchmark.url,
            Benchmark.description,
            Benchmark.json_schema,
            Benchmark.status,
            Benchmark.uploader_id,
        ).where(*where)
        for row in self.connection.execute(
            stmt.order_by(Benchmark.docker_image, Benchmark.docker_tag)
        ):
            self.benchmark_names[row.id] = f"{row.docker_image}:{row.docker_tag}"
            yield {
                "type": "benchmark",
                "docker_image": row.docker_image,
                "docker_tag": row.docker_tag,
                "url": row.url,
                "description": row.description,
                "json_schema": row.json_schema,
                "status": row.status.value,
                "uploader": self.uploader(row.uploader_id),
            }

    def results(self, where: list) -> Iterator[dict[str, Any]]:
        stmt = (
            select(
                Result.id,
                Result.benchmark_id,
                Result.flavor_id,
                Result.execution_datetime,
                Result.uploader_id,
                Result.json,
            )
            .where(*where)
            .order_by(Result.execution_datetime, Result.id)
        )
        rows = self.connection.execute(stmt, execution_options={"yield_per": EXPORT_CHUNK})
        for chunk in rows.partitions():
            tags = defaultdict(list)
            tag_rows = self.connection.execute(
                select(results_tags.c.result_id, results_tags.c.tag_id).where(
                    results_tags.c.result_id.in_([row.id for row in chunk])
                )
            )
            for result_id, tag_id in tag_rows:
                tags[result_id].append(self.tag_names[tag_id])
            for row in chunk:
                site, flavor = self.flavor_refs[row.flavor_id]
                yield {
                    "type": "result",
                    "benchmark": self.benchmark_names[row.benchmark_id],
                    "site": site,
                    "flavor": flavor,
                    "tags": sorted(tags[row.id]),
                    "execution_datetime": row.execution_datetime.isoformat(),
                    "uploader": self.uploader(row.uploader_id),
                    "json": row.json,
                }


def _split_benchmark_or_404(reference: str) -> tuple[str, str]:
    try:
        return _split_benchmark(reference)
    except BadRecord as error:
        raise NotFound(str(error)) from None
