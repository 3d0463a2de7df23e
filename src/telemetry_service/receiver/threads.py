"""The ingest's worker threads: the hop from the event loop to a thread and back, made lean.

A call is one queue put and, when it is done, one ``call_soon_threadsafe`` that resolves an
asyncio future: no ``concurrent.futures.Future``, its lock and condition, nor the callbacks that
chain it to the loop (``run_in_executor``), nor anyio's task-group and limiter bookkeeping
(``anyio.to_thread``). The loop's CPU a hop, beyond a task switch: ~3 µs, against ~14 and
~39 µs (docs/benchmarks.md, "Ingest").
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["WorkerThreads"]

T = TypeVar("T")
_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class WorkerThreads:
    """At most `count` threads that run blocking calls for the event loop, started on the
    first call; :meth:`close` lets them go once the calls queued before it are done."""

    def __init__(self, count: int, name: str) -> None:
        self._count = count
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._started = 0

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker thread; its result or exception. A cancelled caller
        waits for the call to end before the cancellation goes on (as ``anyio.to_thread``
        does): what the caller holds for the call, an in-flight slot and the body's share of
        the byte budget, stays held while the call still uses memory."""
        if self._started < self._count:
            self._started += 1
            name = f"{self._name}-{self._started}"
            threading.Thread(target=_work, args=(self._jobs,), name=name, daemon=True).start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, fn, args))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            while not future.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(future)
            if not future.cancelled():
                future.exception()  # retrieved: the caller was cancelled, nobody else waits
            raise

    def close(self) -> None:
        """Stop the threads after the calls already queued (a later call starts new ones,
        on a queue of their own)."""
        for _ in range(self._started):
            self._jobs.put(None)
        self._jobs = queue.SimpleQueue()
        self._started = 0


def _work(jobs: queue.SimpleQueue[_Job | None]) -> None:
    while _run(jobs.get()):
        pass


def _run(job: _Job | None) -> bool:
    """Run `job` and hand its outcome to its loop; False for the sentinel. A function of its
    own so that an idle thread holds nothing of its last job (its arguments, its result)."""
    if job is None:
        return False
    loop, future, fn, args = job
    outcome: tuple[Any, BaseException | None]
    try:
        outcome = (fn(*args), None)
    except StopIteration as exc:  # a Future cannot hold it
        outcome = (None, RuntimeError(f"{fn!r} raised StopIteration"))
        outcome[1].__cause__ = exc
    except BaseException as exc:  # handed to the caller, whatever it is
        outcome = (None, exc)
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
        loop.call_soon_threadsafe(_resolve, future, *outcome)
    # An exception's traceback holds this frame (and the future holds the exception): leave
    # nothing in it, so that no cycle keeps the job's arguments until a collection.
    del job, loop, future, fn, args, outcome
    return True


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
