"""The JSON Lines source of ``flask import``: reads records line by line and dispatches
each by its ``type`` to a handler of the same name (``RECORD_TYPES``).

Results never become ORM objects: they are checked with the upload API's own rules
(``Result.check_upload`` and the ``ExecutionDateTime`` field), then handed as rows to
the shared writer (``backend.bulk.writer``) one batch at a time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import marshmallow as ma
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from backend.bulk.experiments import ExperimentRecords, loads_line
from backend.bulk.report import (
    RECORD_TYPES,
    BadRecord,
    ImportReport,
    LineMessage,
    first_line,
    reason,
    validation_message,
)
from backend.bulk.writer import ResultWriter, WriteFailed, time_ordered_uuid
from backend.dialects import concurrent_writers
from backend.errors import DomainError
from backend.extensions import db
from backend.json_provider import may_hold_unstorable_text, unstorable_text
from backend.models import Benchmark, Flavor, Result, results_tags
from backend.models.benchmark import canonical_json
from backend.models.types import utc_now
from backend.schemas.results import ExecutionDateTime
from backend.unit_of_work import objects_kept_loaded

REQUIRED_RESULT_KEYS = frozenset({"benchmark", "site", "flavor", "execution_datetime", "json"})
RESULT_KEYS = REQUIRED_RESULT_KEYS | {"type", "tags", "uploader"}

_execution_datetime = ExecutionDateTime()


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
        report.tell(message)
        if on_message:
            on_message(message)

    session = db.session()
    writer = ResultWriter(db.engine, report, writers=concurrent_writers(db.engine.dialect.name))
    importer = Importer(report, tell, writer, uploader, skip_existing_results)
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
                    record = loads_line(line)
                    if not isinstance(record, dict):
                        raise BadRecord("not a JSON object")
                    # Text neither database stores comes only from a few spellings.
                    if may_hold_unstorable_text(line) and (problem := unstorable_text(record)):
                        raise BadRecord(problem)
                    importer.handle(number, record)
                except (BadRecord, DomainError, ValueError, RecursionError) as error:
                    tell(LineMessage(number, reason(error)))
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
                    number, f"the database refused lines {first}-{number}: {first_line(error)}"
                )
            )
            report.aborted_at = number
        except WriteFailed:
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


class Importer(ExperimentRecords):
    """The state of one JSON Lines import: the catalogue maps (``CatalogueRecords``), the
    experiments (``ExperimentRecords``) and the current batch (its line numbers and result
    rows)."""

    def __init__(
        self,
        report: ImportReport,
        tell: Callable[[LineMessage], None],
        writer: ResultWriter,
        uploader: tuple[str, str] | None,
        skip_existing_results: bool,
    ) -> None:
        super().__init__(report, tell, uploader)
        self.writer = writer
        self.skip_existing_results = skip_existing_results
        self.objects: dict[tuple[type, uuid.UUID], Any] = {}
        self.batch_lines: list[int] = []
        self.result_rows: list[dict[str, Any]] = []
        self.tag_rows: list[dict[str, uuid.UUID]] = []
        #: One handler per record kind, the method of that name: (line number, record).
        self.handlers: dict[str, Callable[[int, dict[str, Any]], None]] = {
            kind: getattr(self, kind) for kind in RECORD_TYPES
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
        self.complete_experiment_stats()
        db.session.commit()
        self.report.created.update(self.batch_created)
        self.batch_created.clear()
        if self.skip_existing_results and self.result_rows:
            self.writer.wait()
            self._drop_stored_results()
        if self.result_rows and self.batch_lines:
            self.writer.write_rows(
                self.batch_lines[0],
                self.batch_lines[-1],
                len(self.result_rows),
                [(Result.__table__, self.result_rows), (results_tags, self.tag_rows)],
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
            raise BadRecord(f"execution_datetime: {validation_message(error)}") from None
        benchmark_id = self.benchmark_id(record["benchmark"])
        flavor_id = self.flavor_id(record["site"], record["flavor"])
        tag_ids = self.tag_ids(record)
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
