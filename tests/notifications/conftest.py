"""A real SMTP server (aiosmtpd on 127.0.0.1) and apps that send to it.

The apps share the test database with the ``app`` fixture (no second migration); they are
built with delivery "off" unless a test asks for the thread, so that a test decides when
messages go out (``deliver``) and can assert on exactly what arrived.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from backend import create_app
from backend.extensions import db
from backend.notifications.delivery import DeliveryReport, deliver_all

SUPPORT = "support@example.org"
SENDER = "performance@example.org"


@dataclass
class Received:
    """One message as the SMTP server got it: envelope recipients and the parsed email."""

    recipients: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()


class SMTPServer:
    """An SMTP server on 127.0.0.1:``port`` that keeps what it accepts.

    Recipients starting with ``refused`` are refused (550), like an unknown mailbox;
    ``delay`` slows each message down, as a busy relay does.
    """

    def __init__(self, port: int, delay: float = 0.0) -> None:
        self.port = port
        self.delay = delay
        self.received: list[Received] = []
        self._changed = threading.Condition()
        self._controller = Controller(self, hostname="127.0.0.1", port=port)

    def start(self) -> SMTPServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refused"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._changed:
            self.received.append(Received(list(envelope.rcpt_tos), message))
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The messages received, once there are at least ``count`` (fails after timeout)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"{len(self.received)} of {count} messages arrived"
                self._changed.wait(remaining)
            return list(self.received)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer(free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def make_mail_app(app_settings) -> Iterator[Callable[..., Flask]]:
    """Build apps that mail ``127.0.0.1:port``; their delivery threads and database
    connections end with the test."""
    apps: list[Flask] = []

    def make(port: int, **overrides) -> Flask:
        settings = {
            **app_settings,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": port,
            "MAIL_FROM": SENDER,
            "MAIL_SUPPORT": SUPPORT,
            "MAIL_TIMEOUT": 2.0,
            "NOTIFICATIONS_DELIVERY": "off",
            **overrides,
        }
        apps.append(create_app(**settings))
        return apps[-1]

    yield make
    for app in apps:
        if app.extensions["notifications"] is not None:
            app.extensions["notifications"].stop(timeout=10)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def mail_app(make_mail_app, smtp_server) -> Flask:
    return make_mail_app(smtp_server.port)


@pytest.fixture
def mail_client(mail_app):
    return mail_app.test_client()


def deliver(app: Flask, **options) -> DeliveryReport:
    """Send what is due now, as ``flask notifications deliver`` does."""
    with app.app_context():
        return deliver_all(**options)
