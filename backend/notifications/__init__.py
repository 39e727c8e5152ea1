"""Email notifications (the table at the end of API-V1.md), sent reliably and never in a
request's way.

- ``events``: one function per event; renders the message from ``templates/`` and writes it
  to the outbox in the transaction of the change that caused it. ``init_app`` subscribes
  them to the models' announcements (``backend.models.events``).
- ``outbox``: the table of messages waiting to be sent.
- ``delivery``: sends due messages over SMTP (flask-mailman) from a background thread or the
  ``flask notifications deliver`` command, with retries and back-off.

See docs/notifications.md for operators.
"""

from flask import Flask

from backend.notifications import delivery, events


def init_app(app: Flask) -> None:
    """Subscribe to the models' events and give ``app`` its deliverer."""
    events.subscribe()
    delivery.init_app(app)


__all__ = ["init_app"]
