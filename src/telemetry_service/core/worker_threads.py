"""Worker threads started with the platform instead of on demand.

The store's transactions (anyio's worker threads) and ``asyncio.to_thread`` (the loop's default
executor) start a thread the first time every thread already started is busy, and
``Thread.start`` waits, on the event loop, until the new thread has run: on a busy machine that
wait is tens of milliseconds. :func:`start_worker_threads` starts `ANYIO_THREADS` and
`EXECUTOR_THREADS` threads at platform start, before anything waits on the loop. Both pools
keep their own bounds (anyio: 40 threads, the store: 8 transactions at once, the default
executor: ``min(32, CPUs + 4)``); anyio stops a thread that stayed idle 10 s, and starts one
again on demand.
"""

from __future__ import annotations

import asyncio
import logging
import threading

import anyio.to_thread

__all__ = ["ANYIO_THREADS", "EXECUTOR_THREADS", "start_worker_threads"]

ANYIO_THREADS = 8
"""The store's transactions run at most 8 at once (``common.db``'s limiter)."""
EXECUTOR_THREADS = 4
"""Within the default executor's ``min(32, CPUs + 4)``: the snapshot's encryption, TLS set-up,
address look-ups."""
_WAIT_S = 5.0

log = logging.getLogger(__name__)


async def start_worker_threads(
    anyio_threads: int = ANYIO_THREADS, executor_threads: int = EXECUTOR_THREADS
) -> None:
    """Start that many threads in each pool: as many calls that wait for each other keep that
    many threads busy at once, so each pool starts them (they then wait, idle, for work)."""
    loop = asyncio.get_running_loop()
    together = threading.Barrier(anyio_threads, timeout=_WAIT_S)
    beside = threading.Barrier(executor_threads, timeout=_WAIT_S)
    try:
        await asyncio.gather(
            *(anyio.to_thread.run_sync(together.wait) for _ in range(anyio_threads)),
            *(loop.run_in_executor(None, beside.wait) for _ in range(executor_threads)),
        )
    except threading.BrokenBarrierError:  # a pool smaller than asked: threads start on demand
        log.debug("worker threads: a pool is smaller than asked; it starts threads on demand")
