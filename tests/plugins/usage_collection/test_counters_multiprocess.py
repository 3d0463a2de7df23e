"""Several processes incrementing one counter through their own services count exactly."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

import pytest

from telemetry_service.core import open_store
from telemetry_service.plugins.usage_collection.collector import CollectorFetchContext
from telemetry_service.plugins.usage_collection.counters import UsageCountersService
from telemetry_service.plugins.usage_collection.counters_collector import (
    make_usage_counters_collector,
)
from telemetry_service.plugins.usage_collection.schema_values import validate_value
from tests.support.stores import BACKENDS, store_url

pytestmark = pytest.mark.anyio

PROCESSES = 4
CALLS = 1000


def _increment_through_a_service(url: str, data: str) -> None:
    async def run() -> None:
        store = open_store(url, Path(data))
        await store.open()
        service = UsageCountersService(store, buffer_duration_s=0.05)
        counter = service.create_usage_counter("shared_domain")
        await service.start()
        for i in range(CALLS):
            counter.increment_counter("shared_counter")
            if i % 100 == 99:  # let several buffer windows pass while counting
                await asyncio.sleep(0.02)
        await service.stop()  # the clean stop writes what the last window still holds
        await store.close()

    asyncio.run(run())


@pytest.mark.parametrize("backend", BACKENDS)
async def test_four_processes_count_exactly(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    url = store_url(request, backend, tmp_path)
    store = open_store(url, tmp_path)
    await store.open()  # migrate once up front, as the platform does before plugins start
    try:
        ctx = multiprocessing.get_context("spawn")
        procs = [
            ctx.Process(target=_increment_through_a_service, args=(url, str(tmp_path)))
            for _ in range(PROCESSES)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=300)
            assert proc.exitcode == 0

        collector = make_usage_counters_collector(store)
        result = await collector.fetch(CollectorFetchContext())  # type: ignore[misc]
        assert validate_value(collector.schema, result) == []
        events = result["dailyEvents"]
        assert {(e["domainId"], e["counterName"], e["counterType"]) for e in events} == {
            ("shared_domain", "shared_counter", "count")
        }
        assert sum(e["total"] for e in events) == PROCESSES * CALLS

        # The increments really were spread over many interleaved writes, not one per process.
        docs = (await store.find("usage-counter")).saved_objects
        writes = sum(doc.version - 1 for doc in docs)
        assert PROCESSES < writes <= PROCESSES * CALLS
    finally:
        await store.close()
