"""`bulk_fetch` behaviour: shape, fault isolation, threads and limits, dedupe (spec 7.3)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from telemetry_service.plugins.usage_collection.collector import (
    CollectorFetchContext,
    make_stats_collector,
    make_usage_collector,
)
from telemetry_service.plugins.usage_collection.collector_set import CollectorSet
from telemetry_service.plugins.usage_collection.collector_stats import (
    USAGE_COLLECTOR_STATS_SCHEMA,
)
from telemetry_service.plugins.usage_collection.schema_values import validate_value
from telemetry_service.testing import FakeClock

LOGGER = "test.usage_collection"
COUNT = {"count": {"type": "long"}}
EMPTY_GROUP = {"count": 0, "names": []}


def empty(context: CollectorFetchContext) -> dict[str, Any]:
    return {}


def make_set(**options: Any) -> CollectorSet:
    return CollectorSet(logger=logging.getLogger(LOGGER), **options)


def stats_of(results: list[Any]) -> dict[str, Any]:
    last = results[-1]
    assert last["type"] == "usage_collector_stats"
    stats: dict[str, Any] = last["result"]
    return stats


def warnings_from(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.fixture
def caplog_debug(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    return caplog


# ----------------------------------------------------------------------------- bulk_fetch shape


@pytest.mark.anyio
async def test_result_and_stats_have_kibanas_exact_shape() -> None:
    async def is_ready() -> bool:
        return True

    async def fetch(context: CollectorFetchContext) -> dict[str, int]:
        return {"count": 1000}

    collectors = make_set(clock=FakeClock(tick=0.25).monotonic)
    collectors.register_collector(
        make_usage_collector(type="MY_TEST_COLLECTOR", fetch=fetch, is_ready=is_ready, schema=COUNT)
    )
    assert await collectors.bulk_fetch() == [
        {"type": "MY_TEST_COLLECTOR", "result": {"count": 1000}},
        {
            "type": "usage_collector_stats",
            "result": {
                "not_ready": EMPTY_GROUP,
                "not_ready_timeout": EMPTY_GROUP,
                "succeeded": {"count": 1, "names": ["MY_TEST_COLLECTOR"]},
                "failed": EMPTY_GROUP,
                "schema_violation": EMPTY_GROUP,
                "schema_violation_paths": [],
                "total_is_ready_duration": 250.0,
                "total_fetch_duration": 250.0,
                "total_duration": 500.0,
                "is_ready_duration_breakdown": [{"name": "MY_TEST_COLLECTOR", "duration": 250.0}],
                "fetch_duration_breakdown": [{"name": "MY_TEST_COLLECTOR", "duration": 250.0}],
            },
        },
    ]


@pytest.mark.anyio
async def test_with_no_collectors_only_the_stats_are_returned() -> None:
    results = await make_set().bulk_fetch()
    assert [r["type"] for r in results] == ["usage_collector_stats"]
    assert stats_of(results)["total_duration"] == 0


@pytest.mark.anyio
async def test_collectors_that_are_not_ready_are_skipped() -> None:
    fetched: list[str] = []

    def fetcher(name: str) -> Callable[[CollectorFetchContext], dict[str, Any]]:
        def fetch(context: CollectorFetchContext) -> dict[str, Any]:
            fetched.append(name)
            return {}

        return fetch

    def broken_is_ready() -> bool:
        raise RuntimeError("no store yet")

    collectors = make_set()
    readiness: list[tuple[str, Any]] = [
        ("ready_col", lambda: True),
        ("not_ready_col", lambda: False),
        ("raising_col", broken_is_ready),
        ("truthy_col", lambda: "yes"),  # only True means ready
        ("default_col", None),
    ]
    for name, is_ready in readiness:
        collectors.register_collector(
            make_usage_collector(type=name, fetch=fetcher(name), is_ready=is_ready, schema={})
        )
    results = await collectors.bulk_fetch()
    assert sorted(fetched) == ["default_col", "ready_col"]
    assert [r["type"] for r in results] == ["ready_col", "default_col", "usage_collector_stats"]
    stats = stats_of(results)
    assert stats["not_ready"] == {
        "count": 3,
        "names": ["not_ready_col", "raising_col", "truthy_col"],
    }
    assert stats["succeeded"] == {"count": 2, "names": ["ready_col", "default_col"]}
    assert [d["name"] for d in stats["is_ready_duration_breakdown"]] == [
        "ready_col",
        "default_col",
        "not_ready_col",
        "raising_col",
        "truthy_col",
    ]
    assert [d["name"] for d in stats["fetch_duration_breakdown"]] == ["ready_col", "default_col"]


@pytest.mark.anyio
async def test_none_results_are_omitted_but_count_as_succeeded() -> None:
    collectors = make_set()
    collectors.register_collector(make_stats_collector(type="nothing", fetch=lambda c: None))
    results = await collectors.bulk_fetch()
    assert [r["type"] for r in results] == ["usage_collector_stats"]
    assert stats_of(results)["succeeded"] == {"count": 1, "names": ["nothing"]}


@pytest.mark.anyio
async def test_stats_collectors_without_schema_pass_through_and_with_schema_are_checked() -> None:
    """Kibana lets a stats collector go without a schema, and checks one when it is given.

    Kibana: packages/kbn-telemetry-tools/src/tools/__fixture__/telemetry_collectors/
    stats_collector.ts ("Stats Collectors are allowed with schema and without them. We should
    collect them when the schema is defined."); src/plugins/usage_collection/server/collector/
    types.ts (``schema?`` in CollectorOptions).
    """
    collectors = make_set()
    collectors.register_collector(
        make_stats_collector(type="free", fetch=lambda c: {"anything": {"goes": [1]}})
    )
    collectors.register_collector(
        make_stats_collector(type="checked", fetch=lambda c: {"count": "x"}, schema=COUNT)
    )
    results = await collectors.bulk_fetch()
    assert collectors.to_object(results)["free"] == {"anything": {"goes": [1]}}
    assert collectors.to_object(results)["checked"] == {}
    assert stats_of(results)["schema_violation"] == {"count": 1, "names": ["checked"]}
    assert stats_of(results)["schema_violation_paths"] == ["checked.count"]


@pytest.mark.anyio
async def test_a_stray_field_is_dropped_and_named_the_rest_is_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only what breaks the schema is dropped (never sent); the rest of the output is reported.

    Kibana: src/plugins/usage_collection/server/collector/collector_set.ts (``bulkFetch`` reports
    every ready collector's fetched result; no output is discarded for its shape); ours names the
    dropped paths in ``usage_collector_stats`` (collector_stats/usage_collector_stats_collector.ts
    is Kibana's shape, ``schema_violation_paths`` our addition).
    """
    schema = {
        "count": {"type": "long"},
        "apps": {"type": "array", "items": {"name": {"type": "keyword"}}},
    }

    def fetch(context: CollectorFetchContext) -> dict[str, Any]:
        apps = [{"name": "a"}, {"name": "b", "secret": "MARKER-1"}, "MARKER-2"]
        return {"count": 7, "apps": apps, "stray": "MARKER-3"}

    collectors = make_set()
    collectors.register_collector(make_usage_collector(type="mine", fetch=fetch, schema=schema))
    results = await collectors.bulk_fetch()
    assert collectors.to_object(results)["mine"] == {
        "count": 7,
        "apps": [{"name": "a"}, {"name": "b"}],
    }
    stats = stats_of(results)
    assert stats["schema_violation"] == {"count": 1, "names": ["mine"]}
    assert stats["succeeded"] == EMPTY_GROUP
    assert stats["schema_violation_paths"] == [
        "mine.apps[1].secret",
        "mine.apps[2]",
        "mine.stray",
    ]
    assert "MARKER" not in json.dumps(results)
    assert validate_value(USAGE_COLLECTOR_STATS_SCHEMA, stats) == []
    (warning,) = warnings_from(caplog)
    assert "from the mine collector's output" in warning
    assert "stray: field is not declared" in warning
    assert "MARKER" not in caplog.text


@pytest.mark.anyio
async def test_an_output_of_the_wrong_kind_is_dropped_whole() -> None:
    collectors = make_set()
    collectors.register_collector(
        make_usage_collector(type="listy", fetch=lambda c: ["not", "an", "object"], schema=COUNT)
    )
    results = await collectors.bulk_fetch()
    assert "listy" not in collectors.to_object(results)
    assert stats_of(results)["schema_violation_paths"] == ["listy"]


# ----------------------------------------------------------------------------- fault isolation


@pytest.mark.anyio
async def test_bad_collectors_are_left_out_named_and_logged_once(
    caplog_debug: pytest.LogCaptureFixture,
) -> None:
    never = threading.Event()

    async def good(context: CollectorFetchContext) -> dict[str, int]:
        return {"count": 7}

    def raises(context: CollectorFetchContext) -> dict[str, int]:
        raise ValueError("database is locked")

    async def slow_is_ready() -> bool:
        await asyncio.sleep(10)
        return True

    def slow_is_ready_fetch(context: CollectorFetchContext) -> dict[str, str]:
        return {"leak": "MARKER-NOT-READY"}

    async def hangs(context: CollectorFetchContext) -> dict[str, str]:
        await asyncio.sleep(60)
        return {"leak": "MARKER-HANG"}

    def hangs_in_thread(context: CollectorFetchContext) -> dict[str, str]:
        never.wait(5)
        return {"leak": "MARKER-THREAD"}

    def violates(context: CollectorFetchContext) -> dict[str, Any]:
        return {"count": "MARKER-WRONG-TYPE", "extra": "MARKER-UNDECLARED"}

    collectors = make_set(maximum_wait_time_for_all_collectors_s=0.2, fetch_timeout_s=0.3)
    collectors.register_collector(make_usage_collector(type="good", fetch=good, schema=COUNT))
    collectors.register_collector(make_usage_collector(type="raises", fetch=raises, schema=COUNT))
    collectors.register_collector(
        make_stats_collector(type="not_ready", fetch=slow_is_ready_fetch, is_ready=slow_is_ready)
    )
    collectors.register_collector(make_stats_collector(type="hangs", fetch=hangs))
    collectors.register_collector(make_stats_collector(type="hangs_sync", fetch=hangs_in_thread))
    collectors.register_collector(
        make_usage_collector(type="violates", fetch=violates, schema=COUNT)
    )

    start = time.monotonic()
    results = await collectors.bulk_fetch()
    elapsed = time.monotonic() - start
    never.set()

    # bounded by the readiness wait plus one fetch timeout, not by the hanging collectors
    assert 0.45 <= elapsed < 1.2
    assert collectors.to_object(results)["good"] == {"count": 7}
    assert collectors.to_object(results)["violates"] == {}  # both fields broke the schema
    assert [r["type"] for r in results] == ["good", "violates", "usage_collector_stats"]
    assert "MARKER" not in json.dumps(results)
    stats = stats_of(results)
    assert stats["succeeded"] == {"count": 1, "names": ["good"]}
    assert stats["failed"] == {"count": 3, "names": ["raises", "hangs", "hangs_sync"]}
    assert stats["not_ready_timeout"] == {"count": 1, "names": ["not_ready"]}
    assert stats["schema_violation"] == {"count": 1, "names": ["violates"]}
    assert stats["not_ready"] == EMPTY_GROUP
    durations = {d["name"]: d["duration"] for d in stats["fetch_duration_breakdown"]}
    assert durations["hangs"] == durations["hangs_sync"] == 300.0  # counted at the timeout
    ready_durations = {d["name"]: d["duration"] for d in stats["is_ready_duration_breakdown"]}
    assert ready_durations["not_ready"] == 200.0
    assert validate_value(USAGE_COLLECTOR_STATS_SCHEMA, stats) == []

    warnings = warnings_from(caplog_debug)
    assert len(warnings) == 4  # one line each for raises, hangs, hangs_sync, violates
    assert all("\n" not in w for w in warnings)
    assert "MARKER" not in caplog_debug.text
    assert "Unable to fetch data from raises collector: ValueError: database is locked" in warnings
    assert "Unable to fetch data from hangs collector: timed out after 0.3s" in warnings
    assert any("from the violates collector's output" in w for w in warnings)
    assert any("count: expected long (an integer), got str; extra: field is" in w for w in warnings)


@pytest.mark.anyio
async def test_a_collector_that_raises_timeout_error_itself_is_a_plain_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fetch(context: CollectorFetchContext) -> None:
        raise TimeoutError("upstream timed out")

    collectors = make_set(fetch_timeout_s=5)
    collectors.register_collector(make_stats_collector(type="own_timeout", fetch=fetch))
    stats = stats_of(await collectors.bulk_fetch())
    assert stats["failed"]["names"] == ["own_timeout"]
    assert stats["fetch_duration_breakdown"][0]["duration"] < 5000
    assert "TimeoutError: upstream timed out" in caplog.text


@pytest.mark.anyio
async def test_a_hung_sync_collector_never_gets_a_second_thread(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()
    calls = 0

    def hangs(context: CollectorFetchContext) -> dict[str, int]:
        nonlocal calls
        calls += 1
        release.wait(5)
        return {"count": 1}

    collectors = make_set(fetch_timeout_s=0.1)
    collectors.register_collector(make_stats_collector(type="hangs", fetch=hangs))
    try:
        first = stats_of(await collectors.bulk_fetch())
        start = time.monotonic()
        second = stats_of(await collectors.bulk_fetch())
        assert time.monotonic() - start < 0.1  # failed at once, no second wait
    finally:
        release.set()
    assert first["failed"]["names"] == second["failed"]["names"] == ["hangs"]
    assert calls == 1
    assert "its fetch from an earlier collection is still running" in caplog.text


@pytest.mark.anyio
async def test_an_is_ready_that_is_still_hung_times_out_at_once() -> None:
    release = threading.Event()

    def is_ready() -> bool:
        return release.wait(5)

    collectors = make_set(maximum_wait_time_for_all_collectors_s=0.1)
    collectors.register_collector(make_stats_collector(type="x", fetch=empty, is_ready=is_ready))
    try:
        await collectors.bulk_fetch()
        start = time.monotonic()
        stats = stats_of(await collectors.bulk_fetch())
        assert time.monotonic() - start < 0.1
    finally:
        release.set()
    assert stats["not_ready_timeout"]["names"] == ["x"]


# ----------------------------------------------------------------------------- threads and limits


@pytest.mark.anyio
async def test_sync_fetch_and_is_ready_run_off_the_event_loop() -> None:
    threads: list[str] = []

    def is_ready() -> bool:
        threads.append(threading.current_thread().name)
        return True

    def fetch(context: CollectorFetchContext) -> dict[str, int]:
        threads.append(threading.current_thread().name)
        return {"count": 1}

    collectors = make_set()
    collectors.register_collector(
        make_usage_collector(type="sync", fetch=fetch, is_ready=is_ready, schema=COUNT)
    )
    await collectors.bulk_fetch()
    assert threads == ["collector:is_ready:sync", "collector:fetch:sync"]


@pytest.mark.anyio
async def test_a_sync_fetch_returning_an_awaitable_is_awaited() -> None:
    async def compute() -> dict[str, int]:
        return {"count": 5}

    collectors = make_set()
    collectors.register_collector(
        make_usage_collector(type="lazy", fetch=lambda c: compute(), schema=COUNT)
    )
    assert collectors.to_object(await collectors.bulk_fetch())["lazy"] == {"count": 5}


class PeakFetch:
    """An async fetch that records how many of its calls ran at once, at most."""

    def __init__(self) -> None:
        self.active = self.peak = 0

    async def __call__(self, context: CollectorFetchContext) -> dict[str, int]:
        self.active += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(0.01)
        self.active -= 1
        return {"count": 1}


@pytest.mark.anyio
async def test_fetch_concurrency_is_limited() -> None:
    fetch = PeakFetch()
    collectors = make_set(max_collector_concurrency=2)
    for i in range(6):
        collectors.register_collector(make_usage_collector(type=f"c{i}", fetch=fetch, schema=COUNT))
    stats = stats_of(await collectors.bulk_fetch())
    assert fetch.peak == 2
    assert stats["succeeded"]["count"] == 6


@pytest.mark.anyio
async def test_sync_fetches_wait_for_a_thread_not_for_an_async_fetch_slot() -> None:
    # Four blocking fetches meet at a barrier: they only all succeed if they run at once, although
    # the async fetches are limited to two at a time (the limit still holds for those).
    barrier = threading.Barrier(4, timeout=5)
    fetch = PeakFetch()

    def blocking(context: CollectorFetchContext) -> dict[str, int]:
        barrier.wait()
        return {"count": 2}

    collectors = make_set(max_collector_concurrency=2, max_threads=4)
    for i in range(4):
        collectors.register_collector(make_usage_collector(type=f"a{i}", fetch=fetch, schema=COUNT))
        collectors.register_collector(
            make_usage_collector(type=f"s{i}", fetch=blocking, schema=COUNT)
        )
    stats = stats_of(await collectors.bulk_fetch())
    assert stats["failed"]["names"] == []
    assert stats["succeeded"]["count"] == 8
    assert fetch.peak == 2


# ----------------------------------------------------------------------------- dedupe


@pytest.mark.anyio
async def test_concurrent_bulk_fetches_share_one_fetch_per_collector() -> None:
    calls = 0
    started = asyncio.Event()

    async def fetch(context: CollectorFetchContext) -> dict[str, int]:
        nonlocal calls
        calls += 1
        started.set()
        await asyncio.sleep(0.05)
        return {"count": calls}

    collectors = make_set()
    collectors.register_collector(make_usage_collector(type="shared", fetch=fetch, schema=COUNT))
    first, second = await asyncio.gather(collectors.bulk_fetch(), collectors.bulk_fetch())
    assert calls == 1
    assert collectors.to_object(first)["shared"] == collectors.to_object(second)["shared"]
    await collectors.bulk_fetch()
    assert calls == 2  # nothing is cached once the fetch is over


@pytest.mark.anyio
async def test_a_cancelled_caller_does_not_cancel_the_shared_fetch() -> None:
    calls = 0

    async def fetch(context: CollectorFetchContext) -> dict[str, int]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return {"count": 1}

    collectors = make_set()
    collectors.register_collector(make_usage_collector(type="shared", fetch=fetch, schema=COUNT))
    doomed = asyncio.create_task(collectors.bulk_fetch())
    await asyncio.sleep(0.01)
    survivor = asyncio.create_task(collectors.bulk_fetch())
    await asyncio.sleep(0.01)
    doomed.cancel()
    results = await survivor
    assert collectors.to_object(results)["shared"] == {"count": 1}
    assert calls == 1


@pytest.mark.anyio
async def test_collectors_that_see_the_request_are_not_shared_across_requests() -> None:
    seen: list[object] = []

    async def fetch(context: CollectorFetchContext) -> dict[str, int]:
        seen.append(context.request)
        await asyncio.sleep(0.02)
        return {"count": len(seen)}

    collectors = make_set()
    collectors.register_collector(
        make_usage_collector(
            type="scoped", fetch=fetch, schema=COUNT, extend_fetch_context={"request": True}
        )
    )
    alice, bob = object(), object()
    await asyncio.gather(
        collectors.bulk_fetch(CollectorFetchContext(request=alice)),
        collectors.bulk_fetch(CollectorFetchContext(request=bob)),
    )
    assert seen == [alice, bob]
