from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from telemetry_service.plugins.usage_collection.blocking import BlockingRunner, StillRunningError

pytestmark = pytest.mark.anyio


async def test_runs_in_a_daemon_thread_and_returns_the_result() -> None:
    runner = BlockingRunner(2)
    seen: list[threading.Thread] = []

    def work(x: int) -> int:
        seen.append(threading.current_thread())
        return x * 2

    assert await runner.run("k", work, 21, label="fetch:x") == 42
    assert seen[0] is not threading.main_thread()
    assert seen[0].daemon
    assert seen[0].name == "collector:fetch:x"


async def test_exceptions_reach_the_caller() -> None:
    def boom() -> None:
        raise KeyError("nope")

    with pytest.raises(KeyError, match="nope"):
        await BlockingRunner().run("k", boom)


async def test_stop_iteration_becomes_a_runtime_error() -> None:
    def exhausted() -> int:
        return next(iter([]))

    with pytest.raises(RuntimeError, match="raised StopIteration"):
        await asyncio.wait_for(BlockingRunner().run("k", exhausted), 1)


async def test_blocking_calls_do_not_block_the_loop_and_run_in_parallel() -> None:
    runner = BlockingRunner(10)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    tick_task = asyncio.create_task(ticker())
    start = time.monotonic()
    await asyncio.gather(*(runner.run(i, time.sleep, 0.1) for i in range(10)))
    elapsed = time.monotonic() - start
    tick_task.cancel()
    assert elapsed < 0.5  # 10 x 100 ms in parallel, not 1 s
    assert ticks >= 5  # the loop kept running meanwhile


async def test_at_most_max_threads_run_at_once() -> None:
    runner = BlockingRunner(3)
    lock = threading.Lock()
    active = peak = 0

    def work() -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.03)
        with lock:
            active -= 1

    await asyncio.gather(*(runner.run(i, work) for i in range(9)))
    assert peak == 3


async def test_an_abandoned_call_keeps_its_key_and_slot_until_the_thread_ends() -> None:
    runner = BlockingRunner(1)
    release = threading.Event()

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await runner.run("hung", release.wait)
    assert runner.running == 1
    with pytest.raises(StillRunningError):
        await runner.run("hung", release.wait)
    # the only slot is still taken by the hung thread: another key waits for it
    other = asyncio.create_task(runner.run("other", lambda: "done"))
    await asyncio.sleep(0.05)
    assert not other.done()
    release.set()
    assert await asyncio.wait_for(other, 1) == "done"
    assert runner.running == 0


async def test_context_variables_are_visible_in_the_thread() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var")
    var.set("from the caller")
    assert await BlockingRunner().run("k", var.get) == "from the caller"


def test_max_threads_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        BlockingRunner(0)
