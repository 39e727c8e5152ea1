"""A flask-mailman backend that writes messages to the log instead of sending them.

It is the backend when no ``MAIL_SERVER`` is set, so that a service without a mail relay
runs and still shows what it would send. Unlike flask-mailman's console backend, which
prints the raw message on stdout, each message is one log record: JSON logs stay one
object per line.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from flask_mailman import EmailMessage
from flask_mailman.backends.base import BaseEmailBackend

logger = logging.getLogger(__name__)


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            headers = {
                "To": ", ".join(message.to),
                "Cc": ", ".join(message.cc),
                "Subject": message.subject,
                **message.extra_headers,
            }
            text = "\n".join(f"{name}: {value}" for name, value in headers.items() if value)
            logger.info("Email not sent (no MAIL_SERVER set):\n%s\n\n%s", text, message.body)
        return len(email_messages)
