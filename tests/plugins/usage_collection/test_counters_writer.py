"""`CounterWriter.write`: many keys are written by a few workers, not a task per key."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, cast

import pytest

from telemetry_service.core import SavedObjectStore, StoreUnavailableError
from telemetry_service.plugins.usage_collection.counters_keys import CounterKey
from telemetry_service.plugins.usage_collection.counters_writer import CounterWriter
from telemetry_service.testing import FakeSleep

pytestmark = pytest.mark.anyio


class RecordingStore:
    """Counts in memory; records the most tasks alive and the most writes at once."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.counts: dict[str, int] = {}
        self.failing = failing
        self.peak_tasks = self.active = self.peak_active = 0

    async def increment_counter(
        self,
        type_: str,
        id_: str,
        fields: Mapping[str, int],
        *,
        upsert_attributes: Mapping[str, Any] | None = None,
        namespace: str | None = None,
    ) -> None:
        self.peak_tasks = max(self.peak_tasks, len(asyncio.all_tasks()))
        self.active += 1
        self.peak_active = max(self.peak_active, self.active)
        await asyncio.sleep(0)
        self.active -= 1
        if id_ in self.failing:
            raise StoreUnavailableError("down")
        self.counts[id_] = self.counts.get(id_, 0) + fields["count"]


def keys(n: int) -> dict[CounterKey, int]:
    day = "20260504"
    return {CounterKey("bench", f"event_{i}", "count", "server", day): i + 1 for i in range(n)}


def writer(store: RecordingStore, **options: Any) -> CounterWriter:
    return CounterWriter(
        cast(SavedObjectStore, store),
        logger=logging.getLogger("test.counters_writer"),
        sleep=FakeSleep(),
        **options,
    )


async def test_a_thousand_keys_are_written_by_at_most_max_concurrent_writes_tasks() -> None:
    store = RecordingStore()
    baseline = len(asyncio.all_tasks())
    outcome = await writer(store, max_concurrent_writes=8).write(keys(1000))
    assert outcome.written == 1000
    assert not outcome.failed
    assert len(store.counts) == 1000
    assert sum(store.counts.values()) == 1000 * 1001 // 2
    assert store.peak_active == 8
    assert store.peak_tasks <= baseline + 8


async def test_failures_are_matched_to_their_keys_and_retried() -> None:
    batch = keys(50)
    failing_key = next(iter(batch))
    store = RecordingStore(failing=frozenset({failing_key.document_id}))
    outcome = await writer(store, retry_count=2, max_concurrent_writes=4).write(batch)
    assert outcome.written == 49
    assert outcome.failed == {failing_key: batch[failing_key]}
    assert isinstance(outcome.error, StoreUnavailableError)
