"""One open claim per user and result: claiming again cannot flood the result's uploader
and the support mailbox (every claim mails both)."""

# ruff: noqa: F811  (test parameters named after the imported fixture)
import os
from datetime import UTC, datetime

import flask_migrate
import pytest
from sqlalchemy import func, select, text

from backend import create_app
from backend.devtools.databases import throwaway_database
from backend.errors import Conflict
from backend.extensions import db
from backend.models import Claim, ItemStatus
from backend.notifications.outbox import OutboxMessage
from backend.unit_of_work import commit
from factories import ClaimFactory, ResultFactory, UserFactory
from tests.support.concurrency import ROUNDS, at_once, racing_app, statuses  # noqa: F401


def claim(result, headers, message="Too fast"):
    url = f"/results/{result.id}:claim"
    return lambda client: client.post(url, json={"message": message}, headers=headers)


def claims_on(result) -> int:
    return db.session.scalar(select(func.count()).where(Claim.resource_id == result.id))


def claimed_messages(result) -> int:
    return db.session.scalar(
        select(func.count()).where(
            OutboxMessage.resource_id == result.id, OutboxMessage.event == "result_claimed"
        )
    )


def test_claiming_again_while_the_claim_is_open_is_a_conflict(client, user, user_headers):
    result = ResultFactory()
    assert claim(result, user_headers)(client).status_code == 201

    response = claim(result, user_headers, "Still too fast")(client)

    assert response.status_code == 409
    assert "already" in response.json["message"]
    assert "claim by you" in response.json["message"]
    assert claims_on(result) == 1
    assert claimed_messages(result) == 1


def test_other_users_may_still_claim(client, user_headers, admin_headers):
    result = ResultFactory()
    assert claim(result, user_headers)(client).status_code == 201

    assert claim(result, admin_headers)(client).status_code == 201

    assert claims_on(result) == 2


def test_after_a_rejection_the_user_may_claim_again(client, user, user_headers, admin_headers):
    first = ClaimFactory(uploader=user)
    result = first.resource
    assert (
        client.post(f"/reports/claims/{first.id}:reject", headers=admin_headers).status_code == 204
    )

    assert claim(result, user_headers)(client).status_code == 201


def test_an_approved_claim_is_closed(client, user, user_headers):
    result = ClaimFactory(uploader=user, status=ItemStatus.approved).resource

    assert claim(result, user_headers)(client).status_code == 201


def test_parallel_claims_by_one_user_make_one_claim_and_one_message(racing_app, user, user_headers):
    for _ in range(ROUNDS):
        result = ResultFactory()

        responses = at_once(racing_app, *[claim(result, user_headers)] * 10)

        assert statuses(responses) == [201] + [409] * 9, [r.json for r in responses]
        assert claims_on(result) == 1
        assert claimed_messages(result) == 1


def test_the_database_refuses_a_second_open_claim(user):
    """The model's check can be bypassed (imports, a bug); the unique index cannot."""
    result = ResultFactory()
    ClaimFactory(resource=result, uploader=user)
    Claim.create(message="again", resource=result, uploader=user)

    with pytest.raises(Conflict, match="claim by you"):
        commit()

    assert claims_on(result) == 1


def test_the_migration_merges_open_claims_that_break_the_rule(app_settings, tmp_path):
    """Claims made before the rule: the later ones of a user on a result are folded into
    the oldest, so the index can be built and no message is lost."""
    with throwaway_database(os.environ.get("TEST_DATABASE_URL"), tmp_path, "test_claims") as url:
        before = create_app(**{**app_settings, "DATABASE_URL": url})
        with before.app_context():
            flask_migrate.upgrade(revision="0005")
            # The models are at head: the results' later column lives while rows are made.
            db.session.execute(text("ALTER TABLE results ADD COLUMN json_shape VARCHAR(32)"))
            user = UserFactory()
            first = ClaimFactory(
                uploader=user, message="Too fast", upload_datetime=datetime(2024, 1, 1, tzinfo=UTC)
            )
            result = first.resource
            for day, message in ((3, "Way too fast"), (2, "Really too fast")):
                ClaimFactory(
                    uploader=user,
                    resource=result,
                    message=message,
                    upload_datetime=datetime(2024, 1, day, tzinfo=UTC),
                )
            ClaimFactory(resource=result, message="Someone else's")
            ClaimFactory(resource=result, uploader=user, status=ItemStatus.approved)
            db.session.execute(text("ALTER TABLE results DROP COLUMN json_shape"))
            db.session.commit()

            flask_migrate.upgrade()

            rows = db.session.execute(
                select(Claim.uploader_id, Claim.status, Claim.message).order_by(Claim.message)
            ).all()
            assert [(row.uploader_id == user.id, row.status, row.message) for row in rows] == [
                (False, ItemStatus.on_review, "Someone else's"),
                (True, ItemStatus.approved, "This result looks wrong"),
                (True, ItemStatus.on_review, "Too fast\n\nReally too fast\n\nWay too fast"),
            ]
            db.session.remove()
            db.engine.dispose()
