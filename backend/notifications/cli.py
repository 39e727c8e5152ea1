"""``flask --app backend notifications ...``: deliver the outbox from a separate process."""

from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from backend.notifications.delivery import deliver_all, deliver_forever

notifications_cli = AppGroup("notifications", help="Email notifications.")


@notifications_cli.command("deliver")
@click.option(
    "--loop",
    is_flag=True,
    help="Keep delivering, looking at the outbox every NOTIFICATIONS_POLL_SECONDS, "
    "until SIGTERM or Ctrl-C.",
)
def deliver_command(loop: bool) -> None:
    """Send the due messages of the outbox (once, or continuously with --loop).

    Safe beside the web processes' delivery threads and other deliverers: each message
    is claimed by one of them before it is sent.
    """
    if not loop:
        report = deliver_all()
        click.echo(f"{report.sent} sent, {report.failed} failed.")
        return
    stop, wake = threading.Event(), threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()
        wake.set()  # end the wait between rounds at once

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)
    deliver_forever(current_app._get_current_object(), stop, wake)
