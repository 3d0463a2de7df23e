"""The public statistics' storage on both backends: the ``public_stats`` table (migration 4),
its document kept unless a newer one is stored, and the opt-in counts."""

from __future__ import annotations

import pytest

from telemetry_service.receiver.storage import ReportStore
from telemetry_service.testing import FakeClock

from .support import report, seed_clusters

pytestmark = pytest.mark.anyio


async def test_the_stored_document_is_replaced_only_by_a_newer_one(store: ReportStore) -> None:
    assert await store.load_public_stats("current") is None
    await store.save_public_stats("current", 2_000, '{"n": 2}')
    await store.save_public_stats("current", 1_000, '{"n": 1}')  # an older refresh, late
    assert await store.load_public_stats("current") == (2_000, '{"n": 2}')
    await store.save_public_stats("current", 3_000, '{"n": 3}')
    assert await store.load_public_stats("current") == (3_000, '{"n": 3}')
    assert await store.load_public_stats("other") is None


async def test_opt_in_counts_are_of_each_cluster_s_latest_status(
    store: ReportStore, clock: FakeClock
) -> None:
    assert await store.opt_in_counts() == (0, 0)
    await seed_clusters(store, clock, 3, prefix="in", version="8.1.0", opt_in=True)
    outs = await seed_clusters(store, clock, 2, prefix="out", version="8.1.0", opt_in=False)
    await seed_clusters(store, clock, 4, prefix="unknown", version="8.1.0", opt_in=None)
    assert await store.opt_in_counts() == (3, 2)
    clock.advance(minutes=1)
    await store.add(report(clock, {"cluster_uuid": outs[0]}, opt_in=True))
    assert await store.opt_in_counts() == (4, 1)
