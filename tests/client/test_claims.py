"""Claims with the client: a claimed result leaves the lists; the claimer sees the claim."""

from __future__ import annotations

import pytest

from factories import ResultFactory
from perfclient import ApiError


def test_a_claimed_result_leaves_the_results(perf):
    claimed, kept = ResultFactory(), ResultFactory()

    claim = perf.claim(claimed.id, "The score is ten times too high")

    assert claim["resource_id"] == str(claimed.id)
    assert perf.results()["id"].tolist() == [str(kept.id)]


def test_my_claims_are_a_frame(perf):
    result = ResultFactory()
    perf.claim(result.id, "Wrong flavor")

    frame = perf.my_claims()

    assert frame["resource_id"].tolist() == [str(result.id)]
    assert frame["message"].tolist() == ["Wrong flavor"]
    assert frame["status"].tolist() == ["on_review"]


def test_an_empty_claim_message_is_refused_with_the_reason(perf):
    result = ResultFactory()

    with pytest.raises(ApiError) as raised:
        perf.claim(result.id, "")

    assert raised.value.status == 422
    assert "message" in raised.value.message
