"""The ingest's worker threads: results, errors, the thread cap, cancellation, close."""

from __future__ import annotations

import asyncio
import threading

import pytest

from telemetry_service.receiver.threads import WorkerThreads

pytestmark = pytest.mark.anyio


def _named(prefix: str) -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith(prefix)}


async def test_a_call_runs_in_a_worker_thread_and_returns_or_raises() -> None:
    workers = WorkerThreads(2, "t-result")
    try:
        assert await workers.run(lambda a, b: (a + b, threading.current_thread().name), 1, 2) == (
            3,
            "t-result-1",
        )
        with pytest.raises(ZeroDivisionError):
            await workers.run(lambda: 1 / 0)
    finally:
        workers.close()


async def test_at_most_count_calls_run_at_once() -> None:
    workers = WorkerThreads(2, "t-cap")
    running, most, lock, gate = 0, 0, threading.Lock(), threading.Event()

    def call() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        gate.wait(5)
        with lock:
            running -= 1

    calls = [asyncio.ensure_future(workers.run(call)) for _ in range(5)]
    await asyncio.sleep(0.2)
    assert (most, len(_named("t-cap-"))) == (2, 2)
    gate.set()
    await asyncio.gather(*calls)
    workers.close()


async def test_a_cancelled_caller_waits_for_its_call_and_the_threads_stop_on_close() -> None:
    """A cancelled request keeps its in-flight slot and byte budget until its decrypt ends
    (review finding: the slot was freed while the call still held the body's memory)."""
    workers = WorkerThreads(1, "t-close")
    gate = threading.Event()
    waiting = asyncio.ensure_future(workers.run(gate.wait, 5))
    await asyncio.sleep(0.05)
    waiting.cancel()
    await asyncio.sleep(0.05)
    waiting.cancel()  # a second cancel does not cut the wait short either
    await asyncio.sleep(0.05)
    assert not waiting.done(), "the caller stopped waiting while its call still ran"
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await workers.run(lambda: "next") == "next"  # the thread outlived the cancel
    workers.close()
    for _ in range(100):
        if not _named("t-close-"):
            break
        await asyncio.sleep(0.01)
    assert not _named("t-close-")
    assert await workers.run(lambda: threading.current_thread().name) == "t-close-1"
    workers.close()


async def test_a_call_that_raises_stop_iteration_reaches_the_caller_as_runtime_error() -> None:
    """A Future cannot hold StopIteration: before, the caller waited for ever."""
    workers = WorkerThreads(1, "t-stop")

    def stop() -> None:
        raise StopIteration

    try:
        with pytest.raises(RuntimeError, match="StopIteration"):
            await asyncio.wait_for(workers.run(stop), 5)
    finally:
        workers.close()
