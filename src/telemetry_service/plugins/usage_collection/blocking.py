"""Run blocking callables (sync `fetch`/`is_ready`) off the event loop, in bounded daemon threads.

Why not the loop's default executor: a collector that hangs must not block process exit (the
threads here are daemons), must not pile up threads collection after collection (one call per
`key` at a time: a second call while the first still runs raises `StillRunningError`), and must
not starve other users of the default executor. At most `max_threads` threads run at once;
a thread's slot is freed when the thread really ends, not when its caller stops waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import TypeVar, cast

__all__ = ["DEFAULT_MAX_THREADS", "BlockingRunner", "StillRunningError"]

T = TypeVar("T")

DEFAULT_MAX_THREADS = 16


class StillRunningError(RuntimeError):
    """The previous call for the same key has not returned yet (it was abandoned, still runs)."""


class BlockingRunner:
    """Runs sync callables in daemon threads; at most `max_threads` alive, one per key."""

    def __init__(self, max_threads: int = DEFAULT_MAX_THREADS, *, name: str = "collector") -> None:
        if max_threads < 1:
            raise ValueError("max_threads must be at least 1")
        self.max_threads = max_threads
        self._name = name
        self._lock = threading.Lock()
        self._busy: set[Hashable] = set()
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def running(self) -> int:
        """How many keyed calls are still running (including abandoned ones)."""
        with self._lock:
            return len(self._busy)

    async def run(self, key: Hashable, func: Callable[..., T], *args: object, label: str = "") -> T:
        """Call ``func(*args)`` in a thread (named after `label`) and await its result.

        Cancelling the caller abandons the thread (it finishes in the background and its slot is
        then freed). Raises `StillRunningError` if a call with the same key is still running.
        """
        loop = asyncio.get_running_loop()
        slots = self._slots.setdefault(loop, asyncio.Semaphore(self.max_threads))
        with self._lock:
            if key in self._busy:
                raise StillRunningError(f"a previous call for {key!r} is still running")
            self._busy.add(key)
        try:
            await slots.acquire()
        except BaseException:
            self._release_key(key)
            raise
        future: asyncio.Future[T] = loop.create_future()
        context = contextvars.copy_context()

        def finish(outcome: T | BaseException, failed: bool) -> None:
            slots.release()
            if future.done():
                return
            if failed:
                future.set_exception(cast(BaseException, outcome))
            else:
                future.set_result(cast(T, outcome))

        def work() -> None:
            try:
                outcome: T | BaseException = context.run(func, *args)
                failed = False
            except StopIteration as exc:  # a future cannot carry StopIteration
                outcome, failed = RuntimeError(f"{func!r} raised StopIteration"), True
                outcome.__cause__ = exc
            except BaseException as exc:  # handed to the awaiting coroutine
                outcome, failed = exc, True
            self._release_key(key)
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(finish, outcome, failed)

        thread = threading.Thread(target=work, name=f"{self._name}:{label or key}", daemon=True)
        try:
            thread.start()
        except BaseException:
            slots.release()
            self._release_key(key)
            raise
        return await future

    def _release_key(self, key: Hashable) -> None:
        with self._lock:
            self._busy.discard(key)
