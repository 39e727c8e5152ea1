"""Bulk import and export of benchmark data: ``flask import``, ``flask export`` and
``flask import-v1`` (docs/import-export.md, docs/migrating-from-v1.md).

Each source is a small reader over one shared writer:

- ``jsonl``: the JSON Lines source of ``flask import`` (``import_records``); records refer
  to each other by name, catalogue items through ``catalogue``, experiments (``experiment``,
  ``config``, ``qps`` and ``latencies`` records) through ``experiments``.
- ``v1_source``: the source of ``flask import-v1`` (``import_v1``): a v1.2.x PostgreSQL
  database, read in one read-only snapshot, ids kept.
- ``writer``: the batched, ordered writer every source hands its rows to (``COPY`` in
  background threads on PostgreSQL; batches commit in order, so an interrupted import
  leaves a consistent prefix).
- ``report``: line messages, the import report and its summary.
- ``export``: ``export_records``, the database as JSON Lines records.
- ``progress`` and ``commands``: the terminal side (progress bar or log lines, exit codes).

Adding a record kind (as ``experiments`` did for issue 13): add its name to
``report.RECORD_TYPES`` (which is also the export order and the summary's order; a kind
may only refer to kinds before it), give ``jsonl.Importer`` a method of the same name
taking ``(line number, record)`` (the handler table is built from ``RECORD_TYPES``; raise
``BadRecord`` with a message saying what to fix), hand its rows to the writer in
``Importer.end_batch`` if it has many (``writer.write_rows``; small items may go through
``db.session`` like the catalogue), and add a method to ``export.Exporter.records``.
"""

from backend.bulk.export import export_records, write_records
from backend.bulk.jsonl import import_records
from backend.bulk.report import RECORD_TYPES, ImportReport, LineMessage, count_phrase
from backend.bulk.writer import time_ordered_uuid

__all__ = [
    "RECORD_TYPES",
    "ImportReport",
    "LineMessage",
    "count_phrase",
    "export_records",
    "import_records",
    "time_ordered_uuid",
    "write_records",
]
