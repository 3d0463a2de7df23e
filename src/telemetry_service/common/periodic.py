"""The one background loop of both servers: run a step, wait what it asks, repeat.

::

    task = PeriodicTask("retention", run_retention, sleep=sleep, log=log)
    task.start()          # the first step runs at once (or after ``first_delay``)
    ...
    await task.stop(5.0)  # cancels the wait; returns within the timeout

``step`` returns the seconds until its next run. A step that raises is logged as one line
(``<name> failed: <Type>: <message>``, shortened; a traceback only when the logger is at DEBUG)
and runs again after ``retry_delay``: background work never raises into the host. With
``cancel_step=False``, :meth:`PeriodicTask.stop` lets a step that is already running finish
(a flush that must not lose its batch) and cancels it only when ``timeout_s`` passes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

__all__ = ["PeriodicTask", "Sleep", "one_line"]

Sleep = Callable[[float], Awaitable[None]]
_MAX_ERROR_CHARS = 200
_log = logging.getLogger("telemetry_service.periodic")


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line, shortened, for a log line that never holds a payload."""
    text = " ".join(str(exc).split())[:_MAX_ERROR_CHARS]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class PeriodicTask:
    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[float]],
        *,
        sleep: Sleep = asyncio.sleep,
        log: logging.Logger = _log,
        first_delay: float = 0.0,
        retry_delay: float = 60.0,
        cancel_step: bool = True,
    ) -> None:
        self.name = name
        self._step = step
        self._sleep = sleep
        self._log = log
        self._first_delay = first_delay
        self._retry_delay = retry_delay
        self._cancel_step = cancel_step
        self._task: asyncio.Task[None] | None = None
        self._sleeping = False
        self._stopping = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the loop (no-op while it runs)."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def run_once(self) -> float:
        """Run the step now; return the seconds until the next run (``retry_delay`` on failure)."""
        try:
            return await self._step()
        except Exception as exc:
            debug = self._log.isEnabledFor(logging.DEBUG)
            self._log.warning("%s failed: %s", self.name, one_line(exc), exc_info=debug)
            return self._retry_delay

    async def _run(self) -> None:
        delay: float | None = self._first_delay or None
        while not self._stopping:
            if delay is not None:
                self._sleeping = True
                try:
                    await self._sleep(delay)
                finally:
                    self._sleeping = False
                if self._stopping:
                    return
            delay = await self.run_once()

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the loop: cancel its wait (and its step unless ``cancel_step`` is False).

        Returns within ``timeout_s`` seconds and never raises; a step still running then is
        cancelled.
        """
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        if self._cancel_step or self._sleeping:
            task.cancel()
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
        if not done:
            self._log.warning("%s did not stop within %.1fs; cancelled", self.name, timeout_s)
            task.cancel()
        elif not task.cancelled() and (error := task.exception()) is not None:
            self._log.warning("%s ended: %s", self.name, one_line(error))
