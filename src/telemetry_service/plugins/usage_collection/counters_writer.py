"""Writing merged usage counters to the store, with retries (spec 7.6).

Each key is one atomic ``increment_counter`` of its ``usage-counter`` saved object, run
concurrently (at most ``max_concurrent_writes`` at once). Keys whose write fails with a
`StoreError` (an outage: retrying may help) are retried ``retry_count`` times after
``2**attempt * backoff_base_s``, Kibana's schedule (1 s, 2 s, 4 s); the ones still failing are
returned to the caller, which keeps them. Any other error is a bug that retrying cannot fix: the
key is dropped with one warning.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from telemetry_service.common.periodic import Sleep, one_line
from telemetry_service.core import SavedObjectStore, StoreError

from .counters_keys import USAGE_COUNTER_SAVED_OBJECT_TYPE, CounterKey

__all__ = [
    "BACKOFF_BASE_S",
    "DEFAULT_MAX_CONCURRENT_WRITES",
    "DEFAULT_RETRY_COUNT",
    "CounterWriter",
    "WriteOutcome",
    "retry_delay_s",
]

DEFAULT_RETRY_COUNT = 3
BACKOFF_BASE_S = 0.5
"""Kibana's ``USAGE_COUNTERS_BACKOFF_DELAY_IN_MS`` (500 ms)."""
DEFAULT_MAX_CONCURRENT_WRITES = 8


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
        self._sleep = sleep
        self._log = logger

    async def write(self, batch: Mapping[CounterKey, int]) -> WriteOutcome:
        """Increment every key's document; see the module docstring for failures."""
        outcome = WriteOutcome()
        pending = dict(batch)
        attempt = 0
        while pending:
            results = await asyncio.gather(
                *(self._write_one(key, count) for key, count in pending.items())
            )
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

    async def _write_one(self, key: CounterKey, count: int) -> Exception | None:
        async with self._slots:
            try:
                await self.store.increment_counter(
                    USAGE_COUNTER_SAVED_OBJECT_TYPE,
                    key.document_id,
                    {"count": count},
                    upsert_attributes=key.upsert_attributes(),
                    namespace=key.namespace,
                )
            except Exception as exc:
                return exc
        return None
