"""``flask --app backend import FILE``, ``export FILE`` and ``import-v1 SOURCE_URL``.

The terminal side of ``backend.bulk``: options, the progress display and exit codes.
The format and the rules are in docs/import-export.md and docs/migrating-from-v1.md.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import IO, Any, TextIO

import click
import marshmallow as ma
from flask import Flask
from flask.cli import with_appcontext

from backend.bulk.export import export_records, write_records
from backend.bulk.jsonl import import_records
from backend.bulk.progress import CountedLines, ImportProgress, file_size
from backend.bulk.report import ImportReport, count_phrase
from backend.bulk.v1_source import V1SourceRefused, import_v1
from backend.errors import DomainError
from backend.schemas.common import AwareDateTime


def register(app: Flask) -> None:
    """Attach ``import`` and ``export`` to the app's CLI."""
    app.cli.add_command(import_command)
    app.cli.add_command(export_command)
    app.cli.add_command(import_v1_command)


def batch_size_option(what: str) -> Callable[[Callable], Callable]:
    """``--batch-size``: how many lines or results each transaction holds."""
    return click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        default=5000,
        show_default=True,
        help=f"{what} per transaction.",
    )


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
@batch_size_option("Lines")
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
    display = ImportProgress(sys.stderr, total_bytes=file_size(file))
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


@click.command("import-v1")
@click.argument("source_url")
@click.option("--dry-run", is_flag=True, help="Read and check everything; write nothing.")
@click.option("--strict", is_flag=True, help="Stop at the first problem with a row.")
@batch_size_option("Results")
@with_appcontext
def import_v1_command(source_url: str, dry_run: bool, strict: bool, batch_size: int) -> None:
    """Take over an EOSC Performance v1.2.x database, ids and all.

    SOURCE_URL is the v1 PostgreSQL database (postgresql://user@host/db); it is only read,
    in one read-only transaction. Copies what this database does not hold yet, so it can
    run while v1 serves and once more after v1 stopped (docs/migrating-from-v1.md). Rows
    that cannot be stored are reported with their id; the exit code is 1 if any was
    skipped.
    """
    display = ImportProgress(sys.stderr, total_bytes=None)

    def progress(report: ImportReport, done: int, total: int) -> None:
        display.total_bytes = total or None
        display.update(report, bytes_read=done)

    try:
        report = import_v1(
            source_url,
            dry_run=dry_run,
            strict=strict,
            batch_size=batch_size,
            progress=progress,
            on_message=display.message,
        )
    except V1SourceRefused as error:
        raise click.ClickException(error.message) from None
    display.finish(report)
    if dry_run:
        click.echo("dry run: nothing was written", err=True)
    if not report.ok:
        raise SystemExit(1)
