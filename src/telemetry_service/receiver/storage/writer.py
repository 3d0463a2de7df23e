"""One writer thread per store: group commit of reports, and other writes in turn.

The writer is generic over what it commits in groups (reports, event batches): one writer
thread per kind of item.

Callers get a future that resolves only after the transaction that holds their report has
committed (so a 200 answer means the report is durable). Reports waiting together are written
in one transaction; when such a batch fails, each report is retried alone so one bad report
cannot fail the others. A report submitted with ``more_coming`` (the ingest is still
decrypting others) lets the writer wait up to `gather_s` for more before it commits, until a
report comes without it (under sustained load, when decrypting never stops, every batch
waits the whole window): a commit costs about as much CPU for one report as for several (the
fsync, the WAL's pages, a PostgreSQL transaction's round trips), and the reports of a busy
ingest otherwise commit one or two at a time. Any other report commits at once. The queue is
bounded: a full queue raises :class:`StoreBusyError` (the ingest route answers 503 with
Retry-After).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from telemetry_service.common.db.base import StoreError, StoreUnavailableError

__all__ = ["BatchWriter", "StoreBusyError"]

T = TypeVar("T")
Item = TypeVar("Item")  # what is committed in groups
R = TypeVar("R")  # what committing one item answers
log = logging.getLogger("telemetry_service.receiver.storage")


@dataclass
class _ReportJob(Generic[Item, R]):
    report: Item
    future: Future[R]
    more_coming: bool = False


@dataclass
class _OpJob:
    fn: Callable[[], Any]
    future: Future[Any]


_STOP = object()
#: How often a gathering writer looks for the reports it waits for. Each look takes the GIL
#: from the decrypt threads and wakes a core: every 1 ms, a busy receiver lost ~6 % of its
#: ingest rate to them (``benchmarks/ingest.py``, docs/benchmarks.md).
_POLL_S = 0.005


class StoreBusyError(StoreError):
    """The write queue is full; retry later."""


class BatchWriter(Generic[Item, R]):
    """Runs `write_reports` (a list in one transaction) and ops on one dedicated thread."""

    def __init__(
        self,
        name: str,
        write_reports: Callable[[list[Item]], list[R]],
        *,
        max_batch: int = 256,
        max_queue: int = 10_000,
        gather_s: float = 0.0,
    ) -> None:
        self._write_reports = write_reports
        self._max_batch = max_batch
        self._gather_s = gather_s
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._pending: object | None = None
        self._thread = threading.Thread(target=self._run, name=f"{name}-writer", daemon=True)
        self._started = False
        self._closed = False
        # Makes "not closed, so queue it" one step against stop(): no job lands behind _STOP.
        self._gate = threading.Lock()
        #: Batches committed.
        self.batches = 0

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def stop(self) -> None:
        """Finish the queued jobs, then stop the thread (a job queued later is refused)."""
        with self._gate:
            running = self._started and not self._closed
            self._closed = True
        if running:
            self._queue.put(_STOP)
            self._thread.join()

    @property
    def queued(self) -> int:
        """Jobs waiting for the writer."""
        return self._queue.qsize()

    def submit_report(self, report: Item, *, more_coming: bool = False) -> Future[R]:
        """Queue a report (an item); its future resolves after its transaction commits.
        `more_coming`: others are on their way (the writer waits for them, at most
        ``gather_s``; see the module's docstring)."""
        future: Future[R] = Future()
        self._put(_ReportJob(report, future, more_coming))
        return future

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Queue a write operation that runs alone, in turn with the reports."""
        future: Future[T] = Future()
        self._put(_OpJob(fn, future))
        return future

    def _put(self, job: object) -> None:
        with self._gate:
            if self._closed or not self._started:
                raise StoreUnavailableError("the store is closed")
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                raise StoreBusyError("the store's write queue is full") from None

    def _next(self) -> object:
        if self._pending is not None:
            job, self._pending = self._pending, None
            return job
        return self._queue.get()

    def _run(self) -> None:
        while True:
            job = self._next()
            if job is _STOP:
                return
            if isinstance(job, _OpJob):
                self._run_op(job)
                continue
            assert isinstance(job, _ReportJob)
            batch = [job] if job.future.set_running_or_notify_cancel() else []
            gather = job.more_coming and self._gather_s > 0
            deadline = time.monotonic() + self._gather_s
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    now = time.monotonic()
                    if not gather or now >= deadline:
                        break
                    # Short sleeps, not a timed wait: a lock's timed wait takes an absolute
                    # deadline, which a faked clock (libfaketime, in CI) turns into hours.
                    time.sleep(min(_POLL_S, deadline - now))
                    continue
                if not isinstance(more, _ReportJob):
                    self._pending = more
                    break
                gather = gather and more.more_coming
                if more.future.set_running_or_notify_cancel():  # else the caller gave up
                    batch.append(more)
            if batch:
                self._run_batch(batch)

    @staticmethod
    def _run_op(job: _OpJob) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        try:
            job.future.set_result(job.fn())
        except BaseException as exc:  # delivered to the caller
            job.future.set_exception(exc)

    def _run_batch(self, batch: list[_ReportJob[Item, R]]) -> None:
        try:
            results = self._write_reports([job.report for job in batch])
        except BaseException as exc:
            if len(batch) == 1:
                batch[0].future.set_exception(exc)
                return
            log.warning(
                "a batch of %d reports failed (%s); writing them one by one",
                len(batch),
                type(exc).__name__,
            )
            for job in batch:
                self._run_batch([job])
            return
        self.batches += 1
        if len(results) != len(batch):
            # A bug in write_reports, after its transaction committed: the callers hear of it
            # (a resend is answered as a duplicate), and so does the log.
            message = f"writing {len(batch)} items answered {len(results)} results"
            log.error("%s; their callers get an error", message)
            for job in batch:
                job.future.set_exception(RuntimeError(message))
            return
        for job, result in zip(batch, results, strict=True):
            job.future.set_result(result)
