"""The encryptor's helper threads: started when an encrypt needs one, gone once idle.

:meth:`~telemetry_service.wire.Encryptor.encrypt` hands the JSON writing and the key wrap to a
helper while its own thread derives the key. A host encrypts once a day: a helper that has
waited :data:`IDLE_S` for work leaves, so that in between the host holds no thread of ours (one
more line in every thread dump, and on Python 3.12+ a ``fork()`` with threads running warns
that the child may deadlock).

Each helper has a mailbox of its own, and an idle helper is handed a job only through it,
under the pool's lock: a helper leaves only when its mailbox is empty and nobody holds it, so no
job is ever left in a queue that no thread reads. A helper that cannot start (the interpreter
is exiting, or the process is out of threads) raises :class:`RuntimeError` before anything is
queued: the caller does the work itself, and nothing runs it a second time later. So does a
submit from one of the pool's own helpers (user code that a call runs, such as a dict
subclass's ``items`` that the JSON writer calls, may encrypt too): calls that wait for each
other on a pool of `limit` threads would wait forever.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

__all__ = ["IDLE_S", "HelperThreads"]

T = TypeVar("T")
_Job = tuple["Future[Any]", Callable[[], Any]]

#: How long a helper waits for work before it leaves. Encrypts close together (a benchmark, a
#: burst of opt-in reports) keep their helpers; a daily snapshot starts them anew.
IDLE_S = 10.0


class HelperThreads:
    """At most `limit` daemon threads named ``{name}-N`` that run submitted calls."""

    def __init__(self, limit: int, name: str, *, idle_s: float = IDLE_S) -> None:
        self._limit = limit
        self._name = name
        self._idle_s = idle_s
        self._lock = threading.Lock()
        #: The mailboxes of the helpers waiting for work, the latest idle last.
        self._idle: list[queue.SimpleQueue[_Job]] = []
        #: Jobs submitted while every helper was busy and no more could start.
        self._backlog: deque[_Job] = deque()
        self._threads = 0
        self._started = 0
        self._local = threading.local()  # ``inside``: set in the pool's own threads

    @property
    def threads(self) -> int:
        """The helpers alive (busy or waiting for work)."""
        return self._threads

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn()`` in a helper; its future. :class:`RuntimeError` when no helper is free
        and none can start, or when called from a helper (nothing is queued then)."""
        if getattr(self._local, "inside", False):
            raise RuntimeError("a helper's call may not wait for another helper")
        future: Future[T] = Future()
        job: _Job = (future, fn)
        with self._lock:
            if self._idle:
                self._idle.pop().put(job)
            elif self._threads < self._limit:
                mailbox: queue.SimpleQueue[_Job] = queue.SimpleQueue()
                mailbox.put(job)
                self._started += 1
                thread = threading.Thread(
                    target=self._work,
                    args=(mailbox,),
                    name=f"{self._name}-{self._started}",
                    daemon=True,
                )
                thread.start()  # RuntimeError: the job is in no queue a thread reads
                self._threads += 1
            else:
                self._backlog.append(job)
        return future

    def _work(self, mailbox: queue.SimpleQueue[_Job]) -> None:
        self._local.inside = True
        job: _Job | None = mailbox.get_nowait()
        while job is not None:
            _run(job)
            job = None  # an idle helper holds nothing of its last job (a payload, its result)
            job = self._next(mailbox)

    def _next(self, mailbox: queue.SimpleQueue[_Job]) -> _Job | None:
        """The next job for the helper of `mailbox`, or None when it has waited long enough."""
        with self._lock:
            if self._backlog:
                return self._backlog.popleft()
            self._idle.append(mailbox)
        try:
            return mailbox.get(timeout=self._idle_s)
        except queue.Empty:
            with self._lock:
                if mailbox in self._idle:  # nobody handed it a job: leave
                    self._idle.remove(mailbox)
                    self._threads -= 1
                    return None
            # A job was put in the mailbox (under the lock) as the wait ended.
            return mailbox.get_nowait()


def _run(job: _Job) -> None:
    future, fn = job
    try:
        result = fn()
    except BaseException as exc:  # handed to the caller, whatever it is
        future.set_exception(exc)
    else:
        future.set_result(result)
