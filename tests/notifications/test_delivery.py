"""Delivery of the outbox: never in a request's way, retried until the server takes it,
nothing sent for a failed change, each message sent once however many deliverers run."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from backend.extensions import db
from backend.notifications.delivery import deliver_batch, retry_delay
from backend.notifications.outbox import OutboxMessage
from tests.notifications.conftest import SENDER, SMTPServer, deliver, free_port

REPOSITORY = Path(__file__).resolve().parents[2]
SITE = {"name": "CESNET-MCC", "address": "mcc.cesnet.cz"}


def outbox() -> list[OutboxMessage]:
    """The outbox as committed now (by any app or thread), oldest first."""
    db.session.rollback()
    return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at)).all()


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def queue_messages(app, count: int, to: list[str] | None = None, **fields) -> None:
    """Put ``count`` due messages in the outbox directly, as events would."""
    start = datetime.now(UTC) - timedelta(minutes=1)
    with app.app_context():
        for n in range(count):
            db.session.add(
                OutboxMessage(
                    event="test",
                    to=to or [f"user{n}@example.org"],
                    cc=[],
                    subject=f"Message {n}",
                    body_text=f"Message number {n}.",
                    resource_id=uuid.uuid4(),
                    next_attempt_at=start + timedelta(milliseconds=n),
                    **fields,
                )
            )
        db.session.commit()


def test_a_commit_wakes_the_delivery_thread(make_mail_app, smtp_server, user_headers):
    app = make_mail_app(
        smtp_server.port, NOTIFICATIONS_DELIVERY="thread", NOTIFICATIONS_POLL_SECONDS=60
    )
    client = app.test_client()
    assert client.post("/sites", json=SITE, headers=user_headers).status_code == 201
    smtp_server.wait_for(1)

    # The thread now sleeps for a minute unless a commit wakes it.
    response = client.post("/sites", json={**SITE, "name": "IFCA"}, headers=user_headers)

    assert response.status_code == 201
    received = smtp_server.wait_for(2, timeout=5)
    assert received[1].message["Resource-ID"] == response.json["id"]


def test_smtp_server_down_request_is_fast_and_message_arrives_when_it_is_back(
    make_mail_app, token_headers
):
    port = free_port()  # nothing listens there yet
    app = make_mail_app(
        port,
        NOTIFICATIONS_DELIVERY="thread",
        NOTIFICATIONS_POLL_SECONDS=0.1,
        NOTIFICATIONS_RETRY_SECONDS=0.2,
        NOTIFICATIONS_RETRY_MAX_SECONDS=0.5,
    )

    started = time.monotonic()
    response = app.test_client().post("/users:register", headers=token_headers)

    assert response.status_code == 201
    assert time.monotonic() - started < 2
    wait_until(lambda: outbox()[0].attempts >= 1)
    (message,) = outbox()
    assert message.sent_at is None
    assert "ConnectionRefusedError" in message.last_error

    server = SMTPServer(port).start()
    try:
        (received,) = server.wait_for(1)
    finally:
        server.stop()
    assert received.recipients == ["newcomer@example.org"]
    wait_until(lambda: outbox()[0].sent_at is not None)
    (message,) = outbox()
    assert message.attempts >= 2
    assert message.last_error is None


def test_silent_smtp_server_slows_neither_request_nor_deliverer(make_mail_app, token_headers):
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        app = make_mail_app(
            silent.getsockname()[1],
            NOTIFICATIONS_DELIVERY="thread",
            NOTIFICATIONS_POLL_SECONDS=60,
            MAIL_TIMEOUT=1.0,
        )

        started = time.monotonic()
        response = app.test_client().post("/users:register", headers=token_headers)

        assert response.status_code == 201
        assert time.monotonic() - started < 1
        wait_until(lambda: outbox()[0].attempts == 1, timeout=5)
        (message,) = outbox()
        assert "timed out" in message.last_error
        assert message.next_attempt_at > datetime.now(UTC)
        assert message.claimed_by is None


def test_hanging_server_costs_one_timeout_per_batch_not_per_message(make_mail_app):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        app = make_mail_app(silent.getsockname()[1], MAIL_TIMEOUT=1.0)
        queue_messages(app, 5)

        started = time.monotonic()
        report = deliver(app)

        assert (report.sent, report.failed) == (0, 5)
        assert time.monotonic() - started < 2.5
        assert all(m.attempts == 1 and "timed out" in m.last_error for m in outbox())


def test_failed_change_sends_nothing(mail_app, mail_client, smtp_server, user_headers):
    assert mail_client.post("/sites", json=SITE, headers=user_headers).status_code == 201

    response = mail_client.post("/sites", json=SITE, headers=user_headers)

    assert response.status_code == 409
    assert len(outbox()) == 1
    assert deliver(mail_app).sent == 1
    assert len(smtp_server.received) == 1


def test_failed_registration_sends_no_second_welcome(
    mail_app, mail_client, smtp_server, token_headers
):
    assert mail_client.post("/users:register", headers=token_headers).status_code == 201

    response = mail_client.post("/users:register", headers=token_headers)

    assert response.status_code == 409
    assert deliver(mail_app).sent == 1
    assert len(smtp_server.received) == 1


def test_two_deliverer_threads_send_each_message_once(make_mail_app):
    server = SMTPServer(free_port(), delay=0.01).start()
    app = make_mail_app(server.port)
    queue_messages(app, 40)
    start = threading.Barrier(2)
    reports = []

    def deliverer() -> None:
        start.wait()
        reports.append(deliver(app, batch_size=3))

    threads = [threading.Thread(target=deliverer) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        server.stop()

    assert sum(report.sent for report in reports) == 40
    assert sum(report.failed for report in reports) == 0
    assert sorted(r.message["Subject"] for r in server.received) == sorted(
        f"Message {n}" for n in range(40)
    )
    assert len({r.message["Message-ID"] for r in server.received}) == 40
    assert all(m.sent_at is not None and m.attempts == 1 for m in outbox())


def test_two_deliverer_processes_send_each_message_once(make_mail_app, database_url):
    server = SMTPServer(free_port(), delay=0.02).start()
    app = make_mail_app(server.port)
    queue_messages(app, 60)
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": database_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(server.port),
        "MAIL_FROM": SENDER,
    }
    command = [sys.executable, "-m", "flask", "--app", "backend", "notifications", "deliver"]

    try:
        processes = [
            subprocess.Popen(command, env=env, cwd=REPOSITORY, stdout=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outputs = [process.communicate(timeout=60)[0] for process in processes]
    finally:
        server.stop()

    assert [process.returncode for process in processes] == [0, 0]
    assert sum(int(output.split()[0]) for output in outputs) == 60, outputs
    assert len(server.received) == 60
    assert len({r.message["Message-ID"] for r in server.received}) == 60
    assert all(m.sent_at is not None for m in outbox())


def test_refused_recipient_fails_only_its_message(mail_app, smtp_server):
    queue_messages(mail_app, 1, to=["refused@example.org"])
    queue_messages(mail_app, 1)

    report = deliver(mail_app)

    assert (report.sent, report.failed) == (1, 1)
    refused, sent = outbox()
    assert sent.sent_at is not None
    assert refused.sent_at is None
    assert refused.attempts == 1
    assert "SMTPRecipientsRefused" in refused.last_error
    in_30_seconds = datetime.now(UTC) + timedelta(seconds=30)
    assert abs(refused.next_attempt_at - in_30_seconds) < timedelta(seconds=5)
    assert [r.recipients for r in smtp_server.received] == [["user0@example.org"]]


def test_message_is_given_up_after_max_attempts(make_mail_app):
    app = make_mail_app(free_port(), NOTIFICATIONS_MAX_ATTEMPTS=2, NOTIFICATIONS_RETRY_SECONDS=0)
    queue_messages(app, 1)

    assert deliver(app).failed == 1
    assert deliver(app).failed == 1
    assert deliver(app).claimed == 0

    (message,) = outbox()
    assert message.attempts == 2
    assert message.next_attempt_at is None
    assert message.sent_at is None
    assert "ConnectionRefusedError" in message.last_error


def test_message_held_by_another_deliverer_waits_for_its_claim(mail_app, smtp_server):
    queue_messages(
        mail_app, 1, claimed_by="elsewhere", claimed_until=datetime.now(UTC) + timedelta(minutes=5)
    )

    assert deliver(mail_app).claimed == 0

    with mail_app.app_context():  # the other deliverer died; its claim expires
        db.session.execute(
            OutboxMessage.__table__.update().values(
                claimed_until=datetime.now(UTC) - timedelta(seconds=1)
            )
        )
        db.session.commit()
    assert deliver(mail_app).sent == 1
    assert len(smtp_server.received) == 1


def test_stopping_gives_back_untried_messages(mail_app, smtp_server):
    queue_messages(mail_app, 3)
    stop = threading.Event()
    stop.set()

    with mail_app.app_context():
        report = deliver_batch(stop=stop)

    assert (report.claimed, report.sent) == (3, 0)
    assert all(m.claimed_by is None and m.claimed_until is None for m in outbox())
    assert smtp_server.received == []


def test_without_mail_server_messages_go_to_the_log(app, client, token_headers, caplog):
    """The shared ``app`` has no MAIL_SERVER, like the embedded default."""
    caplog.set_level(logging.INFO, logger="backend.notifications")
    response = client.post("/users:register", headers=token_headers)

    assert response.status_code == 201
    assert deliver(app).sent == 1
    (record,) = [r for r in caplog.records if r.name == "backend.notifications.log_backend"]
    assert "To: newcomer@example.org" in record.getMessage()
    assert "Subject: Welcome to EOSC Performance API" in record.getMessage()
    assert f"Resource-ID: {outbox()[0].resource_id}" in record.getMessage()
    assert outbox()[0].sent_at is not None


def test_retry_delay_doubles_from_30_seconds_up_to_an_hour():
    delays = [retry_delay(attempts, 30, 3600).total_seconds() for attempts in range(1, 10)]

    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
