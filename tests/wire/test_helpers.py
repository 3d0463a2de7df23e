"""The encryptor's helper threads: calls run in at most `limit` threads, which leave once idle,
never with a job left behind."""

from __future__ import annotations

import functools
import random
import threading
import time
import weakref
from concurrent.futures import Future

import pytest

from telemetry_service.wire import helpers as helpers_module
from telemetry_service.wire.helpers import HelperThreads
from tests.support.waiting import wait_until


def _alive(prefix: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix)]


def test_a_call_runs_in_a_helper_thread_and_its_error_reaches_the_caller() -> None:
    pool = HelperThreads(2, "helpers-a")
    assert pool.submit(lambda: threading.current_thread().name).result(10) == "helpers-a-1"

    def fails() -> None:
        raise ValueError("from the helper")

    with pytest.raises(ValueError, match="from the helper"):
        pool.submit(fails).result(10)


def test_no_more_than_the_limit_run_at_once_and_every_call_runs() -> None:
    pool = HelperThreads(2, "helpers-b")
    release = threading.Event()
    running: list[str] = []
    lock = threading.Lock()

    def job(n: int) -> int:
        with lock:
            running.append(threading.current_thread().name)
        release.wait(10)
        return n * n

    futures = [pool.submit(functools.partial(job, n)) for n in range(6)]
    wait_until(lambda: len(running) == 2, timeout=10, what="two calls running", interval=0.005)
    time.sleep(0.05)  # a third helper would have started by now
    assert len(running) == 2
    assert pool.threads == 2
    assert sorted(_alive("helpers-b-")) == ["helpers-b-1", "helpers-b-2"]
    release.set()
    assert [f.result(10) for f in futures] == [n * n for n in range(6)]
    assert set(running) == {"helpers-b-1", "helpers-b-2"}


@pytest.mark.real_clock  # a helper's idle wait is a timed wait
def test_an_idle_helper_leaves_and_a_later_call_starts_one_anew() -> None:
    pool = HelperThreads(2, "helpers-c", idle_s=0.5)
    assert pool.submit(lambda: 1).result(10) == 1
    assert pool.threads == 1
    wait_until(
        lambda: pool.threads == 0 and not _alive("helpers-c-"),
        timeout=10,
        what="the idle helper left",
        interval=0.005,
    )
    assert pool.submit(lambda: threading.current_thread().name).result(10) == "helpers-c-2"


@pytest.mark.real_clock
def test_calls_that_come_as_helpers_leave_all_run() -> None:
    """Calls timed around the helpers' idle wait (1 ms): whatever the interleaving of a helper
    that gives up waiting and a call handed to it, every call runs."""
    pool = HelperThreads(2, "helpers-d", idle_s=0.001)
    rng = random.Random(14)
    futures: list[Future[int]] = []
    for n in range(300):
        futures.append(pool.submit(functools.partial(int, n)))
        if rng.random() < 0.5:
            time.sleep(rng.choice((0.0005, 0.001, 0.0015, 0.002)))
    assert [f.result(10) for f in futures] == list(range(300))
    wait_until(lambda: pool.threads == 0, timeout=10, what="every helper left", interval=0.005)


def test_an_idle_helper_holds_nothing_of_its_last_call() -> None:
    class Payload:
        pass

    pool = HelperThreads(1, "helpers-e")
    payload = Payload()
    alive = weakref.ref(payload)
    future = pool.submit(functools.partial(lambda value: value, payload))
    assert future.result(10) is payload
    del payload, future
    wait_until(
        lambda: alive() is None,
        timeout=10,
        what="the payload freed while its helper idles",
        interval=0.005,
    )
    assert pool.threads == 1


def test_a_submit_from_a_helper_raises_instead_of_waiting_for_another() -> None:
    """With two helpers, three calls that each wait for one submitted from inside would wait
    for each other forever: a submit from a helper is refused, and its caller does the work."""
    pool = HelperThreads(2, "helpers-g")

    def nested() -> str:
        with pytest.raises(RuntimeError, match="may not wait for another helper"):
            pool.submit(lambda: None)
        return "ran inline"

    assert pool.submit(nested).result(10) == "ran inline"
    assert pool.submit(lambda: "and the pool still works").result(10) == "and the pool still works"


def test_a_helper_that_cannot_start_raises_and_queues_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Out of threads (or at interpreter exit on Python 3.12+), ``Thread.start`` raises: the
    caller hears of it before anything is queued, so the call never runs behind its back."""
    calls: list[int] = []

    class NoThread(threading.Thread):
        def start(self) -> None:
            raise RuntimeError("can't start new thread")

    pool = HelperThreads(2, "helpers-f")
    monkeypatch.setattr(helpers_module.threading, "Thread", NoThread)
    with pytest.raises(RuntimeError, match="can't start new thread"):
        pool.submit(lambda: calls.append(1))
    assert pool.threads == 0
    monkeypatch.undo()
    assert pool.submit(lambda: calls.append(2)).result(10) is None
    assert calls == [2]
