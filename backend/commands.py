"""``flask --app backend <command>``: operator commands."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from backend.bulk import commands as bulk_commands
from backend.errors import first_line
from backend.extensions import db
from backend.notifications.cli import notifications_cli

logger = logging.getLogger(__name__)


def register(app: Flask) -> None:
    """Attach the CLI commands to the app."""
    # Imported here: the artifacts commands use this module's ``seconds_option``.
    from backend.artifact_stores.commands import artifacts_cli

    app.cli.add_command(db_wait)
    app.cli.add_command(notifications_cli)
    app.cli.add_command(artifacts_cli)
    bulk_commands.register(app)
    if click.get_current_context(silent=True) is not None:
        lift_statement_timeout(app)


def lift_statement_timeout(app: Flask) -> None:
    """No DB_STATEMENT_TIMEOUT for an app the flask CLI made: a migration waiting for
    another replica's migration lock, an import or an export take as long as they need.

    (The app is made inside the CLI's click context; gunicorn makes it outside any.)
    """
    with app.app_context():
        engines = list(db.engines.values())
    for engine in engines:
        if engine.dialect.name == "postgresql":
            event.listen(engine, "do_connect", _without_statement_timeout)


def _without_statement_timeout(dialect, connection_record, cargs, cparams) -> None:
    # A later -c overrides an earlier one for the same parameter.
    cparams["options"] = f"{cparams.get('options', '')} -c statement_timeout=0".strip()


def seconds_option(
    name: str, *, default: int, help: str, whole: bool = False
) -> Callable[[Callable], Callable]:
    """A duration option in seconds (``whole`` ones only, or any), at least 0, its default
    shown in ``--help``."""
    return click.option(
        name,
        type=click.IntRange(min=0) if whole else click.FloatRange(min=0),
        default=default,
        show_default=True,
        help=help,
    )


@click.command("db-wait")
@seconds_option("--timeout", default=60, help="Seconds to keep trying before giving up.")
@with_appcontext
def db_wait(timeout: float) -> None:
    """Wait until the database accepts connections, then exit 0 (1 after TIMEOUT seconds).

    The container entrypoint runs this before migrating: at a stack's first start the
    database container takes a while to accept connections.
    """
    where = db.engine.url.render_as_string(hide_password=True)
    deadline = time.monotonic() + timeout
    logger.info("Waiting up to %g s for the database at %s", timeout, where)
    while True:
        try:
            with db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except DBAPIError as error:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                logger.error(
                    "Gave up: the database at %s was not reachable within %g s (%s). "
                    "Check DATABASE_URL and that the database server is running.",
                    where,
                    timeout,
                    first_line(error.orig or error),
                )
                raise SystemExit(1) from None
            time.sleep(min(1.0, remaining))
        else:
            logger.info("The database at %s is reachable", where)
            return
