"""``flask --app backend artifacts gc``: the store and the artifact rows agree again.

Removes pending artifacts past their expiry (and any bytes they got), removes blobs that no
row names (left by a crash between writing a blob and committing its row, or by a delete
whose blob removal failed) once they are older than ``--grace-seconds`` (younger ones may
belong to an upload committing its row right now), and reports rows whose blob is missing.
"""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup
from sqlalchemy import select

from backend.artifact_stores import current_store
from backend.artifact_stores.catalog import remove_expired_pending
from backend.commands import seconds_option
from backend.extensions import db
from backend.models import Artifact, ArtifactState
from backend.models.types import utc_now

artifacts_cli = AppGroup("artifacts", help="Artifact store maintenance.")


@artifacts_cli.command("gc")
@seconds_option(
    "--grace-seconds",
    default=3600,
    whole=True,
    help="Blobs no row names are removed only when older than this.",
)
@click.option("--dry-run", is_flag=True, help="Report what would be removed; remove nothing.")
def collect_garbage(grace_seconds: int, dry_run: bool) -> None:
    """Remove expired pending artifacts and unnamed blobs; report rows without a blob."""
    now = utc_now()
    store = current_store()
    expired = 0 if dry_run else remove_expired_pending(now)
    named = set(db.session.scalars(select(Artifact.blob_key).where(Artifact.blob_key.is_not(None))))
    present: set[str] = set()
    unnamed = 0
    for key, modified in store.blobs():
        present.add(key)
        if key in named or modified > now - timedelta(seconds=grace_seconds):
            continue
        unnamed += 1
        click.echo(f"{'would remove' if dry_run else 'removed'} unnamed blob {key}")
        if not dry_run and not Artifact.blob_is_named(key):
            store.delete(key)
    missing = db.session.execute(
        select(Artifact.id, Artifact.blob_key).where(Artifact.state == ArtifactState.ready)
    ).all()
    # Checked again one by one: a row committed after the listing names a blob made after it.
    lost = [
        row
        for row in missing
        if row.blob_key not in present and not store.exists(row.blob_key or "")
    ]
    for row in lost:
        click.echo(f"artifact {row.id}: its blob {row.blob_key} is missing from the store")
    click.echo(
        f"{expired} expired pending artifact(s) removed, {unnamed} unnamed blob(s) "
        f"{'found' if dry_run else 'removed'}, {len(lost)} artifact(s) missing their blob."
    )
    if lost:
        raise SystemExit(1)
