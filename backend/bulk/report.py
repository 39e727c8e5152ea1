"""What an import did and said: line messages, the report and its summary.

Shared by every source (``jsonl``, ``v1_source``): a problem with one record is a
``LineMessage`` whose ``line`` is the line number (JSON Lines) or the row's position in
the source; ``ImportReport`` counts what was committed.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import marshmallow as ma

#: The record kinds, in the order an export writes them (each refers only to earlier ones)
#: and a summary counts them. A new kind goes here too (see the package docstring).
RECORD_TYPES = (
    "user",
    "tag",
    "site",
    "flavor",
    "benchmark",
    "result",
    "experiment",
    "config",
    "qps",
    "latencies",
)
#: How many errors and warnings a report keeps; the counts stay exact beyond.
KEPT_MESSAGES = 1000


class BadRecord(Exception):
    """A record that cannot be imported; the message says why."""


@dataclass(frozen=True)
class LineMessage:
    """An error (the line was not imported) or a warning (it was, with a remark)."""

    line: int
    message: str
    is_error: bool = True
    #: What the message is about where a line number says little (``result <id>`` of a
    #: database source); ``line <n>`` when None.
    where: str | None = None

    def __str__(self) -> str:
        where = self.where or f"line {self.line}"
        return f"{where}: {'error' if self.is_error else 'warning'}: {self.message}"


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
    #: What ``lines`` counts: lines of a file, or rows of a database source.
    unit: str = "lines"

    @property
    def aborted(self) -> bool:
        return self.aborted_at is not None

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.aborted

    def summary(self) -> str:
        rate = self.results / self.elapsed if self.elapsed else 0.0
        lines = [
            f"{self.lines} {self.unit} in {self.elapsed:.1f} s: {self.results} results imported "
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
                f"ABORTED at {self.unit.removesuffix('s')} {self.aborted_at}: nothing from its "
                "batch on was written"
            )
        elif self.failed:
            lines.append(
                f"{self.failed} {self.unit} failed (not imported); the others were imported"
            )
        return "\n".join(lines)

    def tell(self, message: LineMessage) -> None:
        """Count and keep ``message`` (the first ``KEPT_MESSAGES`` of each sort)."""
        if message.is_error:
            self.failed += 1
        else:
            self.warned += 1
        kept = self.errors if message.is_error else self.warnings
        if len(kept) < KEPT_MESSAGES:
            kept.append(message)


def count_phrase(counts: Counter[str]) -> str:
    """``3 sites, 1 benchmark`` in record-type order (other kinds after); ``none`` if empty."""
    kinds = [kind for kind in RECORD_TYPES if counts[kind]]
    kinds += [kind for kind in counts if kind not in RECORD_TYPES and counts[kind]]
    return ", ".join(f"{counts[kind]} {_plural(kind, counts[kind])}" for kind in kinds) or "none"


def _plural(kind: str, count: int) -> str:
    """``sites``; ``qps`` and ``latencies`` (a job's list) stay as they are."""
    return kind if count == 1 or kind in {"qps", "latencies"} else f"{kind}s"


def first_line(error: Exception) -> str:
    """The database's own message (psycopg2's come with context lines after it)."""
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def reason(error: Exception) -> str:
    """What to tell about a record that raised ``error``."""
    if isinstance(error, json.JSONDecodeError):
        return f"invalid JSON: {error}"
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8: {error}"
    return getattr(error, "message", None) or str(error)


def validation_message(error: ma.ValidationError) -> str:
    """A marshmallow error as one line: ``name: problem; other: problem``."""
    messages = error.messages
    if isinstance(messages, dict):
        return "; ".join(
            f"{name}: {' '.join(map(str, problems)) if isinstance(problems, list) else problems}"
            for name, problems in messages.items()
        )
    return " ".join(map(str, messages))
