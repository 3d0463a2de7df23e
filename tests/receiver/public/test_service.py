"""The refresh schedule of the public statistics on a fake clock: the figures change only when
a refresh runs, every ``public.refresh``; a restart serves the stored document and waits for
the rest of its interval; a document made with other settings is computed again first."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from telemetry_service.receiver import load_config
from telemetry_service.receiver.public.service import PublicStats
from telemetry_service.receiver.storage import ReportStore
from telemetry_service.testing import FakeClock

from .support import seed_clusters

pytestmark = pytest.mark.anyio


class GateSleep:
    """An ``asyncio.sleep`` that records each wait, then waits until the test opens the gate
    (and moves the clock by the wait)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.delays: list[float] = []
        self._gate = asyncio.Event()

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await self._gate.wait()
        self._gate.clear()
        self.clock.advance(delay)

    def open(self) -> None:
        self._gate.set()


async def until(condition: Callable[[], Any]) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("timed out")


@contextlib.asynccontextmanager
async def running(stats: PublicStats) -> AsyncIterator[None]:
    stats.start()
    try:
        yield
    finally:
        await stats.stop()


def settings(**public: Any) -> Any:
    return load_config({"public": {"enabled": True, "refresh": "1h", **public}}, env={}).public


async def test_figures_change_only_after_a_refresh(store: ReportStore, clock: FakeClock) -> None:
    await seed_clusters(store, clock, 10, prefix="a", version="8.13.0")
    sleep = GateSleep(clock)
    stats = PublicStats(store, settings(), clock=clock, sleep=sleep)
    async with running(stats):
        await until(lambda: sleep.delays)  # the first refresh ran at once, then it waits 1 h
        first = stats.published
        assert first is not None
        assert first.document["active_deployments"] == 10
        assert sleep.delays == [3600.0]

        await seed_clusters(store, clock, 10, prefix="b", version="8.14.0")
        await asyncio.sleep(0.05)
        assert stats.published is first  # new reports: the same figures until the refresh

        sleep.open()
        await until(lambda: len(sleep.delays) == 2)
        second = stats.published
        assert second is not None
        assert second is not first
        assert second.document["active_deployments"] == 20
        assert second.computed_ms - first.computed_ms == 3_600_000
        assert sleep.delays == [3600.0, 3600.0]


async def test_a_restart_serves_the_stored_figures_and_waits_for_the_rest(
    store: ReportStore, clock: FakeClock
) -> None:
    await seed_clusters(store, clock, 10, prefix="a", version="8.13.0")
    stored = await PublicStats(store, settings(), clock=clock).refresh()
    clock.advance(minutes=15)
    await seed_clusters(store, clock, 10, prefix="b", version="8.14.0")

    sleep = GateSleep(clock)
    restarted = PublicStats(store, settings(), clock=clock, sleep=sleep)
    async with running(restarted):
        await until(lambda: sleep.delays)
        assert sleep.delays == [2700.0]  # 45 minutes left of the stored document's hour
        assert restarted.published is not None
        assert restarted.published.body == stored.body
        assert restarted.published.etag == stored.etag
        assert restarted.seconds_to_refresh() == 2700
        sleep.open()
        await until(lambda: len(sleep.delays) == 2)
        assert restarted.published.document["active_deployments"] == 20


async def test_a_document_made_with_other_settings_is_not_served(
    store: ReportStore, clock: FakeClock
) -> None:
    await seed_clusters(store, clock, 10, prefix="a", version="8.13.0")
    await PublicStats(store, settings(minClusters=5), clock=clock).refresh()
    stricter = PublicStats(store, settings(minClusters=20), clock=clock)
    assert await stricter.load() is None
    assert stricter.published is None
    published = await stricter.refresh()
    assert published.document["min_clusters"] == 20
    assert published.document["active_deployments"] is None
