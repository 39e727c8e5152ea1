"""Workflow transitions sent at the same moment: exactly one wins, the others get 409 or
the documented 422, the uploader gets one message per transition that happened, and
nobody gets a 500.

Each test repeats a few rounds of requests released together by a barrier, each request
in its own thread with its own database connection (``tests.support.concurrency``).
"""

# ruff: noqa: F811  (test parameters named after the imported fixture)
import pytest
from sqlalchemy import delete, select

from backend.errors import Conflict
from backend.extensions import db
from backend.models import ItemStatus, Result, Site, Tag, results_tags
from backend.notifications.outbox import OutboxMessage
from backend.unit_of_work import commit
from factories import (
    BenchmarkFactory,
    ClaimFactory,
    FlavorFactory,
    ResultFactory,
    SiteFactory,
    TagFactory,
)
from tests.support.concurrency import ROUNDS, at_once, racing_app, statuses  # noqa: F401

ON_REVIEW = ItemStatus.on_review

#: Every NeedsApprove resource: how to make a pending one, and where its review routes are.
PENDING = {
    "site": (lambda: SiteFactory(status=ON_REVIEW), "/sites"),
    "flavor": (lambda: FlavorFactory(status=ON_REVIEW), "/flavors"),
    "benchmark": (lambda: BenchmarkFactory(status=ON_REVIEW), "/benchmarks"),
    "claim": (lambda: ClaimFactory(), "/reports/claims"),
}


def messages_about(resource_id) -> list[str]:
    """The events of the outbox messages written about ``resource_id``."""
    return list(
        db.session.scalars(
            select(OutboxMessage.event).where(OutboxMessage.resource_id == resource_id)
        )
    )


def stored_status(item) -> ItemStatus | None:
    model = type(item)
    return db.session.scalar(select(model.status).where(model.id == item.id))


def post(url, headers):
    return lambda client: client.post(url, headers=headers)


def put(url, body, headers):
    return lambda client: client.put(url, json=body, headers=headers)


@pytest.mark.parametrize("kind", PENDING)
def test_approve_and_reject_at_once_one_wins(racing_app, admin_headers, kind):
    make, prefix = PENDING[kind]
    for _ in range(ROUNDS):
        item = make()

        approved, rejected = at_once(
            racing_app,
            post(f"{prefix}/{item.id}:approve", admin_headers),
            post(f"{prefix}/{item.id}:reject", admin_headers),
        )

        codes = (approved.status_code, rejected.status_code)
        if approved.status_code == 204:
            assert rejected.status_code == 422, codes
            assert "approved" in rejected.json["message"]
            assert stored_status(item) == ItemStatus.approved
            assert messages_about(item.id) == ["resource_approved"]
        else:
            assert rejected.status_code == 204, codes
            # 409 if it found the item and then saw it go; 404 if it came after.
            assert approved.status_code in (404, 409), codes
            assert "reject" in approved.json["message"] or approved.status_code == 404
            assert stored_status(item) is None
            assert messages_about(item.id) == ["resource_rejected"]


@pytest.mark.parametrize("kind", PENDING)
def test_admins_approving_at_once_send_one_message(racing_app, admin_headers, kind):
    make, prefix = PENDING[kind]
    for _ in range(ROUNDS):
        item = make()

        responses = at_once(racing_app, *[post(f"{prefix}/{item.id}:approve", admin_headers)] * 3)

        assert statuses(responses) == [204, 422, 422]
        assert stored_status(item) == ItemStatus.approved
        assert messages_about(item.id) == ["resource_approved"]


def test_admins_rejecting_at_once_send_one_message(racing_app, admin_headers):
    for _ in range(ROUNDS):
        site = SiteFactory(status=ON_REVIEW)

        responses = at_once(racing_app, *[post(f"/sites/{site.id}:reject", admin_headers)] * 3)

        assert statuses(responses)[0] == 204
        assert set(statuses(responses)[1:]) <= {404, 409}, statuses(responses)
        assert messages_about(site.id) == ["resource_rejected"]


def test_rejecting_the_last_two_claims_at_once_shows_the_result_again(racing_app, admin_headers):
    """Each rejection checks whether another claim remains; without a lock on the result
    both see the other's claim and the result stays hidden with no claim left."""
    for _ in range(ROUNDS):
        first = ClaimFactory()
        result_id = first.resource_id
        second = ClaimFactory(resource=first.resource)

        responses = at_once(
            racing_app,
            post(f"/reports/claims/{first.id}:reject", admin_headers),
            post(f"/reports/claims/{second.id}:reject", admin_headers),
        )

        assert statuses(responses) == [204, 204]
        assert db.session.scalar(select(Result.hidden).where(Result.id == result_id)) is False
        assert messages_about(result_id) == ["claim_rejected_result_restored"]


def test_tags_replaced_at_once_end_as_one_of_the_requested_sets(racing_app, user, user_headers):
    tags = [TagFactory().id for _ in range(4)]
    # Ten requests, each for one or two of the four tags.
    wanted = [[tags[n % 4], tags[(n + 1) % 4]] if n % 2 else [tags[n % 4]] for n in range(10)]
    for _ in range(ROUNDS):
        result = ResultFactory(uploader=user, tags=[db.session.get(Tag, tags[3])])
        url = f"/results/{result.id}/tags"

        responses = at_once(
            racing_app,
            *[put(url, {"tags_ids": [str(t) for t in chosen]}, user_headers) for chosen in wanted],
        )

        assert set(statuses(responses)) <= {204, 409}, [r.get_data(as_text=True) for r in responses]
        stored = set(
            db.session.scalars(
                select(results_tags.c.tag_id).where(results_tags.c.result_id == result.id)
            )
        )
        succeeded = [
            set(chosen)
            for chosen, response in zip(wanted, responses, strict=True)
            if response.status_code == 204
        ]
        assert stored in succeeded


def test_a_change_to_an_item_deleted_meanwhile_is_a_conflict():
    """The safety net for changes that take no lock: 409, not the ORM's StaleDataError."""
    site = SiteFactory()
    with db.engine.begin() as another_request:
        another_request.execute(delete(Site).where(Site.id == site.id))
    site.description = "Changed"

    with pytest.raises(Conflict, match="meanwhile"):
        commit()
