"""Wall-clock behaviour of `bulk_fetch` (exact figures: `benchmarks/collection.py`)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from telemetry_service.plugins.usage_collection.collector import (
    CollectorFetchContext,
    make_usage_collector,
)
from telemetry_service.plugins.usage_collection.collector_set import CollectorSet

pytestmark = pytest.mark.anyio

SCHEMA = {"n": {"type": "long"}}
DELAY_S = 0.05


async def async_fetch(context: CollectorFetchContext) -> dict[str, int]:
    await asyncio.sleep(DELAY_S)
    return {"n": 1}


def blocking_fetch(context: CollectorFetchContext) -> dict[str, int]:
    time.sleep(DELAY_S)  # blocks its worker thread, never the loop
    return {"n": 2}


def build(n_async: int = 100, n_sync: int = 10, **options: Any) -> CollectorSet:
    collectors = CollectorSet(**options)
    for i in range(n_async):
        collectors.register_collector(
            make_usage_collector(type=f"async_{i}", fetch=async_fetch, schema=SCHEMA)
        )
    for i in range(n_sync):
        collectors.register_collector(
            make_usage_collector(type=f"sync_{i}", fetch=blocking_fetch, schema=SCHEMA)
        )
    return collectors


async def max_loop_lag_during(coro: Any) -> tuple[Any, float]:
    """Run `coro` while measuring the worst gap between 1 ms ticks of the event loop."""
    worst = 0.0
    running = True

    async def ticker() -> None:
        nonlocal worst
        last = time.monotonic()
        while running:
            await asyncio.sleep(0.001)
            now = time.monotonic()
            worst = max(worst, now - last)
            last = now

    task = asyncio.create_task(ticker())
    try:
        result = await coro
    finally:
        running = False
        await task
    return result, worst


async def test_110_collectors_of_50_ms_finish_far_below_their_serial_sum() -> None:
    collectors = build()
    start = time.monotonic()
    results, lag = await max_loop_lag_during(collectors.bulk_fetch())
    elapsed = time.monotonic() - start

    stats: Any = results[-1]["result"]
    assert stats["succeeded"]["count"] == 110
    assert len(results) == 111
    serial_s = 110 * DELAY_S  # 5.5 s if run one after another
    assert elapsed < 1.0, f"bulk_fetch took {elapsed:.3f}s"  # ~0.15 s expected: 3 waves of 50
    assert elapsed < serial_s / 5
    assert lag < 0.1, f"the event loop stalled for {lag:.3f}s"
    fetch_ms = stats["fetch_duration_breakdown"]
    assert all(d["duration"] >= DELAY_S * 1000 * 0.9 for d in fetch_ms)


async def test_ten_blocking_collectors_run_in_parallel_threads() -> None:
    collectors = build(n_async=0, n_sync=10)
    start = time.monotonic()
    results = await collectors.bulk_fetch()
    elapsed = time.monotonic() - start
    stats: Any = results[-1]["result"]
    assert stats["succeeded"]["count"] == 10
    assert elapsed < 0.35, f"{elapsed:.3f}s: the 10 sleeps did not overlap"  # serial: 0.5 s


async def test_a_hanging_collector_adds_at_most_its_timeout() -> None:
    timeout_s = 0.3
    collectors = build(n_async=20, n_sync=2, fetch_timeout_s=timeout_s)
    start = time.monotonic()
    await collectors.bulk_fetch()
    baseline = time.monotonic() - start

    async def hangs(context: CollectorFetchContext) -> dict[str, int]:
        await asyncio.sleep(3600)
        return {"n": 0}

    collectors.register_collector(make_usage_collector(type="hangs", fetch=hangs, schema=SCHEMA))
    start = time.monotonic()
    results = await collectors.bulk_fetch()
    with_hang = time.monotonic() - start

    stats: Any = results[-1]["result"]
    assert stats["failed"]["names"] == ["hangs"]
    assert stats["succeeded"]["count"] == 22
    assert timeout_s * 0.9 <= with_hang < timeout_s + 0.3
    assert with_hang - baseline < timeout_s + 0.2
