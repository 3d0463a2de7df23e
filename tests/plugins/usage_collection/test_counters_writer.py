"""`CounterWriter.write`: many keys are written in a few batched transactions, by a few
workers; a failing batch is matched to its keys."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from telemetry_service.core import (
    CounterIncrement,
    SavedObjectStore,
    StoreUnavailableError,
    open_store,
)
from telemetry_service.plugins.usage_collection.counters_keys import (
    USAGE_COUNTER_SAVED_OBJECT_TYPE,
    CounterKey,
)
from telemetry_service.plugins.usage_collection.counters_writer import (
    WRITE_BATCH_KEYS,
    CounterWriter,
)
from telemetry_service.testing import FakeSleep
from tests.support.stores import BACKENDS, store_url

pytestmark = pytest.mark.anyio


class RecordingStore:
    """Counts in memory; records each batch's size, the most tasks alive and the most writes at
    once. A batch holding a `failing` id fails whole with a store error, as does every batch
    while `down`; one holding a `buggy` id raises a bug."""

    def __init__(
        self, failing: frozenset[str] = frozenset(), buggy: frozenset[str] = frozenset()
    ) -> None:
        self.counts: dict[str, int] = {}
        self.failing, self.buggy = failing, buggy
        self.down = False
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
        if self.down or ids & self.failing:
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


async def test_a_key_the_store_refuses_is_matched_and_retried_alone() -> None:
    half = WRITE_BATCH_KEYS // 2
    batch = keys(2 * WRITE_BATCH_KEYS + half)
    second = list(batch)[WRITE_BATCH_KEYS : 2 * WRITE_BATCH_KEYS]
    store = RecordingStore(failing=frozenset({second[7].document_id}))
    outcome = await writer(store, retry_count=2, max_concurrent_writes=4).write(batch)
    assert outcome.written == 2 * WRITE_BATCH_KEYS + half - 1
    assert outcome.failed == {second[7]: batch[second[7]]}
    assert isinstance(outcome.error, StoreUnavailableError)
    # 3 batches, then the probe and the 99 others of the failing one, then 2 retries of the key
    assert Counter(store.batches) == {WRITE_BATCH_KEYS: 2, half: 1, 1: WRITE_BATCH_KEYS + 2}
    assert second[7].document_id not in store.counts


@pytest.mark.parametrize("poisoned", [0, 7, WRITE_BATCH_KEYS - 1])
async def test_one_key_the_store_refuses_does_not_hold_back_its_batch(poisoned: int) -> None:
    """Review finding: on PostgreSQL a name with NUL failed its 100-key batch at every flush, so
    its 99 batch-mates were never written."""
    batch = keys(WRITE_BATCH_KEYS)
    poison = list(batch)[poisoned]
    store = RecordingStore(failing=frozenset({poison.document_id}))
    outcome = await writer(store, retry_count=0).write(batch)
    assert outcome.written == WRITE_BATCH_KEYS - 1
    assert outcome.failed == {poison: batch[poison]}
    assert set(store.counts) == {key.document_id for key in batch} - {poison.document_id}
    assert all(
        store.counts[key.document_id] == count for key, count in batch.items() if key != poison
    )


async def test_an_outage_keeps_every_key_for_few_calls() -> None:
    batch = keys(2 * WRITE_BATCH_KEYS + 1)
    store = RecordingStore()
    store.down = True
    outcome = await writer(store, retry_count=2).write(batch)
    assert outcome.written == 0
    assert outcome.failed == batch
    assert isinstance(outcome.error, StoreUnavailableError)
    # per batch and attempt: the batch and 2 single-key probes (3 batches, 3 attempts); the
    # one-key batch is not probed again
    assert len(store.batches) == (2 * 3 + 1) * 3
    assert store.counts == {}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bad_name", ["a\x00b", "a\ud800b"])
async def test_a_real_store_writes_the_batch_mates_of_an_unstorable_name(
    request: pytest.FixtureRequest, backend: str, bad_name: str, tmp_path: Path
) -> None:
    """The API refuses such names now; a key built past it must still not block others."""
    store = open_store(store_url(request, backend, tmp_path), tmp_path)
    await store.open()
    try:
        batch = keys(WRITE_BATCH_KEYS - 1)
        bad = CounterKey("bench", bad_name, "count", "server", "20260504")
        batch[bad] = 1
        outcome = await CounterWriter(
            store, logger=logging.getLogger("test.counters_writer"), sleep=FakeSleep()
        ).write(batch)
        assert outcome.written >= WRITE_BATCH_KEYS - 1
        for key, count in batch.items():
            if key != bad:
                document = await store.get(USAGE_COUNTER_SAVED_OBJECT_TYPE, key.document_id)
                assert document.attributes["count"] == count
    finally:
        await store.close()


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
