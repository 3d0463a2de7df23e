"""Usage counters (spec 7.6): cheap, buffered, per-day counters that plugins increment.

::

    counter = usage_collection.create_usage_counter("my_plugin")
    counter.increment_counter("report_generated")      # only buffers: never waits on the store
    counter.increment_counter("clicked", counter_type="click", source="ui", increment_by=3)

`UsageCounter.increment_counter` only adds to an in-memory buffer, merged per key (domain, name,
type, source, namespace and the UTC day of the increment). Every ``buffer_duration_s`` (Kibana's
``usageCollection.usageCounters.bufferDuration``, 5 s) `UsageCountersService` adds each key's
count to its ``usage-counter`` saved object, many keys per atomic store transaction, so several
processes or hosts on one store count exactly. A write that fails with a store error is retried
``retry_count`` times after ``2**attempt * backoff_base_s`` (1 s, 2 s, 4 s); if it still fails,
one warning is logged and the increments go back into the buffer for the next flush (Kibana
drops them).

Increments made before `start` are kept and written when it runs; `stop` writes everything
buffered before it returns, so a clean shutdown loses nothing. With ``enabled=False`` (Kibana's
``usageCounters.enabled: false``) counters can still be created but increments are discarded.
Keys and the hourly retention job are in `counters_keys`, the buffer, writes and retries in
`counters_writer`, the collectors in `counters_collector`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from telemetry_service.common.clock import utc_now
from telemetry_service.common.periodic import PeriodicTask, Sleep, one_line
from telemetry_service.core import SavedObjectStore

from .counters_keys import (
    COUNTER_SOURCES,
    ROLLUP_INITIAL_DELAY_S,
    ROLLUP_INTERVAL_S,
    CounterKey,
    CounterSource,
    check_name,
    day_of,
    normalize_namespace,
    roll_usage_counters,
)
from .counters_writer import (
    BACKOFF_BASE_S,
    DEFAULT_MAX_BUFFERED_KEYS,
    DEFAULT_MAX_CONCURRENT_WRITES,
    DEFAULT_RETRY_COUNT,
    CounterBuffer,
    CounterWriter,
)

__all__ = ["DEFAULT_BUFFER_DURATION_S", "UsageCounter", "UsageCountersService"]

DEFAULT_BUFFER_DURATION_S = 5.0
#: How long `UsageCountersService.stop` lets a flush in progress finish.
_STOP_FLUSH_TIMEOUT_S = 20.0


class UsageCounter:
    """The counters of one domain (usually a plugin), from `create_usage_counter`."""

    def __init__(
        self, service: UsageCountersService, domain_id: str, retention_period_days: int | None
    ) -> None:
        self._service = service
        self.domain_id = domain_id
        self.retention_period_days = retention_period_days

    def __repr__(self) -> str:
        return f"<UsageCounter {self.domain_id!r}>"

    def increment_counter(
        self,
        counter_name: str,
        counter_type: str = "count",
        source: CounterSource = "server",
        increment_by: int = 1,
        namespace: str | None = None,
    ) -> None:
        """Count ``increment_by`` occurrences of ``counter_name`` today (UTC).

        Returns at once: the increment is buffered and written by the service in the
        background. Store problems never reach the caller; bad arguments raise `TypeError` or
        `ValueError`. ``namespace`` ``None`` or ``"default"`` is the default namespace.
        """
        check_name(counter_name, "counter_name")
        check_name(counter_type, "counter_type")
        if source not in COUNTER_SOURCES:
            raise ValueError(f'source must be "server" or "ui", got {source!r}')
        if isinstance(increment_by, bool) or not isinstance(increment_by, int):
            raise TypeError(f"increment_by must be an int, got {type(increment_by).__name__}")
        if namespace is not None:
            check_name(namespace, "namespace")
            if namespace == "*":
                raise ValueError('namespace "*" is not a namespace')
        day = day_of(self._service.clock())
        key = CounterKey(
            self.domain_id, counter_name, counter_type, source, day, normalize_namespace(namespace)
        )
        self._service._record(key, increment_by)


class UsageCountersService:
    """Owns the counter domains, the buffer, the flush loop and the rollup loop."""

    def __init__(
        self,
        store: SavedObjectStore,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        buffer_duration_s: float = DEFAULT_BUFFER_DURATION_S,
        retry_count: int = DEFAULT_RETRY_COUNT,
        backoff_base_s: float = BACKOFF_BASE_S,
        logger: logging.Logger | None = None,
        enabled: bool = True,
        max_buffered_keys: int = DEFAULT_MAX_BUFFERED_KEYS,
        max_concurrent_writes: int = DEFAULT_MAX_CONCURRENT_WRITES,
        rollup_interval_s: float = ROLLUP_INTERVAL_S,
        rollup_initial_delay_s: float = ROLLUP_INITIAL_DELAY_S,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not buffer_duration_s > 0:
            raise ValueError("buffer_duration_s must be greater than 0")
        self._log = logger or logging.getLogger("telemetry_service.usage_collection.counters")
        self._writer = CounterWriter(
            store,
            retry_count=retry_count,
            backoff_base_s=backoff_base_s,
            max_concurrent_writes=max_concurrent_writes,
            sleep=sleep,
            logger=self._log,
        )
        self.store = store
        self.clock = clock
        self._buffer_duration_s = buffer_duration_s
        self.enabled = enabled
        self._rollup_interval_s = rollup_interval_s
        self._buffer = CounterBuffer(max_keys=max_buffered_keys, logger=self._log)
        self._counters: dict[str, UsageCounter] = {}
        self._flush_lock = asyncio.Lock()
        self._state = "setup"  # -> "running" -> "stopped"
        self._warned_after_stop = False
        # A flush in progress is never cancelled by stop: the loop ends after it.
        self._flushes = PeriodicTask(
            "usage counters flush",
            self._flush_step,
            sleep=sleep,
            log=self._log,
            retry_delay=buffer_duration_s,
            cancel_step=False,
        )
        self._rollups = PeriodicTask(
            "usage counters rollup",
            self._rollup_step,
            sleep=sleep,
            log=self._log,
            first_delay=rollup_initial_delay_s,
            retry_delay=rollup_interval_s,
        )

    # ------------------------------------------------------------------ domains

    @property
    def is_running(self) -> bool:
        return self._state == "running"

    def create_usage_counter(
        self, domain_id: str, *, retention_period_days: int | None = None
    ) -> UsageCounter:
        """Register a counter domain; its documents are kept ``1 + retention`` days (5)."""
        check_name(domain_id, "domain_id")
        if retention_period_days is not None and (
            isinstance(retention_period_days, bool)
            or not isinstance(retention_period_days, int)
            or retention_period_days < 0
        ):
            raise ValueError("retention_period_days must be None or an int >= 0")
        if domain_id in self._counters:
            raise ValueError(f'Usage counter set "{domain_id}" already exists.')
        counter = self._counters[domain_id] = UsageCounter(self, domain_id, retention_period_days)
        return counter

    def get_usage_counter_by_domain_id(self, domain_id: str) -> UsageCounter | None:
        return self._counters.get(domain_id)

    def get_or_create_usage_counter(self, domain_id: str) -> UsageCounter:
        """The domain's counter, created with the default retention if missing (UI reports)."""
        return self._counters.get(domain_id) or self.create_usage_counter(domain_id)

    @property
    def usage_counters(self) -> tuple[UsageCounter, ...]:
        return tuple(self._counters.values())

    # ------------------------------------------------------------------ buffer

    def _record(self, key: CounterKey, increment_by: int) -> None:
        if not self.enabled:
            return
        if self._state == "stopped":
            if not self._warned_after_stop:
                self._warned_after_stop = True
                self._log.debug("usage counters are stopped: increments are discarded")
            return
        self._buffer.add(key, increment_by)

    def buffered(self) -> dict[str, int]:
        """What is waiting to be written, by serialized key (for diagnostics and tests)."""
        return {key.serialize(): count for key, count in self._buffer.snapshot().items()}

    @property
    def dropped_increments(self) -> int:
        """Increments of new keys dropped because the buffer was full."""
        return self._buffer.dropped

    async def flush(self) -> int:
        """Write everything buffered now; returns the number of counter documents written.

        Never raises for store problems: what still fails after the retries stays buffered.
        """
        async with self._flush_lock:
            batch = {key: count for key, count in self._buffer.take().items() if count != 0}
            if not batch:
                return 0
            outcome = await self._writer.write(batch)
            if outcome.failed:
                dropped = self._buffer.restore(outcome.failed)
                self._log.warning(
                    "usage counters: %d counter(s) not saved after %d retries (%s); kept for the "
                    "next flush%s",
                    len(outcome.failed),
                    self._writer.retry_count,
                    one_line(outcome.error) if outcome.error else "unknown error",
                    f", {dropped} dropped (buffer full)" if dropped else "",
                )
            return outcome.written

    # ------------------------------------------------------------------ rollups

    async def run_rollups(self) -> int:
        """Delete the registered domains' expired documents now; returns how many."""
        retention = {c.domain_id: c.retention_period_days for c in self._counters.values()}
        try:
            deleted = await roll_usage_counters(self.store, retention, now=self.clock())
        except Exception as exc:
            self._log.warning("usage counters rollup failed: %s", one_line(exc))
            return 0
        if deleted:
            self._log.debug("usage counters rollup deleted %d document(s)", deleted)
        return deleted

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the flush loop (it writes pre-start increments at once) and the rollups."""
        if self._state != "setup":
            return
        if not self.enabled:
            self._state = "stopped"
            self._buffer.take()
            self._log.debug("usage counters are disabled (usageCounters.enabled: false)")
            return
        self._state = "running"
        self._flushes.start()
        self._rollups.start()

    async def stop(self) -> None:
        """Stop the loops and write everything buffered; a clean stop loses no increment."""
        if self._state == "stopped":
            return
        await self._rollups.stop()
        await self._flushes.stop(_STOP_FLUSH_TIMEOUT_S)
        self._state = "stopped"
        await self._flushes.run_once()
        lost = self._buffer.take()
        if lost:
            self._log.warning(
                "usage counters: %d counter(s) (%d increments) could not be saved before stop",
                len(lost),
                sum(lost.values()),
            )

    async def _flush_step(self) -> float:
        await self.flush()
        return self._buffer_duration_s

    async def _rollup_step(self) -> float:
        await self.run_rollups()
        return self._rollup_interval_s
