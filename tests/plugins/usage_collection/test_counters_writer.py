"""`CounterWriter.write`: many keys are written in a few batched transactions, by a few
workers; a failing batch is matched to its keys."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, cast

import pytest

from telemetry_service.core import CounterIncrement, SavedObjectStore, StoreUnavailableError
from telemetry_service.plugins.usage_collection.counters_keys import CounterKey
from telemetry_service.plugins.usage_collection.counters_writer import (
    WRITE_BATCH_KEYS,
    CounterWriter,
)
from telemetry_service.testing import FakeSleep

pytestmark = pytest.mark.anyio


class RecordingStore:
    """Counts in memory; records each batch's size, the most tasks alive and the most writes at
    once. A batch holding a `failing` id fails whole; one holding a `buggy` id raises a bug."""

    def __init__(
        self, failing: frozenset[str] = frozenset(), buggy: frozenset[str] = frozenset()
    ) -> None:
        self.counts: dict[str, int] = {}
        self.failing, self.buggy = failing, buggy
        self.batches: list[int] = []
        self.peak_tasks = self.active = self.peak_active = 0

    async def increment_counters(self, type_: str, changes: Sequence[CounterIncrement]) -> None:
        self.batches.append(len(changes))
        self.peak_tasks = max(self.peak_tasks, len(asyncio.all_tasks()))
        self.active += 1
        self.peak_active = max(self.peak_active, self.active)
        await asyncio.sleep(0)
        self.active -= 1
        ids = {change.id for change in changes}
        if ids & self.failing:
            raise StoreUnavailableError("down")
        if ids & self.buggy:
            raise TypeError("a bug")
        for change in changes:
            self.counts[change.id] = self.counts.get(change.id, 0) + change.fields["count"]


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


async def test_ten_thousand_keys_are_a_hundred_transactions_by_a_few_tasks() -> None:
    store = RecordingStore()
    baseline = len(asyncio.all_tasks())
    outcome = await writer(store, max_concurrent_writes=8).write(keys(10_000))
    assert outcome.written == 10_000
    assert not outcome.failed
    assert len(store.counts) == 10_000
    assert sum(store.counts.values()) == 10_000 * 10_001 // 2
    assert store.batches == [WRITE_BATCH_KEYS] * (10_000 // WRITE_BATCH_KEYS)
    assert store.peak_active == 8
    assert store.peak_tasks <= baseline + 8


async def test_a_failing_batch_is_matched_to_its_keys_and_retried() -> None:
    half = WRITE_BATCH_KEYS // 2
    batch = keys(2 * WRITE_BATCH_KEYS + half)
    second = list(batch)[WRITE_BATCH_KEYS : 2 * WRITE_BATCH_KEYS]
    store = RecordingStore(failing=frozenset({second[7].document_id}))
    outcome = await writer(store, retry_count=2, max_concurrent_writes=4).write(batch)
    assert outcome.written == WRITE_BATCH_KEYS + half
    assert outcome.failed == {key: batch[key] for key in second}
    assert isinstance(outcome.error, StoreUnavailableError)
    assert store.batches == [WRITE_BATCH_KEYS, WRITE_BATCH_KEYS, half] + [WRITE_BATCH_KEYS] * 2
    assert second[0].document_id not in store.counts


async def test_a_bug_in_one_key_drops_that_key_only(caplog: pytest.LogCaptureFixture) -> None:
    batch = keys(10)
    poison = list(batch)[3]
    store = RecordingStore(buggy=frozenset({poison.document_id}))
    with caplog.at_level(logging.WARNING):
        outcome = await writer(store).write(batch)
    assert outcome.written == 9
    assert not outcome.failed
    assert store.batches == [10] + [1] * 10  # the batch, then each key on its own
    assert set(store.counts) == {key.document_id for key in batch} - {poison.document_id}
    assert [r.getMessage() for r in caplog.records] == [
        f"usage counters: dropped counter {poison.document_id}: TypeError: a bug"
    ]
