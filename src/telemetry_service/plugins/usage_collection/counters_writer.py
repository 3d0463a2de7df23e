"""The usage-counter write path: the in-memory buffer, then writes to the store with retries
(spec 7.6).

`UsageCounter.increment_counter` only adds to the `CounterBuffer`, merged per key, so it never
blocks and never touches the store. The buffer is thread-safe (a counter may be incremented from
a worker thread) and bounded: once it holds `max_keys` distinct keys, increments of new keys are
dropped and counted, with one warning per overflow episode; increments of keys already buffered
are always kept.

At each flush, the keys are written in batches of `WRITE_BATCH_KEYS`: each batch is one
``increment_counters`` transaction of the store (one worker-thread hop, one commit; exact across
processes), at most ``max_concurrent_writes`` batches at once. A batch that fails with a
`StoreError` is written again one key per transaction if a single-key write of its first (else
last) key succeeds, so that one key the store refuses (say a name PostgreSQL cannot take) never
holds back its batch-mates; if neither succeeds it is an outage and the batch stays whole. Keys
failing with a `StoreError` are retried ``retry_count`` times after ``2**attempt *
backoff_base_s``, Kibana's schedule (1 s, 2 s, 4 s); the keys still failing are returned to the
caller, which keeps them. Any other error is a bug that retrying cannot fix: the batch (which
wrote nothing) is written again one key per transaction, and only the keys that fail again are
dropped, each with one warning.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from telemetry_service.common.periodic import Sleep, one_line
from telemetry_service.core import CounterIncrement, SavedObjectStore, StoreError

from .counters_keys import USAGE_COUNTER_SAVED_OBJECT_TYPE, CounterKey

__all__ = [
    "BACKOFF_BASE_S",
    "DEFAULT_MAX_BUFFERED_KEYS",
    "DEFAULT_MAX_CONCURRENT_WRITES",
    "DEFAULT_RETRY_COUNT",
    "WRITE_BATCH_KEYS",
    "CounterBuffer",
    "CounterWriter",
    "WriteOutcome",
    "retry_delay_s",
]

DEFAULT_RETRY_COUNT = 3
BACKOFF_BASE_S = 0.5
"""Kibana's ``USAGE_COUNTERS_BACKOFF_DELAY_IN_MS`` (500 ms)."""
DEFAULT_MAX_CONCURRENT_WRITES = 8
DEFAULT_MAX_BUFFERED_KEYS = 10_000
WRITE_BATCH_KEYS = 100
"""Keys per store transaction: 10,000 keys are 100 thread hops. Not more: while a worker thread
runs a transaction it takes and drops the GIL at every SQL statement, and the event loop, which
must win the GIL back at each of those handoffs, can wait for the whole transaction (measured:
50-130 ms stalls with 500 keys, 5-15 ms with 100)."""


class CounterBuffer:
    """The increments waiting to be written, merged per key (see the module docstring)."""

    def __init__(
        self, *, max_keys: int = DEFAULT_MAX_BUFFERED_KEYS, logger: logging.Logger
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._max_keys = max_keys
        self._log = logger
        self._lock = threading.RLock()
        self._counts: dict[CounterKey, int] = {}
        self._overflowing = False
        #: Increments dropped because the buffer was full, since the service was created.
        self.dropped = 0

    def snapshot(self) -> dict[CounterKey, int]:
        """A copy of the buffered counts (for tests and diagnostics)."""
        with self._lock:
            return dict(self._counts)

    def add(self, key: CounterKey, increment_by: int) -> bool:
        """Merge one increment; False when it was dropped because the buffer is full."""
        with self._lock:
            return self._add_locked(key, increment_by)

    def restore(self, counts: Mapping[CounterKey, int]) -> int:
        """Put back increments that could not be written; returns how many keys were dropped."""
        dropped = 0
        with self._lock:
            for key, count in counts.items():
                if not self._add_locked(key, count):
                    dropped += 1
        return dropped

    def take(self) -> dict[CounterKey, int]:
        """Remove and return everything buffered."""
        with self._lock:
            counts, self._counts = self._counts, {}
            self._overflowing = False
        return counts

    def _add_locked(self, key: CounterKey, increment_by: int) -> bool:
        current = self._counts.get(key)
        if current is not None:
            self._counts[key] = current + increment_by
            return True
        if len(self._counts) < self._max_keys:
            self._counts[key] = increment_by
            return True
        self.dropped += 1
        if not self._overflowing:
            self._overflowing = True
            self._log.warning(
                "usage counters buffer is full (%d keys): dropping increments of new keys "
                "until the next flush",
                self._max_keys,
            )
        return False


def retry_delay_s(attempt: int, backoff_base_s: float = BACKOFF_BASE_S) -> float:
    """The wait before retry number ``attempt`` (1-based): ``2**attempt * backoff_base_s``."""
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    return float(2**attempt * backoff_base_s)


@dataclass
class WriteOutcome:
    written: int = 0
    """Counter documents incremented."""
    failed: dict[CounterKey, int] = field(default_factory=dict)
    """Increments still failing with a store error after the retries."""
    error: StoreError | None = None
    """The last store error, when some failed."""


class CounterWriter:
    def __init__(
        self,
        store: SavedObjectStore,
        *,
        retry_count: int = DEFAULT_RETRY_COUNT,
        backoff_base_s: float = BACKOFF_BASE_S,
        max_concurrent_writes: int = DEFAULT_MAX_CONCURRENT_WRITES,
        sleep: Sleep = asyncio.sleep,
        logger: logging.Logger,
    ) -> None:
        if retry_count < 0 or backoff_base_s < 0 or max_concurrent_writes < 1:
            raise ValueError(
                "retry_count and backoff_base_s must be >= 0, max_concurrent_writes >= 1"
            )
        self.store = store
        self.retry_count = retry_count
        self._backoff_base_s = backoff_base_s
        self._slots = asyncio.Semaphore(max_concurrent_writes)
        self._workers = max_concurrent_writes
        self._sleep = sleep
        self._log = logger

    async def write(self, batch: Mapping[CounterKey, int]) -> WriteOutcome:
        """Increment every key's document; see the module docstring for failures."""
        outcome = WriteOutcome()
        pending = dict(batch)
        attempt = 0
        while pending:
            results = await self._write_all(list(pending), pending)
            failed: dict[CounterKey, int] = {}
            for (key, count), error in zip(pending.items(), results, strict=True):
                if error is None:
                    outcome.written += 1
                elif isinstance(error, StoreError):
                    failed[key], outcome.error = count, error
                else:
                    self._log.warning(
                        "usage counters: dropped counter %s: %s", key.document_id, one_line(error)
                    )
            pending = failed
            if not pending or attempt >= self.retry_count:
                break
            attempt += 1
            delay = retry_delay_s(attempt, self._backoff_base_s)
            self._log.debug(
                "usage counters: retry %d of %d in %.1fs", attempt, self.retry_count, delay
            )
            await self._sleep(delay)
        outcome.failed = pending
        return outcome

    async def _write_all(
        self, items: list[CounterKey], counts: Mapping[CounterKey, int]
    ) -> list[Exception | None]:
        """`_write_batch` of every `WRITE_BATCH_KEYS` items, by a few workers."""
        results: list[Exception | None] = [None] * len(items)
        starts = iter(range(0, len(items), WRITE_BATCH_KEYS))

        async def worker() -> None:
            for start in starts:
                batch = items[start : start + WRITE_BATCH_KEYS]
                error = await self._write_batch(batch, counts)
                if error is None or len(batch) == 1:
                    results[start : start + len(batch)] = [error] * len(batch)
                else:
                    results[start : start + len(batch)] = await self._split(batch, counts, error)

        batches = -(-len(items) // WRITE_BATCH_KEYS)
        await asyncio.gather(*(worker() for _ in range(min(self._workers, batches))))
        return results

    async def _split(
        self, batch: list[CounterKey], counts: Mapping[CounterKey, int], error: Exception
    ) -> list[Exception | None]:
        """The per-key results of a multi-key batch that failed with ``error``.

        A bug is looked for key by key. A store error is too, but only once a single-key write
        (of the first key, else of the last) succeeds: then the store is up and refuses some key
        of the batch, which must not hold the others back. When neither probe succeeds it is an
        outage: every key keeps the error, for 3 calls instead of 1 per batch, not 100.
        """
        results: list[Exception | None] = [error] * len(batch)
        done: set[int] = set()
        if isinstance(error, StoreError):
            for probe in (0, len(batch) - 1):
                done.add(probe)
                results[probe] = await self._write_batch([batch[probe]], counts)
                if results[probe] is None:
                    break
            else:
                return results
        for index, key in enumerate(batch):
            if index not in done:
                results[index] = await self._write_batch([key], counts)
        return results

    async def _write_batch(
        self, batch: list[CounterKey], counts: Mapping[CounterKey, int]
    ) -> Exception | None:
        changes = [
            CounterIncrement(
                key.document_id, {"count": counts[key]}, key.upsert_attributes(), key.namespace
            )
            for key in batch
        ]
        async with self._slots:
            try:
                await self.store.increment_counters(USAGE_COUNTER_SAVED_OBJECT_TYPE, changes)
            except Exception as exc:
                return exc
        return None
