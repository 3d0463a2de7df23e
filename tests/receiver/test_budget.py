"""The byte budget of ingest bodies (security review findings 1 and 5)."""

from __future__ import annotations

import pytest

from telemetry_service.receiver import Rejection
from telemetry_service.receiver.budget import BodyBudget


def test_bodies_share_the_budget_as_their_bytes_arrive() -> None:
    """Bytes are counted as they arrive (a slow sender holds only what it sent), given back
    when the request ends, and a chunk past the budget is a 429 with Retry-After."""
    budget = BodyBudget(100, retry_after=7)
    with budget.lease() as first, budget.lease() as second:
        first(10)
        second(60)
        first(30)
        assert budget.used == 100
        with pytest.raises(Rejection) as refused:
            second(1)
        assert (refused.value.status, refused.value.reason) == (429, "overloaded")
        assert refused.value.retry_after == 7
    assert budget.used == 0
    lease = budget.lease()
    charge = lease.__enter__()
    charge(50)
    lease.__exit__(ValueError, ValueError(), None)  # given back when the request fails too
    assert budget.used == 0
