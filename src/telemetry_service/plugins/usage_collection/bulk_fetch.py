"""Concurrent, fault-isolated fetching of collectors: `bulk_fetch` (spec 7.3).

1. every collector's `is_ready` runs concurrently, each bounded by
   `maximum_wait_time_for_all_collectors_s` (a raise or anything but ``True`` is "not ready");
2. the ready collectors' `fetch` run concurrently, each bounded by `fetch_timeout_s`: async
   fetches at most `max_collector_concurrency` at once, sync ones in worker threads
   (`blocking.py`), at most `max_threads` at once (they wait for a thread, not for a fetch slot,
   so ten blocking collectors run beside the async ones); concurrent bulk fetches share one
   in-flight fetch per collector;
3. a failing or timed-out fetch is logged once and left out; what does not match the
   collector's schema is dropped from its output (the rest is kept; a large output is checked in
   a worker thread, off the loop), logged once and named in
   `usage_collector_stats.schema_violation_paths`; `None` results are omitted;
4. the `usage_collector_stats` result is appended.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
import weakref
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TypedDict

from telemetry_service.common.periodic import one_line

from .blocking import DEFAULT_MAX_THREADS, BlockingRunner, StillRunningError
from .collector import AnyCollector, CollectorFetchContext
from .collector_stats import USAGE_COLLECTOR_STATS_TYPE, FetchStatus, build_usage_collector_stats
from .prune_in_slices import prune_in_slices

__all__ = [
    "DEFAULT_FETCH_TIMEOUT_S",
    "DEFAULT_MAX_COLLECTOR_CONCURRENCY",
    "DEFAULT_MAX_WAIT_FOR_ALL_COLLECTORS_S",
    "MAX_DROPPED_PATHS",
    "BulkFetcher",
    "CollectorResult",
    "FetchLimits",
]

DEFAULT_MAX_WAIT_FOR_ALL_COLLECTORS_S = 1.0
"""Kibana's `maximumWaitTimeForAllCollectorsInS` default: the `is_ready` timeout."""
DEFAULT_FETCH_TIMEOUT_S = 10.0
"""Ours: how long one collector's `fetch` may take before it is left out."""
DEFAULT_MAX_COLLECTOR_CONCURRENCY = 50
"""Ours (Kibana's `maxCollectorConcurrency` has no known default): async fetches running at once
(sync fetches are bounded by the worker threads, `max_threads`)."""

MAX_DROPPED_PATHS = 100
"""How many dropped paths of one collector's output `usage_collector_stats` names."""


class FetchLimits(TypedDict, total=False):
    """`BulkFetcher`'s optional settings, which `CollectorSet` passes on."""

    maximum_wait_time_for_all_collectors_s: float
    fetch_timeout_s: float
    max_collector_concurrency: int
    max_threads: int
    clock: Callable[[], float]


class CollectorResult(TypedDict):
    """One entry of `bulk_fetch`'s result."""

    type: str
    result: object


@dataclass(frozen=True, slots=True)
class _Readiness:
    ready: list[AnyCollector]
    not_ready: list[str]
    timed_out: list[str]
    durations: list[tuple[str, float]]


@dataclass(frozen=True, slots=True)
class _FetchOutcome:
    type: str
    status: FetchStatus
    result: object
    duration: float
    dropped: tuple[str, ...] = ()


class BulkFetcher:
    """Runs `is_ready` and `fetch` of collectors with timeouts, limits and dedupe."""

    def __init__(
        self,
        *,
        logger: logging.Logger,
        maximum_wait_time_for_all_collectors_s: float = DEFAULT_MAX_WAIT_FOR_ALL_COLLECTORS_S,
        fetch_timeout_s: float = DEFAULT_FETCH_TIMEOUT_S,
        max_collector_concurrency: int = DEFAULT_MAX_COLLECTOR_CONCURRENCY,
        max_threads: int = DEFAULT_MAX_THREADS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if maximum_wait_time_for_all_collectors_s <= 0 or fetch_timeout_s <= 0:
            raise ValueError("collector timeouts must be positive")
        if max_collector_concurrency < 1:
            raise ValueError("max_collector_concurrency must be at least 1")
        self._log = logger
        self.maximum_wait_time_for_all_collectors_s = maximum_wait_time_for_all_collectors_s
        self.fetch_timeout_s = fetch_timeout_s
        self.max_collector_concurrency = max_collector_concurrency
        self._clock = clock
        self._runner = BlockingRunner(max_threads)
        self._in_flight: dict[Hashable, asyncio.Task[_FetchOutcome]] = {}
        self._fetch_slots: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()

    async def are_all_ready(self, collectors: Sequence[AnyCollector]) -> bool:
        """Whether every collector is ready within the readiness timeout."""
        readiness = await self._check_readiness(collectors)
        return not readiness.not_ready and not readiness.timed_out

    async def bulk_fetch(
        self, collectors: Sequence[AnyCollector], context: CollectorFetchContext | None = None
    ) -> list[CollectorResult]:
        """``[{type, result}, ..., {type: "usage_collector_stats", result}]`` (spec 7.3).

        Never raises because of a collector; concurrent calls share in-flight fetches.
        """
        context = context or CollectorFetchContext(logger=self._log)
        self._log.debug("Getting ready collectors")
        readiness = await self._check_readiness(collectors)
        tasks = [self._shared_fetch(collector, context) for collector in readiness.ready]
        outcomes: list[_FetchOutcome] = list(
            await asyncio.gather(*(asyncio.shield(task) for task in tasks))
        )
        stats = build_usage_collector_stats(
            not_ready=readiness.not_ready,
            not_ready_timeout=readiness.timed_out,
            is_ready_durations=readiness.durations,
            fetches=[(o.type, o.status, o.duration) for o in outcomes],
            dropped_paths=[path for o in outcomes for path in o.dropped],
        )
        results: list[CollectorResult] = [
            {"type": o.type, "result": o.result}
            for o in outcomes
            if o.status != "failed" and o.result is not None
        ]
        results.append({"type": USAGE_COLLECTOR_STATS_TYPE, "result": stats})
        return results

    async def _check_readiness(self, collectors: Sequence[AnyCollector]) -> _Readiness:
        timeout = self.maximum_wait_time_for_all_collectors_s
        outcomes = await asyncio.gather(*(self._is_ready(c, timeout) for c in collectors))
        ready = [c for c, (state, _) in zip(collectors, outcomes, strict=True) if state == "ready"]
        not_ready = [c.type for c, (s, _) in zip(collectors, outcomes, strict=True) if s == "no"]
        timed_out = [c.type for c, (s, _) in zip(collectors, outcomes, strict=True) if s == "slow"]
        if timed_out:
            self._log.debug(
                "Some collectors timed out getting ready (%s). Waited for %ss and will return "
                "data from collectors that are ready.",
                ", ".join(timed_out),
                timeout,
            )
        if not_ready:
            self._log.debug(
                "Some collectors are not ready (%s). Will return data from all collectors "
                "that are ready.",
                ",".join(not_ready),
            )
        by_type = {c.type: duration for c, (_, duration) in zip(collectors, outcomes, strict=True)}
        order = [*(c.type for c in ready), *not_ready, *timed_out]
        return _Readiness(ready, not_ready, timed_out, [(t, by_type[t]) for t in order])

    async def _is_ready(self, collector: AnyCollector, wait_s: float) -> tuple[str, float]:
        """``("ready"|"no"|"slow", seconds)`` for one collector; never raises."""
        if collector.is_ready is None:
            return "ready", 0.0
        start = self._clock()
        deadline = asyncio.timeout(wait_s)
        try:
            async with deadline:
                value = await self._call(
                    ("is_ready", collector),
                    collector.is_ready,
                    is_async=collector.is_async_is_ready,
                    label=f"is_ready:{collector.type}",
                )
        except StillRunningError:
            return "slow", wait_s
        except Exception as exc:
            if isinstance(exc, TimeoutError) and deadline.expired():
                return "slow", wait_s
            self._log.debug("Collector %s failed to get ready. %s", collector.type, one_line(exc))
            return "no", self._clock() - start
        return ("ready" if value is True else "no"), self._clock() - start

    async def _call(
        self, key: Hashable, func: Callable[..., object], *args: object, is_async: bool, label: str
    ) -> object:
        """Await `func`: directly if async, else in a worker thread; await what it returns."""
        value = func(*args) if is_async else await self._runner.run(key, func, *args, label=label)
        if inspect.isawaitable(value):
            value = await value
        return value

    def _shared_fetch(
        self, collector: AnyCollector, context: CollectorFetchContext
    ) -> asyncio.Task[_FetchOutcome]:
        """The in-flight fetch of this collector (this loop), started if there is none."""
        loop = asyncio.get_running_loop()
        key: Hashable = (collector, id(context.request)) if collector.wants_request else collector
        task = self._in_flight.get(key)
        if task is not None and not task.done() and task.get_loop() is loop:
            return task
        task = loop.create_task(
            self._fetch(collector, context), name=f"usage_collection.fetch:{collector.type}"
        )
        self._in_flight[key] = task

        def forget(done: asyncio.Task[_FetchOutcome]) -> None:
            if self._in_flight.get(key) is done:
                del self._in_flight[key]

        task.add_done_callback(forget)
        return task

    async def _fetch(
        self, collector: AnyCollector, context: CollectorFetchContext
    ) -> _FetchOutcome:
        """Fetch one collector with its timeout, then prune it to its schema; never raises.

        An async fetch takes one of the loop's `max_collector_concurrency` slots; a sync fetch
        takes a worker thread instead (the `BlockingRunner` bounds those).
        """
        slots: contextlib.AbstractAsyncContextManager[object] = contextlib.nullcontext()
        if collector.is_async_fetch:
            slots = self._fetch_slots.setdefault(
                asyncio.get_running_loop(), asyncio.Semaphore(self.max_collector_concurrency)
            )
        async with slots:
            self._log.debug("Fetching data from %s collector", collector.type)
            start = self._clock()
            deadline = asyncio.timeout(self.fetch_timeout_s)
            try:
                async with deadline:
                    result = await self._call(
                        ("fetch", collector),
                        collector.fetch,
                        collector.context_for(context),
                        is_async=collector.is_async_fetch,
                        label=f"fetch:{collector.type}",
                    )
            except Exception as exc:
                return self._failed(collector, exc, deadline.expired(), start)
            duration = self._clock() - start
        if collector.schema is None or result is None:
            return _FetchOutcome(collector.type, "success", result, duration)
        result, violations = await prune_in_slices(collector.schema, result, MAX_DROPPED_PATHS)
        if not violations:
            return _FetchOutcome(collector.type, "success", result, duration)
        self._log.warning(
            "Dropped what does not match the schema from the %s collector's output: %s",
            collector.type,
            "; ".join(str(v) for v in violations[:3]) + ("; ..." if len(violations) > 3 else ""),
        )
        dropped = tuple(".".join(filter(None, (collector.type, v.path))) for v in violations)
        return _FetchOutcome(collector.type, "schema_violation", result, duration, dropped)

    def _failed(
        self, collector: AnyCollector, exc: Exception, timed_out: bool, start: float
    ) -> _FetchOutcome:
        """Log one line for a failed fetch and return its outcome."""
        if timed_out:
            self._log.warning(
                "Unable to fetch data from %s collector: timed out after %ss",
                collector.type,
                self.fetch_timeout_s,
            )
            return _FetchOutcome(collector.type, "failed", None, self.fetch_timeout_s)
        still_running = isinstance(exc, StillRunningError)
        self._log.warning(
            "Unable to fetch data from %s collector: %s",
            collector.type,
            "its fetch from an earlier collection is still running"
            if still_running
            else one_line(exc),
            exc_info=exc if self._log.isEnabledFor(logging.DEBUG) and not still_running else None,
        )
        return _FetchOutcome(collector.type, "failed", None, self._clock() - start)
