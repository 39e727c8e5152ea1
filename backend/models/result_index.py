"""What PostgreSQL keeps beside the results so that a million of them list fast.

Two derived tables, both maintained by triggers (migration ``0003``) in the transaction
that changes ``results`` or ``results_tags``, whatever does the change: the ORM, the bulk
importer's Core ``executemany``, ``COPY`` or plain SQL. Nothing in Python has to remember
to update them, so they cannot drift; ``rebuild()`` recomputes both from scratch anyway, for
an operator who loaded data with triggers disabled.

- ``result_counts``: how many visible (not hidden) results each (benchmark, site, flavor)
  has, overall (``tag_id = ALL_TAGS``) and per tag. A list total with no other filter than
  those ids and at most one tag is a sum over a few hundred rows instead of a COUNT over
  up to a million. Triggers append per-statement deltas to ``result_count_deltas``; a
  deferred trigger folds a transaction's deltas into ``result_counts`` at commit, in key
  order, so concurrent writers never deadlock on the counters and hold their locks only
  for the commit itself.
- ``result_numbers``: the numeric leaves of visible results at the paths their benchmark's
  JSON Schema declares as ``number``/``integer`` (``benchmark_number_paths``, derived from
  the schema by a trigger on ``benchmarks``). JSON filters and ``sort_by=json.<path>`` on
  such a path become btree range scans on (benchmark, path, value). A path is tracked for
  every result of its benchmark or for none, so the table is exact for tracked paths.
- ``benchmark_result_versions``: a number that grows with every committed change to a
  benchmark's results (or its tracked paths), bumped at commit with the counters. A total
  computed in the snapshot of version v stays exact for as long as the version is v, so
  range counts on ``result_numbers`` can be kept (``backend.indexed_results``).

SQLite (small installs) has the tables but no triggers; the code uses them on PostgreSQL
only and answers the same questions with plain queries on SQLite.
"""

from __future__ import annotations

import uuid

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    ForeignKey,
    Index,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    Uuid,
    text,
)

from backend.extensions import db

#: ``result_counts.tag_id`` of the rows that count all visible results, tagged or not.
ALL_TAGS = uuid.UUID(int=0)

result_counts = Table(
    "result_counts",
    db.metadata,
    Column("benchmark_id", Uuid, nullable=False),
    Column("site_id", Uuid, nullable=False),
    Column("flavor_id", Uuid, nullable=False),
    Column("tag_id", Uuid, nullable=False),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("benchmark_id", "site_id", "flavor_id", "tag_id"),
)

result_count_deltas = Table(
    "result_count_deltas",
    db.metadata,
    Column("txid", BigInteger, nullable=False, index=True),
    Column("benchmark_id", Uuid, nullable=False),
    Column("site_id", Uuid, nullable=False),
    Column("flavor_id", Uuid, nullable=False),
    Column("tag_id", Uuid, nullable=False),
    Column("n", BigInteger, nullable=False),
)

result_count_pending = Table(
    "result_count_pending",
    db.metadata,
    Column("txid", BigInteger, primary_key=True, autoincrement=False),
)

benchmark_result_versions = Table(
    "benchmark_result_versions",
    db.metadata,
    Column("benchmark_id", Uuid, primary_key=True),
    Column("version", BigInteger, nullable=False),
)

benchmark_number_paths = Table(
    "benchmark_number_paths",
    db.metadata,
    Column(
        "benchmark_id",
        Uuid,
        ForeignKey("benchmarks.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # A jsonpath without mode: $."machine"."cpu"."count" (keys JSON-quoted).
    Column("path", Text, nullable=False),
    PrimaryKeyConstraint("benchmark_id", "path"),
)

result_numbers = Table(
    "result_numbers",
    db.metadata,
    # No foreign key: only the triggers on results write these rows, and delete them with
    # their result (migration 0004).
    Column("result_id", Uuid, nullable=False),
    Column("benchmark_id", Uuid, nullable=False),
    Column("path", Text, nullable=False),
    # numeric, not float: the same comparisons as jsonpath's on the JSONB document.
    Column("value", Numeric, nullable=False),
    PrimaryKeyConstraint("result_id", "path"),
    Index(
        "ix_result_numbers_benchmark_id_path_value_result_id",
        "benchmark_id",
        "path",
        "value",
        "result_id",
    ),
)


def rebuild(connection: Connection) -> None:
    """Recompute ``result_counts`` and ``result_numbers`` from ``results`` (PostgreSQL).

    Not needed after ordinary writes (the triggers keep both exact); for repairs, or after
    loading data with ``session_replication_role = replica`` (triggers off). Blocks writers to
    ``results`` and ``results_tags`` until the transaction ends, so nothing changes meanwhile.
    """
    connection.execute(text("LOCK TABLE results, results_tags IN SHARE MODE"))
    connection.execute(text("SELECT result_index_rebuild()"))


def counts_agree(connection: Connection) -> bool:
    """Whether ``result_counts`` equals a fresh count of visible results (PostgreSQL)."""
    return bool(connection.execute(text("SELECT result_index_counts_agree()")).scalar_one())


def numbers_agree(connection: Connection) -> bool:
    """Whether ``result_numbers`` equals the tracked leaves of visible results (PostgreSQL)."""
    return bool(connection.execute(text("SELECT result_index_numbers_agree()")).scalar_one())


__all__ = [
    "ALL_TAGS",
    "benchmark_number_paths",
    "benchmark_result_versions",
    "counts_agree",
    "numbers_agree",
    "rebuild",
    "result_count_deltas",
    "result_count_pending",
    "result_counts",
    "result_numbers",
]
