"""Delivery of the outbox over SMTP, always outside the request that caused a message.

Who delivers:

- with ``NOTIFICATIONS_DELIVERY=thread`` (default) each process runs a background thread,
  started on the first request (or first commit of a message), woken right after every
  commit that wrote outbox rows and otherwise looking every ``NOTIFICATIONS_POLL_SECONDS``;
- ``flask --app backend notifications deliver [--loop]`` delivers from a separate process.

Any number of deliverers may run at once on one database. Each first *claims* a small batch
of due messages in one short transaction (``claimed_by``/``claimed_until``; on PostgreSQL the
candidate rows are picked with ``FOR UPDATE SKIP LOCKED``, on SQLite the single atomic
UPDATE re-checks that the rows are free), then sends them with no transaction open. A
message is marked sent only after the SMTP server accepted it; a failure is recorded and
retried with exponential back-off. If a deliverer dies after the server accepted a message
but before marking it, the claim expires and the message is sent again: delivery is at
least once, and every message carries a stable ``Message-ID`` so duplicates show as such.
"""

from __future__ import annotations

import atexit
import logging
import os
import smtplib
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app, has_app_context
from flask_mailman import EmailMultiAlternatives
from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

from backend.extensions import db, mail
from backend.models.types import utc_now
from backend.notifications.outbox import OutboxMessage

logger = logging.getLogger(__name__)

#: How long a deliverer holds the messages it claimed: far longer than sending a batch
#: takes (each SMTP step is bounded by MAIL_TIMEOUT), short enough that the messages of a
#: deliverer that died go out again within minutes.
CLAIM_SECONDS = 300
#: Messages claimed at once: few, so a slow batch stays well within its claim.
BATCH_SIZE = 10
#: Session.info key: this session flushed outbox rows since its last commit.
_OUTBOX_WRITTEN = "notifications.outbox_written"

#: Errors that concern one message only; the connection stays usable for the next one.
MESSAGE_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)


@dataclass
class DeliveryReport:
    """What one delivery round did."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0

    def __iadd__(self, other: DeliveryReport) -> DeliveryReport:
        self.claimed += other.claimed
        self.sent += other.sent
        self.failed += other.failed
        return self


def retry_delay(attempts: int, first_seconds: float, max_seconds: float) -> timedelta:
    """Wait before attempt ``attempts + 1``: doubling from ``first_seconds`` up to
    ``max_seconds``, so a short outage costs little and a long one does not hammer the
    server."""
    doublings = min(max(attempts - 1, 0), 32)  # past the cap anyway; keeps the float finite
    return timedelta(seconds=min(first_seconds * 2**doublings, max_seconds))


def deliver_all(
    *, batch_size: int = BATCH_SIZE, stop: threading.Event | None = None
) -> DeliveryReport:
    """Deliver every message due now, batch after batch, until none is left or ``stop``
    is set. Messages that fail are rescheduled into the future, so this always ends.

    Needs an app context; the CLI and the delivery thread call it.
    """
    due_by = utc_now()
    report = DeliveryReport()
    while not (stop and stop.is_set()):
        batch = deliver_batch(due_by=due_by, batch_size=batch_size, stop=stop)
        report += batch
        if batch.claimed < batch_size:
            break
    return report


def deliver_batch(
    *,
    due_by: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    stop: threading.Event | None = None,
) -> DeliveryReport:
    """Claim up to ``batch_size`` messages due by ``due_by`` (default: now), send them over
    one SMTP connection and record each outcome."""
    worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    messages = claim(worker, due_by or utc_now(), batch_size)
    report = DeliveryReport(claimed=len(messages))
    if not messages:
        return report
    connection = mail.get_connection(fail_silently=False)
    broken: Exception | None = None
    try:
        try:
            connection.open()  # one connection for the batch, kept across message errors
        except OSError as error:
            broken = error
        for index, (message_id, attempts, email) in enumerate(messages):
            if stop is not None and stop.is_set():
                release(worker, [m[0] for m in messages[index:]])
                break
            error = broken
            if broken is None:
                try:
                    connection.send_messages([email])
                except MESSAGE_ERRORS as message_error:
                    error = message_error
                except OSError as connection_error:
                    # Refused, timed out or dropped: the rest of the batch would meet the
                    # same fate one timeout after another, so it waits for the next round.
                    error = broken = connection_error
                except Exception as bug:
                    logger.exception("Cannot send notification %s", message_id)
                    error = bug
            if error is None:
                record_sent(worker, message_id)
                report.sent += 1
            else:
                record_failure(worker, message_id, attempts, error)
                report.failed += 1
    finally:
        try:
            connection.close()
        except Exception:  # the connection is gone anyway
            logger.debug("Closing the SMTP connection failed", exc_info=True)
    return report


def claim(
    worker: str, due_by: datetime, batch_size: int
) -> list[tuple[uuid.UUID, int, EmailMultiAlternatives]]:
    """Mark up to ``batch_size`` due, unclaimed messages as held by ``worker`` and return
    them as (id, attempts, email) — committed, so that no transaction stays open while
    talking to the SMTP server."""
    now = utc_now()
    free = or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now)
    due = (
        select(OutboxMessage.id)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= due_by, free)
        .order_by(OutboxMessage.next_attempt_at)
        .limit(batch_size)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite serialises writers anyway
    )
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(due), free)
        .values(claimed_by=worker, claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    rows = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.claimed_by == worker, OutboxMessage.sent_at.is_(None))
        .order_by(OutboxMessage.next_attempt_at)
    ).all()
    messages = [(row.id, row.attempts, build_email(row)) for row in rows]
    db.session.commit()
    return messages


def build_email(message: OutboxMessage) -> EmailMultiAlternatives:
    """The email of an outbox row, with ``Resource-ID`` and a Message-ID made from the
    row's id (the same on every attempt)."""
    sender = current_app.config["MAIL_FROM"]
    domain = sender.rpartition("@")[2] or "localhost"
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        from_email=sender,
        to=list(message.to),
        cc=list(message.cc),
        headers={
            "Resource-ID": str(message.resource_id),
            "Message-ID": f"<{message.id}@{domain}>",
        },
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    return email


def record_sent(worker: str, message_id: uuid.UUID) -> None:
    """Mark the message sent (the SMTP server accepted it) and free it."""
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.claimed_by == worker)
        .values(
            sent_at=utc_now(),
            attempts=OutboxMessage.attempts + 1,
            last_error=None,
            claimed_by=None,
            claimed_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount == 0:
        logger.warning("Notification %s was sent after its claim expired.", message_id)


def record_failure(worker: str, message_id: uuid.UUID, attempts: int, error: Exception) -> None:
    """Count the attempt, keep the error and schedule the next attempt (or give up)."""
    config = current_app.config
    attempts += 1
    text = f"{type(error).__name__}: {error}"[:2000]
    if attempts >= config["NOTIFICATIONS_MAX_ATTEMPTS"]:
        next_attempt_at = None
        logger.error("Giving up notification %s after %d attempts: %s", message_id, attempts, text)
    else:
        delay = retry_delay(
            attempts,
            config["NOTIFICATIONS_RETRY_SECONDS"],
            config["NOTIFICATIONS_RETRY_MAX_SECONDS"],
        )
        next_attempt_at = utc_now() + delay
        logger.warning(
            "Notification %s failed (attempt %d), retrying in %s: %s",
            message_id,
            attempts,
            delay,
            text,
        )
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.claimed_by == worker)
        .values(
            attempts=attempts,
            last_error=text,
            next_attempt_at=next_attempt_at,
            claimed_by=None,
            claimed_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def release(worker: str, message_ids: list[uuid.UUID]) -> None:
    """Give back claimed messages that were not tried, so another deliverer takes them now."""
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(message_ids), OutboxMessage.claimed_by == worker)
        .values(claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def deliver_forever(app: Flask, stop: threading.Event, wake: threading.Event) -> None:
    """Deliver what is due, then wait for ``wake`` or the poll interval; until ``stop``.

    Each round has its own app context, hence its own database session: an error (the
    database restarting...) is logged and the next round starts clean.
    """
    poll_seconds = app.config["NOTIFICATIONS_POLL_SECONDS"]
    while not stop.is_set():
        wake.clear()
        try:
            with app.app_context():
                deliver_all(stop=stop)
        except Exception:
            logger.exception("Delivering notifications failed; trying again later")
        wake.wait(poll_seconds)


class DeliveryThread:
    """The deliverer of one app in this process: a daemon thread started on first need.

    Starting lazily (first request, or first commit of a message) rather than in
    ``create_app`` keeps the thread out of CLI commands and out of a pre-fork master
    process; after a fork, the child starts its own.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._pid == os.getpid() and self._thread.is_alive()

    def ensure_started(self) -> None:
        """Start the thread unless it runs in this process (or was stopped on purpose)."""
        if self.running or self._stop.is_set():
            return
        with self._lock:
            if self.running or self._stop.is_set():
                return
            first_start = self._thread is None
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=deliver_forever,
                args=(self.app, self._stop, self._wake),
                name="notifications-delivery",
                daemon=True,
            )
            self._thread.start()
            if first_start:
                atexit.register(self.stop)

    def wake(self) -> None:
        """Deliver now: called right after a commit that wrote outbox rows."""
        self.ensure_started()
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Let the thread finish the message it is sending, give back the rest, and end."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(self.app.config["MAIL_TIMEOUT"] if timeout is None else timeout)


def init_app(app: Flask) -> None:
    """Give ``app`` its deliverer (``app.extensions["notifications"]``; None when
    NOTIFICATIONS_DELIVERY=off) and start it with the first request."""
    deliverer = DeliveryThread(app) if app.config["NOTIFICATIONS_DELIVERY"] == "thread" else None
    app.extensions["notifications"] = deliverer
    if deliverer is not None:
        app.before_request(deliverer.ensure_started)


@event.listens_for(Session, "after_flush")
def _note_outbox_rows(session: Session, flush_context) -> None:
    if any(isinstance(instance, OutboxMessage) for instance in session.new):
        session.info[_OUTBOX_WRITTEN] = True


@event.listens_for(Session, "after_soft_rollback")
def _forget_outbox_rows(session: Session, previous_transaction) -> None:
    session.info.pop(_OUTBOX_WRITTEN, None)


@event.listens_for(Session, "after_commit")
def _wake_deliverer(session: Session) -> None:
    """Wake this app's deliverer once the messages are committed, hence visible to it."""
    if session.info.pop(_OUTBOX_WRITTEN, False) and has_app_context():
        deliverer = current_app.extensions.get("notifications")
        if deliverer is not None:
            deliverer.wake()
