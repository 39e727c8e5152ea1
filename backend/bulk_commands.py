"""``flask --app backend import FILE`` and ``flask --app backend export FILE``.

The terminal side of ``backend.bulk``: options, the progress display and exit codes.
The format and the rules are in docs/import-export.md.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any, TextIO

import click
import marshmallow as ma
from flask import Flask
from flask.cli import with_appcontext

from backend.bulk import (
    ImportReport,
    LineMessage,
    count_phrase,
    export_records,
    import_records,
    write_records,
)
from backend.errors import DomainError
from backend.schemas.common import AwareDateTime


def register(app: Flask) -> None:
    """Attach ``import`` and ``export`` to the app's CLI."""
    app.cli.add_command(import_command)
    app.cli.add_command(export_command)


@click.command("import")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--uploader",
    nargs=2,
    metavar="SUB ISS",
    help="Registered user (OIDC sub and issuer) for records that name no uploader.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Stop at the first bad line; nothing from its batch on is written.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="Lines per transaction.",
)
@click.option(
    "--skip-existing-results",
    is_flag=True,
    help="Do not store a result equal to a stored one (same benchmark, flavor, execution "
    "time, uploader and document), e.g. when importing a file again.",
)
@with_appcontext
def import_command(
    file: IO[bytes],
    uploader: tuple[str, str] | None,
    strict: bool,
    batch_size: int,
    skip_existing_results: bool,
) -> None:
    """Import users, tags, sites, flavors, benchmarks and results from JSON Lines.

    FILE is a path or - for standard input. Bad lines are reported with their number
    and skipped; the exit code is 1 if any line failed.
    """
    lines = CountedLines(file)
    display = ImportProgress(sys.stderr, total_bytes=_size(file))
    report = import_records(
        lines,
        strict=strict,
        uploader=uploader,
        batch_size=batch_size,
        skip_existing_results=skip_existing_results,
        progress=lambda report: display.update(report, lines.bytes_read),
        on_message=display.message,
    )
    display.finish(report)
    if not report.ok:
        raise SystemExit(1)


def _parse_since(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        return AwareDateTime().deserialize(value)
    except ma.ValidationError as error:
        raise click.BadParameter(" ".join(error.messages)) from None


@click.command("export")
@click.argument("file", type=click.File("w", encoding="utf-8"))
@click.option("--benchmark", metavar="IMAGE:TAG", help="Only this benchmark's results.")
@click.option(
    "--since",
    metavar="DATETIME",
    callback=_parse_since,
    help="Only results uploaded at or after this ISO 8601 time (no offset means UTC).",
)
@with_appcontext
def export_command(file: TextIO, benchmark: str | None, since: datetime | None) -> None:
    """Export the catalogue and the results as JSON Lines (the import format).

    FILE is a path or - for standard output. Claims, and results hidden by a claim,
    are not exported.
    """
    try:
        counts = write_records(export_records(benchmark=benchmark, since=since), file)
    except DomainError as error:
        raise click.BadParameter(error.message, param_hint="--benchmark") from None
    click.echo(f"exported {count_phrase(counts)}", err=True)


class CountedLines:
    """The lines of a binary file, counting the bytes read (for progress and ETA)."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.bytes_read = 0

    def __iter__(self) -> Iterator[bytes]:
        for line in self.file:
            self.bytes_read += len(line)
            yield line


def _size(file: IO[bytes]) -> int | None:
    """The size of a regular file, None for a pipe or terminal (no ETA then)."""
    try:
        status = os.fstat(file.fileno())
    except (OSError, ValueError, AttributeError):  # no file descriptor (tests' streams)
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


class ImportProgress:
    """Progress of an import on ``stream``: on a terminal a redrawn bar with rate and ETA,
    elsewhere (logs, CI) a plain line every ``PLAIN_EVERY`` seconds."""

    PLAIN_EVERY = 10.0
    REDRAW_EVERY = 0.2
    WIDTH = 30

    def __init__(self, stream: TextIO, total_bytes: int | None) -> None:
        self.stream = stream
        self.total_bytes = total_bytes or None
        self.is_tty = stream.isatty()
        self.started = time.monotonic()
        self.shown_at = self.started
        self.drawn = False

    def update(self, report: ImportReport, bytes_read: int) -> None:
        now = time.monotonic()
        every = self.REDRAW_EVERY if self.is_tty else self.PLAIN_EVERY
        if now - self.shown_at < every:
            return
        self.shown_at = now
        status = self._status(report, bytes_read, now - self.started)
        if self.is_tty:
            self.stream.write("\r\x1b[K" + status)
            self.drawn = True
        else:
            self.stream.write(status + "\n")
        self.stream.flush()

    def _status(self, report: ImportReport, bytes_read: int, elapsed: float) -> str:
        rate = report.results / elapsed if elapsed else 0.0
        counts = f"{report.lines:,} lines  {report.results:,} results  {rate:,.0f}/s"
        if report.failed:
            counts += f"  {report.failed:,} failed"
        if not self.total_bytes:
            return counts
        done = min(bytes_read / self.total_bytes, 1.0)
        eta = elapsed * (1 - done) / done if done else 0.0
        if self.is_tty:
            filled = int(done * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            return f"[{bar}] {done:4.0%}  {counts}  ETA {_duration(eta)}"
        return f"{done:.0%}  {counts}  ETA {_duration(eta)}"

    def message(self, message: LineMessage) -> None:
        self._clear()
        self.stream.write(f"{message}\n")
        self.stream.flush()

    def finish(self, report: ImportReport) -> None:
        self._clear()
        self.stream.write(report.summary() + "\n")
        self.stream.flush()

    def _clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.drawn = False


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"
