"""The notifications the service sends: one function per event of the table in API-V1.md.

Each function renders its message from ``templates/`` and adds it to the outbox in the
current session, so it is committed (or rolled back) together with the change that caused
it; nothing is sent here, and nothing is sent for a change that fails. The models' workflow
methods (``User.register``, ``NeedsApprove.submit/approve/reject``, ``HasClaims.claim``,
``Claim.reject``) announce domain events through ``backend.models.events``; ``subscribe``
(called at app start) connects these functions to them. Items created another way
(imports, fixtures) send nothing.

Messages about a resource go to its uploader with the support address (``MAIL_SUPPORT``)
in copy; a resource whose uploader was removed sends nothing.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from flask import current_app
from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound

from backend.extensions import db
from backend.models import events as model_events
from backend.notifications.outbox import OutboxMessage

if TYPE_CHECKING:
    from backend.models import Claim, Result, User

logger = logging.getLogger(__name__)

_templates = Environment(
    loader=PackageLoader("backend.notifications", "templates"),
    autoescape=lambda name: bool(name and name.endswith(".html")),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def user_welcome(user: User) -> OutboxMessage:
    """Welcome a newly registered user."""
    return _queue("user_welcome", user.id, to=[user.email], cc=[], user=user)


def email_updated(user: User) -> OutboxMessage:
    """Confirm a changed email address, at the new address."""
    return _queue("email_updated", user.id, to=[user.email], cc=[], user=user)


def resource_submitted(resource: Any) -> OutboxMessage | None:
    """Acknowledge a site, flavor or benchmark submitted for review."""
    return _queue_to_uploader("resource_submitted", resource)


def resource_approved(resource: Any) -> OutboxMessage | None:
    """Tell the uploader that an admin approved their submission or claim."""
    return _queue_to_uploader("resource_approved", resource)


def resource_rejected(resource: Any) -> OutboxMessage | None:
    """Tell the uploader that an admin rejected (deleted) their submission or claim."""
    return _queue_to_uploader("resource_rejected", resource)


def result_claimed(result: Result, claim: Claim) -> OutboxMessage | None:
    """Tell a result's uploader that someone claimed it is wrong, and why."""
    return _queue_to_uploader("result_claimed", result, claim=claim)


def claim_rejected_result_restored(result: Result) -> OutboxMessage | None:
    """Tell a result's uploader that its last claim was rejected and it is listed again."""
    return _queue_to_uploader("claim_rejected_result_restored", result)


def subscribe() -> None:
    """Turn the models' announcements into outbox rows, in the announcing session.

    The signals are process-wide and connecting the same receiver again is a no-op, so
    every app may call this at start.
    """
    for signal, receiver in _RECEIVERS:
        signal.connect(receiver, weak=False)


def _on_result_claimed(result: Result, *, claim: Claim) -> None:
    result_claimed(result, claim)


_RECEIVERS = (
    (model_events.user_registered, user_welcome),
    (model_events.email_changed, email_updated),
    (model_events.resource_submitted, resource_submitted),
    (model_events.resource_approved, resource_approved),
    (model_events.resource_rejected, resource_rejected),
    (model_events.result_claimed, _on_result_claimed),
    (model_events.result_restored, claim_rejected_result_restored),
)


def describe(resource: Any) -> str:
    """How messages name a resource: ``site "CESNET-MCC"``, ``claim on result <id>``..."""
    kind = resource.resource_type
    if kind == "flavor":
        return f'flavor "{resource.name}" of site "{resource.site.name}"'
    if kind == "claim":
        return f"claim on result {resource.resource_id}"
    if kind == "result":
        return f"result {resource.id}"
    return f'{kind} "{resource.name}"'


def render(event: str, **context: Any) -> tuple[str, str, str | None]:
    """The subject, plain-text body and HTML body (None without an HTML template) of
    ``event``. The text template starts with a ``Subject:`` line and a blank line, so it
    reads like the email it makes."""
    config = current_app.config
    context = {"service": config["API_TITLE"], "support": config.get("MAIL_SUPPORT"), **context}
    text = _templates.get_template(f"{event}.txt").render(context)
    head, _, body = text.partition("\n\n")
    if not head.startswith("Subject:"):
        raise ValueError(f"Template {event}.txt must start with a 'Subject:' line.")
    # One line, whatever a resource name contains: a header cannot span lines.
    subject = " ".join(head.removeprefix("Subject:").split())
    try:
        html = _templates.get_template(f"{event}.html").render(context)
    except TemplateNotFound:
        html = None
    return subject, body.strip() + "\n", html


def _queue_to_uploader(event: str, resource: Any, **context: Any) -> OutboxMessage | None:
    """Queue ``event`` about ``resource`` to its uploader, with support in copy."""
    uploader = resource.uploader
    if uploader is None:
        logger.info("No %s message for %r: its uploader was removed.", event, resource)
        return None
    support = current_app.config.get("MAIL_SUPPORT")
    return _queue(
        event,
        resource.id,
        to=[uploader.email],
        cc=[support] if support else [],
        resource=resource,
        what=describe(resource),
        uploader=uploader,
        **context,
    )


def _queue(
    event: str, resource_id: uuid.UUID, *, to: list[str], cc: list[str], **context: Any
) -> OutboxMessage:
    if resource_id is None:
        raise ValueError(f"{event}: give the resource its id before queueing a message on it.")
    subject, body_text, body_html = render(event, resource_id=resource_id, **context)
    message = OutboxMessage(
        event=event,
        to=to,
        cc=cc,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        resource_id=resource_id,
    )
    db.session.add(message)
    return message
