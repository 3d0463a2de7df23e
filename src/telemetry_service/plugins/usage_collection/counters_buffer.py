"""The in-memory buffer of usage-counter increments, merged per key (spec 7.6).

`increment_counter` only adds to this buffer, so it never blocks and never touches the store.
The buffer is thread-safe (a counter may be incremented from a worker thread) and bounded: once
it holds `max_keys` distinct keys, increments of new keys are dropped and counted, with one
warning per overflow episode; increments of keys already buffered are always kept.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from .counters_keys import CounterKey

__all__ = ["DEFAULT_MAX_BUFFERED_KEYS", "CounterBuffer"]

DEFAULT_MAX_BUFFERED_KEYS = 10_000


class CounterBuffer:
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
