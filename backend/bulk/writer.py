"""The batched, ordered writer that every import source writes its rows through.

A source (``jsonl``, ``v1_source``) checks its records and hands over batches of rows
(``ResultWriter.write_rows``); the writer stores each batch in its own transaction, on
PostgreSQL in background threads with ``COPY`` (``backend.dialects.prepare_bulk_insert``),
and commits batches in the order they were given, so what is committed is always a prefix
of the source's batches: an interrupted or refused import leaves the target consistent.
"""

from __future__ import annotations

import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table

from backend.bulk.report import ImportReport, first_line
from backend.dialects import prepare_bulk_insert
from backend.result_finding.flatten import document_shape


@dataclass
class ResultBatch:
    """A batch's results, ready to be written (``prepare_bulk_insert``) in one transaction."""

    first_line: int
    last_line: int
    results: int
    writes: list[Callable[[Connection], None]]
    #: Its place in the file: batches commit in this order.
    sequence: int = 0


class WriteFailed(Exception):
    """The database refused a batch of results (a concurrent deletion, for instance)."""

    def __init__(self, batch: ResultBatch, error: Exception) -> None:
        super().__init__(
            f"the database refused lines {batch.first_line}-{batch.last_line}: {first_line(error)}"
        )
        self.last_line = batch.last_line


class ResultWriter:
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
        self.failure: WriteFailed | None = None
        self.queue: queue.Queue[ResultBatch | None] = queue.Queue(maxsize=1)
        self.sequence = 0
        self.committed = 0  # how many batches are done (committed, or given up)
        self.turn = threading.Condition()
        self.threads = [
            threading.Thread(target=self._run, name=f"import-writer-{n}", daemon=True)
            for n in range(writers)
        ]
        for thread in self.threads:
            thread.start()

    def write(self, batch: ResultBatch) -> None:
        """Store the batch (now, or soon in a thread); raise an earlier batch's failure."""
        self._raise_failure()
        batch.sequence, self.sequence = self.sequence, self.sequence + 1
        if not self.threads:
            self._store(batch)
            self._raise_failure()
        else:
            self.queue.put(batch)

    def write_rows(
        self,
        first_line: int,
        last_line: int,
        results: int,
        tables: Sequence[tuple[Table, Sequence[dict[str, Any]]]],
    ) -> None:
        """Store rows of several tables as one batch (in this order, in one transaction)
        that holds ``results`` results from ``first_line`` to ``last_line``. The rows are
        formatted here, in the caller's thread, so a writer thread holds Python's lock
        only briefly."""
        dialect = self.engine.dialect
        for table, rows in tables:
            if table.name == "results":
                for row in rows:
                    row.setdefault("json_shape", document_shape(row["json"]))
        self.write(
            ResultBatch(
                first_line,
                last_line,
                results,
                [prepare_bulk_insert(dialect, table, rows) for table, rows in tables if rows],
            )
        )

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

    def _store(self, batch: ResultBatch) -> None:
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
                    self.failure = WriteFailed(batch, error)
                self.committed += 1
                self.turn.notify_all()


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
