"""The v1 source of ``flask import-v1``: take over an EOSC Performance v1.2.x database.

Reads the v1 PostgreSQL database (tables and meaning in docs/migrating-from-v1.md) in one
read-only REPEATABLE READ transaction, so it sees one snapshot while v1 keeps serving,
and writes into this service's database keeping every id. Users, tags and the catalogue
are few: they are compared with what is stored and inserted (or their status and email
brought up to date) in one transaction. Results are many: they stream through a
server-side cursor, and each batch's new rows go to the shared writer
(``backend.bulk.writer``), as ``flask import`` does; claims follow in the last batch,
after the results they refer to. An id already stored is skipped, which makes a run
idempotent and a later run incremental, and an interrupted run leaves what the writer
committed (a prefix of the batches): running again finishes the job.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Table, create_engine, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from backend.bulk.report import ImportReport, LineMessage, first_line
from backend.bulk.v1_catalogue import V1SourceRefused, read_catalogue, utc
from backend.bulk.writer import ResultWriter, WriteFailed
from backend.dialects import concurrent_writers
from backend.errors import DomainError
from backend.extensions import db
from backend.models import Claim, ItemStatus, Result, results_tags
from backend.settings import database_uri
from backend.unit_of_work import objects_kept_loaded

__all__ = ["V1SourceRefused", "import_v1"]

#: The Alembic revision of every v1.2.x database.
V1_REVISION = "112055db4eff"

_RESULT_COLUMNS = """
    SELECT r.id, r.deleted, r.uploader_sub, r.uploader_iss, r.upload_datetime,
           r.execution_datetime, r.benchmark_id::text, r.flavor_id::text, r.site_id::text,
           r.json::text, t.tag_ids
    FROM result r
"""
#: Every result: one sequential scan (a first run).
_ALL_RESULTS = text(
    _RESULT_COLUMNS
    + """
    LEFT JOIN (SELECT result_id, array_agg(tag_id::text) AS tag_ids
               FROM result_tags GROUP BY result_id) t ON t.result_id = r.id
    """
)
#: The results with these ids (a later run, once it knows which ids are new).
_RESULTS_BY_ID = text(
    _RESULT_COLUMNS
    + """
    LEFT JOIN LATERAL (SELECT array_agg(tag_id::text) AS tag_ids
                       FROM result_tags WHERE result_id = r.id) t ON true
    WHERE r.id = ANY(CAST(:ids AS uuid[]))
    """
)
_CLAIMS = text(
    """
    SELECT c.id::text, c.uploader_sub, c.uploader_iss, c.status::text, c.message,
           c.upload_datetime, r.id::text AS result_id
    FROM claim c LEFT JOIN result r ON r._claim_report_id = c.id
    ORDER BY c.upload_datetime, c.id
    """
)


def import_v1(
    source_url: str,
    *,
    dry_run: bool = False,
    strict: bool = False,
    batch_size: int = 5000,
    progress: Callable[[ImportReport, int, int], None] | None = None,
    on_message: Callable[[LineMessage], None] | None = None,
) -> ImportReport:
    """Copy what the v1 database at ``source_url`` holds and this database does not yet.

    V1SourceRefused if the source is not a reachable v1.2.x PostgreSQL database. A problem
    with one row is reported (``on_message``, ``report``) with the row's id, and the row is
    imported where v1 accepted it or skipped with the reason; with ``strict`` the first
    problem stops the run. ``dry_run`` reads and checks everything and writes nothing.
    ``progress(report, results read, results in the source)`` is called after every batch.
    """
    report = ImportReport(unit="rows")
    engine = _source_engine(source_url)
    try:
        try:
            source = engine.connect()
        except SQLAlchemyError as error:
            raise V1SourceRefused(f"Cannot connect to the source: {first_line(error)}") from None
        with source:
            source.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            _check_revision(source)
            run = _V1Import(source, report, dry_run, strict, batch_size, progress, on_message)
            run.run()
            source.rollback()
    finally:
        engine.dispose()
    return report


class _Stop(Exception):
    """``--strict``: the first problem ends the run."""


class _V1Import:
    """One run: the source connection (its snapshot), what was read so far and what this
    run stores; ``run`` copies the catalogue, then results, then claims."""

    def __init__(
        self,
        source: Connection,
        report: ImportReport,
        dry_run: bool,
        strict: bool,
        batch_size: int,
        progress: Callable[[ImportReport, int, int], None] | None,
        on_message: Callable[[LineMessage], None] | None,
    ) -> None:
        self.source = source
        self.report = report
        self.dry_run = dry_run
        self.strict = strict
        self.batch_size = batch_size
        self.progress = progress
        self.on_message = on_message
        self.rows = 0
        self.read = 0  # results read, for the progress
        #: The results this run stores (or would store, dry): claims may refer to them.
        self.new_results: set[uuid.UUID] = set()

    def tell(self, where: str, message: str, *, is_error: bool) -> None:
        """Report a problem with one source row; with ``strict`` stop there."""
        note = LineMessage(self.rows, message, is_error=is_error, where=where)
        self.report.tell(note)
        if self.on_message:
            self.on_message(note)
        if self.strict:
            self.report.aborted_at = self.rows
            raise _Stop

    def run(self) -> None:
        started = time.monotonic()
        session = db.session()
        writers = 0 if self.dry_run else concurrent_writers(db.engine.dialect.name)
        writer = ResultWriter(db.engine, self.report, writers=writers)
        try:
            # The benchmark and flavor objects results are checked with stay loaded.
            with objects_kept_loaded():
                self.catalogue = read_catalogue(self.source, self.tell)
                self.rows += self.catalogue.rows
                self.catalogue.store(session, self.report, dry_run=self.dry_run)
                self._results(writer)
                self._claims(writer)
                writer.wait()
            if self.dry_run:
                session.rollback()
        except (_Stop, WriteFailed):  # reported already, or below
            session.rollback()
        except SQLAlchemyError as error:
            session.rollback()
            note = LineMessage(self.rows, f"the database refused a batch: {first_line(error)}")
            self.report.tell(note)
            if self.on_message:
                self.on_message(note)
            self.report.aborted_at = self.rows
        finally:
            writer.close()
        if writer.failure is not None:
            self.report.tell(LineMessage(self.rows, str(writer.failure), where="results"))
            self.report.aborted_at = self.report.aborted_at or self.rows
        self.report.lines = self.rows
        self.report.elapsed = time.monotonic() - started
        if self.progress:
            self.progress(self.report, self.rows, self.rows)

    # --- results --------------------------------------------------------------------------

    def _results(self, writer: ResultWriter) -> None:
        """Every result on a first run (one scan); later, the ids first, then the rows of
        just the new ones, so that the final run of a cutover reads little."""
        total = self.source.scalar(text("SELECT count(*) FROM result"))
        if not db.session.scalar(select(Result.id).limit(1)):
            rows = self.source.execution_options(stream_results=True, yield_per=self.batch_size)
            for chunk in rows.execute(_ALL_RESULTS).partitions():
                self._result_batch(writer, chunk, len(chunk), total)
        else:
            ids = self.source.scalars(text("SELECT id FROM result")).all()
            for start in range(0, len(ids), self.batch_size):
                chunk = ids[start : start + self.batch_size]
                new = set(chunk) - self._stored(Result.__table__, chunk)
                self.report.skipped_results += len(chunk) - len(new)
                self.rows += len(chunk) - len(new)
                rows = (
                    self.source.execute(_RESULTS_BY_ID, {"ids": list(map(str, new))}) if new else []
                )
                self._result_batch(writer, rows, len(chunk), total)
        writer.wait()  # every result is committed: the counters change in one place at a time
        self._sync_hidden()

    def _result_batch(self, writer: ResultWriter, rows: Iterable[Any], read: int, total: int):
        """Check a batch of new v1 results and hand them to the writer."""
        results, tags = [], []
        first = self.rows + 1
        for row in rows:
            self.rows += 1
            result = self._result(row)
            if result is not None:
                results.append(result)
                self.new_results.add(result["id"])
                tags.extend(
                    {"result_id": result["id"], "tag_id": tag_id}
                    for tag_id in self.catalogue.tag_ids(row[10] or ())
                )
        self._write(writer, first, results, [(Result.__table__, results), (results_tags, tags)])
        self.read += read
        self.report.lines = self.rows
        if self.progress:
            self.progress(self.report, self.read, total)

    def _result(self, row: Any) -> dict[str, Any] | None:
        """The target row of a v1 result, or None (reported) if it cannot be stored."""
        (id_, deleted, sub, iss, uploaded, executed, benchmark_id, flavor_id, site_id,
         document, _) = row  # fmt: skip
        where = f"result {id_}"
        catalogue = self.catalogue
        benchmark = catalogue.benchmarks.get(benchmark_id)
        flavor = catalogue.flavors.get(flavor_id)
        if benchmark is None or flavor is None:
            missing = "benchmark" if benchmark is None else "flavor"
            ref = benchmark_id if benchmark is None else flavor_id
            self.tell(where, f"skipped: its {missing} {ref} was not imported", is_error=True)
            return None
        if site_id != flavor.v1_site_id:
            self.tell(
                where,
                f"its site {site_id} is not its flavor's ({flavor.site_id}); stored with the "
                "flavor's site",
                is_error=False,
            )
        uploader_id = catalogue.user_id(sub, iss)
        if uploader_id is None:
            self.tell(
                where,
                f"its uploader ({sub}, {iss}) is not a v1 user; stored without uploader",
                is_error=False,
            )
        json = orjson.loads(document)
        try:
            benchmark.validate_result(json)
        except DomainError as problem:
            self.tell(where, f"{problem.message} Stored as v1 accepted it.", is_error=False)
        return {
            "id": id_,
            "upload_datetime": utc(uploaded),
            "execution_datetime": utc(executed),
            "json": json,
            "benchmark_id": benchmark.id,
            "site_id": flavor.site_id,
            "flavor_id": flavor.id,
            "uploader_id": uploader_id,
            "hidden": bool(deleted),
        }

    def _sync_hidden(self) -> None:
        """Results hidden in v1 since an earlier run (claimed, removed) are hidden here,
        and results v1 shows again (a rejected claim) are shown: both lists are short."""
        hidden_in_v1 = {
            uuid.UUID(id_)
            for id_ in self.source.scalars(text("SELECT id::text FROM result WHERE deleted"))
        }
        hidden_here = set(db.session.scalars(select(Result.id).where(Result.hidden)))
        to_hide = self._stored(Result.__table__, list(hidden_in_v1 - hidden_here))
        to_show = hidden_here - hidden_in_v1
        if self.dry_run or not (to_hide or to_show):
            return
        for ids, hidden in ((to_hide, True), (to_show, False)):
            if ids:
                db.session.execute(update(Result).where(Result.id.in_(ids)).values(hidden=hidden))
        self.report.created["hidden change"] += len(to_hide) + len(to_show)
        db.session.commit()

    # --- claims -----------------------------------------------------------------------------

    def _claims(self, writer: ResultWriter) -> None:
        """New claims (after the results: a claim refers to its result), in the last batch;
        the status of claims stored by an earlier run follows v1's."""
        rows = self.source.execute(_CLAIMS).all()
        stored = {row.id: row.status for row in db.session.execute(select(Claim.id, Claim.status))}
        known_results = self.new_results | self._stored(
            Result.__table__, [row.result_id for row in rows if row.result_id]
        )
        first = self.rows + 1
        claims, changed = [], 0
        for id_, sub, iss, status, message, uploaded, result_id in rows:
            self.rows += 1
            claim_id = uuid.UUID(id_)
            status = ItemStatus(status or "on_review")
            if claim_id in stored:
                self.report.matched["claim"] += 1
                if stored[claim_id] != status:
                    changed += 1
                    if not self.dry_run:
                        db.session.execute(
                            update(Claim).where(Claim.id == claim_id).values(status=status)
                        )
                continue
            where = f"claim {id_}"
            if result_id is None or uuid.UUID(result_id) not in known_results:
                why = (
                    "no result refers to it"
                    if result_id is None
                    else (f"its result {result_id} was not imported")
                )
                self.tell(where, f"skipped: {why}", is_error=True)
                continue
            claimer = self.catalogue.user_id(sub, iss)
            if claimer is None:
                self.tell(
                    where,
                    f"its claimer ({sub}, {iss}) is not a v1 user; stored without",
                    is_error=False,
                )
            claims.append(
                {
                    "id": claim_id,
                    "upload_datetime": utc(uploaded),
                    "status": status,
                    "message": message,
                    "resource_id": uuid.UUID(result_id),
                    "uploader_id": claimer,
                }
            )
        if changed:
            self.report.created["claim status change"] += changed
            if not self.dry_run:
                db.session.commit()
        if claims:
            self.report.created["claim"] += len(claims)
        self._write(writer, first, [], [(Claim.__table__, claims)])

    # --- writing ------------------------------------------------------------------------

    def _stored(self, table: Table, ids: Iterable[Any]) -> set[uuid.UUID]:
        """Which of ``ids`` the target holds already."""
        wanted = [uuid.UUID(i) if isinstance(i, str) else i for i in ids]
        if not wanted:
            return set()
        return set(db.session.scalars(select(table.c.id).where(table.c.id.in_(wanted))))

    def _write(
        self,
        writer: ResultWriter,
        first: int,
        results: list[dict[str, Any]],
        tables: list[tuple[Table, list[dict[str, Any]]]],
    ) -> None:
        if not any(rows for _, rows in tables):
            return
        if self.dry_run:
            self.report.results += len(results)
            return
        writer.write_rows(first, self.rows, len(results), tables)


def _source_engine(source_url: str) -> Engine:
    url = database_uri(source_url)
    if not url.startswith("postgresql"):
        raise V1SourceRefused(
            f"SOURCE_URL must be a PostgreSQL URL (postgresql://user@host/db), not {url!r}."
        )
    return create_engine(url, pool_size=1, max_overflow=0)


def _check_revision(source: Connection) -> None:
    """Refuse anything but a v1.2.x schema, saying what was found."""
    try:
        with source.begin_nested():
            found = source.scalars(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError as error:
        raise V1SourceRefused(
            f"The source has no readable alembic_version table ({first_line(error)}): "
            f"not a v1 database; expected Alembic revision {V1_REVISION} (v1.2.x)."
        ) from None
    if found != [V1_REVISION]:
        raise V1SourceRefused(
            f"The source's schema is at Alembic revision {', '.join(found) or '(none)'}; "
            f"this importer reads v1.2.x databases (revision {V1_REVISION}). Upgrade v1 "
            "to v1.2.x first."
        )
