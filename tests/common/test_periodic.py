"""PeriodicTask: the schedule each step sets, one line per failure, and a bounded stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from telemetry_service.common.periodic import PeriodicTask
from telemetry_service.testing import FakeSleep

pytestmark = pytest.mark.anyio

LOG = logging.getLogger("test.periodic")


async def forever() -> float:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def steps(*results: float | Exception) -> tuple[list[int], PeriodicTask, FakeSleep]:
    """A task whose step returns (or raises) ``results`` in turn, then blocks."""
    calls: list[int] = []
    sleep = FakeSleep()

    async def step() -> float:
        calls.append(len(calls))
        if len(calls) > len(results):
            return await forever()
        result = results[len(calls) - 1]
        if isinstance(result, Exception):
            raise result
        return result

    return calls, PeriodicTask("job", step, sleep=sleep, log=LOG, retry_delay=30.0), sleep


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


async def test_each_step_sets_the_next_wait() -> None:
    calls, task, sleep = steps(1.0, 2.5, 60.0)
    task.start()
    assert task.running
    await until(lambda: len(calls) == 4)
    await task.stop()
    assert sleep.delays == [1.0, 2.5, 60.0]
    assert not task.running


async def test_first_delay_comes_before_the_first_step() -> None:
    sleep = FakeSleep()
    ran = asyncio.Event()

    async def step() -> float:
        ran.set()
        return await forever()

    task = PeriodicTask("job", step, sleep=sleep, log=LOG, first_delay=300.0)
    task.start()
    await asyncio.wait_for(ran.wait(), 5)
    await task.stop()
    assert sleep.delays == [300.0]


async def test_a_failing_step_is_one_line_and_the_task_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOG.name)
    calls, task, sleep = steps(ValueError("store down\n  at host 10.0.0.1 " + "x" * 500), 5.0)
    task.start()
    await until(lambda: len(calls) == 3)
    await task.stop()
    assert sleep.delays == [30.0, 5.0]  # retry_delay after the failure, then the step's own
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert message.startswith("job failed: ValueError: store down at host 10.0.0.1 xxx")
    assert "\n" not in message
    assert len(message) < 250
    assert not record.exc_info  # no traceback at the default level


async def test_the_traceback_is_logged_only_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOG.name)
    calls, task, _ = steps(RuntimeError("boom"))
    assert await task.run_once() == 30.0
    [record] = caplog.records
    assert record.getMessage() == "job failed: RuntimeError: boom"
    assert record.exc_info is not None


async def test_stop_cancels_the_wait() -> None:
    ran = asyncio.Event()

    async def step() -> float:
        ran.set()
        return 3600.0

    task = PeriodicTask("job", step, log=LOG)  # the real asyncio.sleep
    task.start()
    await asyncio.wait_for(ran.wait(), 5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await task.stop(timeout_s=30.0)
    assert loop.time() - started < 1.0
    assert not task.running


async def test_stop_lets_a_running_step_finish_when_asked() -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    finished: list[bool] = []

    async def step() -> float:
        entered.set()
        await release.wait()
        finished.append(True)
        return 0.0

    task = PeriodicTask("flush", step, sleep=FakeSleep(), log=LOG, cancel_step=False)
    task.start()
    await asyncio.wait_for(entered.wait(), 5)
    stopping = asyncio.create_task(task.stop(timeout_s=5.0))
    await asyncio.sleep(0.05)
    assert not stopping.done()
    release.set()
    await asyncio.wait_for(stopping, 5)
    assert finished == [True]  # it finished, and no step ran after the stop


async def test_a_step_left_to_finish_is_cancelled_at_the_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cancelled = asyncio.Event()

    async def step() -> float:
        try:
            return await forever()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = PeriodicTask("flush", step, log=LOG, cancel_step=False)
    task.start()
    await asyncio.sleep(0)
    await task.stop(timeout_s=0.05)
    await asyncio.wait_for(cancelled.wait(), 5)
    assert "flush did not stop within 0.1s; cancelled" in caplog.messages


async def test_stop_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    async def broken_sleep(seconds: float) -> None:
        raise OSError("no timer")

    async def step() -> float:
        return 1.0

    task = PeriodicTask("job", step, sleep=broken_sleep, log=LOG)
    await task.stop()  # never started: nothing to do
    task.start()
    await asyncio.sleep(0.01)  # the loop has died on its sleep
    await task.stop()
    await task.stop()  # twice is fine
    assert caplog.messages == ["job ended: OSError: no timer"]
