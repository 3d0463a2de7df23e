"""Usage-counter retention: old documents of registered domains are deleted (spec 7.6)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from telemetry_service.core import SavedObjectStore, open_store
from telemetry_service.plugins.usage_collection.counters import UsageCountersService
from telemetry_service.plugins.usage_collection.counters_keys import (
    ROLLUP_INITIAL_DELAY_S,
    ROLLUP_INTERVAL_S,
    roll_usage_counters,
    rollup_cutoff,
)
from telemetry_service.testing import FakeClock, FakeSleep
from tests.plugins.usage_collection.test_counters_support import FlakyStore
from tests.support.stores import BACKENDS, store_url

pytestmark = pytest.mark.anyio

LOGGER = "test.usage_counters.rollups"
TYPE = "usage-counter"
T0 = dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture(params=BACKENDS)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[SavedObjectStore]:
    s = open_store(store_url(request, request.param, tmp_path), tmp_path, clock=clock)
    await s.open()
    yield s
    await s.close()


def make_service(store: Any, clock: FakeClock, **options: Any) -> UsageCountersService:
    options.setdefault("buffer_duration_s", 7.0)
    return UsageCountersService(store, clock=clock, logger=logging.getLogger(LOGGER), **options)


async def ids(store: SavedObjectStore) -> set[tuple[str | None, str]]:
    found = await store.find(TYPE, per_page=1000)
    return {(obj.namespace, obj.id) for obj in found.saved_objects}


def test_schedule_and_cutoff_follow_kibana() -> None:
    assert ROLLUP_INTERVAL_S == 3600
    assert ROLLUP_INITIAL_DELAY_S == 300
    assert rollup_cutoff(T0, None) == T0 - dt.timedelta(days=6)
    assert rollup_cutoff(T0, 10) == T0 - dt.timedelta(days=11)
    assert rollup_cutoff(T0, 0) == T0 - dt.timedelta(days=1)


async def test_rollups_delete_only_expired_documents_of_registered_domains(
    store: SavedObjectStore, clock: FakeClock
) -> None:
    service = make_service(store, clock)
    a = service.create_usage_counter("a")  # default retention: 1 + 5 days
    b = service.create_usage_counter("b", retention_period_days=1)  # 1 + 1 days
    # Domain "c" wrote documents in an earlier run but is not registered now.
    earlier_run = make_service(store, clock)
    old_c = earlier_run.create_usage_counter("c")
    a.increment_counter("x")
    a.increment_counter("x", namespace="space")
    b.increment_counter("x")
    old_c.increment_counter("x")
    await service.flush()
    await earlier_run.flush()
    clock.advance(days=3)
    a.increment_counter("y")
    b.increment_counter("y")
    await service.flush()
    clock.advance(days=4)  # now = T0 + 7 days
    assert await service.run_rollups() == 4
    assert await ids(store) == {
        (None, "a:y:count:server:20240604"),
        (None, "c:x:count:server:20240601"),
    }
    assert await service.run_rollups() == 0


async def test_a_recently_updated_document_is_kept(
    store: SavedObjectStore, clock: FakeClock
) -> None:
    service = make_service(store, clock)
    counter = service.create_usage_counter("a")
    counter.increment_counter("x")
    await service.flush()
    clock.advance(days=6)
    assert await service.run_rollups() == 0  # exactly 6 days old: not older than the cutoff
    clock.advance(seconds=1)
    assert await service.run_rollups() == 1


async def test_rollups_page_through_many_documents(
    store: SavedObjectStore, clock: FakeClock
) -> None:
    service = make_service(store, clock)
    other = make_service(store, clock)
    keep = other.create_usage_counter("unregistered")
    counter = service.create_usage_counter("a")
    for i in range(7):
        counter.increment_counter(f"n{i}")
        keep.increment_counter(f"n{i}")
    await service.flush()
    await other.flush()
    clock.advance(days=10)
    deleted = await roll_usage_counters(store, {"a": None}, now=clock(), page_size=2)
    assert deleted == 7
    assert {id_.split(":")[0] for _, id_ in await ids(store)} == {"unregistered"}
    assert len(await ids(store)) == 7


class RacingStore(FlakyStore):
    """Another instance deletes each document just before this one does."""

    async def delete(self, type_: str, id_: str, *, namespace: str | None = None) -> None:
        await self.inner.delete(type_, id_, namespace=namespace)
        await self.inner.delete(type_, id_, namespace=namespace)


async def test_documents_deleted_by_another_instance_are_skipped(
    store: SavedObjectStore, clock: FakeClock
) -> None:
    service = make_service(RacingStore(store), clock)
    service.create_usage_counter("a").increment_counter("x")
    await service.flush()
    clock.advance(days=7)
    assert await service.run_rollups() == 0
    assert await ids(store) == set()


async def test_a_rollup_failure_is_logged_not_raised(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    closed = open_store(f"sqlite:///{tmp_path / 'closed.db'}", tmp_path, clock=clock)
    service = make_service(closed, clock)
    service.create_usage_counter("a")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert await service.run_rollups() == 0
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert record.getMessage().startswith("usage counters rollup failed: StoreUnavailableError")


async def test_no_registered_domain_means_nothing_to_do(
    store: SavedObjectStore, clock: FakeClock
) -> None:
    assert await roll_usage_counters(store, {}, now=clock()) == 0


async def test_the_rollup_loop_waits_then_repeats(
    store: SavedObjectStore, clock: FakeClock
) -> None:
    sleep = FakeSleep()
    service = make_service(
        store, clock, sleep=sleep, rollup_initial_delay_s=300, rollup_interval_s=3600
    )
    counter = service.create_usage_counter("a")
    counter.increment_counter("x")
    await service.flush()
    clock.advance(days=7)
    await service.start()
    try:
        for _ in range(200):
            if await ids(store) == set() and sleep.delays.count(3600) >= 2:
                break
            await asyncio.sleep(0.01)
    finally:
        await service.stop()
    assert await ids(store) == set()
    rollup_delays = [d for d in sleep.delays if d in (300, 3600)]
    assert rollup_delays[:3] == [300, 3600, 3600]
