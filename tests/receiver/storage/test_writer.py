"""The batching writer: group commit, per-report fallback, bounded queue."""

from __future__ import annotations

import threading
import time

import pytest

from telemetry_service.receiver.storage import (
    AddResult,
    NewReport,
    StoreBusyError,
    StoreUnavailableError,
)
from telemetry_service.receiver.storage.writer import BatchWriter


def new(i: int) -> NewReport:
    return NewReport(
        id=str(i), digest=str(i), channel="c", kind="snapshot", cluster_uuid="x",
        cluster_name=None, version=None, stack_version=None, kid="k", received_ms=0,
        report_ms=0, opt_in_status=None, payload_text="{}", query_text="{}",
    )  # fmt: skip


def test_reports_waiting_together_are_one_batch() -> None:
    gate = threading.Event()
    batches: list[list[str]] = []

    def write(reports: list[NewReport]) -> list[AddResult]:
        gate.wait(5)
        batches.append([r.id for r in reports])
        return [AddResult(r.id, False) for r in reports]

    writer = BatchWriter("t", write, max_batch=50)
    writer.start()
    futures = [writer.submit_report(new(i)) for i in range(120)]
    gate.set()
    assert [f.result(5).id for f in futures] == [str(i) for i in range(120)]
    writer.stop()
    assert sum(len(b) for b in batches) == 120
    assert len(batches) <= 4  # the first alone, then batches of up to 50
    assert max(len(b) for b in batches) == 50
    assert writer.batches == len(batches)


def test_a_failing_batch_is_retried_report_by_report() -> None:
    def write(reports: list[NewReport]) -> list[AddResult]:
        if any(r.id == "bad" for r in reports):
            raise ValueError("boom")
        time.sleep(0.01)
        return [AddResult(r.id, False) for r in reports]

    writer = BatchWriter("t", write)
    writer.start()
    first = writer.submit_report(new(0))
    futures = [writer.submit_report(new(i)) for i in range(1, 5)]
    bad = writer.submit_report(NewReport(**{**new(9).__dict__, "id": "bad"}))
    assert first.result(5).id == "0"
    assert [f.result(5).id for f in futures] == ["1", "2", "3", "4"]
    with pytest.raises(ValueError, match="boom"):
        bad.result(5)
    writer.stop()


def test_ops_run_in_turn_and_errors_reach_the_caller() -> None:
    writer = BatchWriter("t", lambda rs: [AddResult(r.id, False) for r in rs])
    writer.start()
    assert writer.submit(lambda: 42).result(5) == 42

    def fail() -> None:
        raise RuntimeError("nope")

    with pytest.raises(RuntimeError):
        writer.submit(fail).result(5)
    writer.stop()
    with pytest.raises(StoreUnavailableError):
        writer.submit(lambda: 1)


def test_a_full_queue_is_busy() -> None:
    gate = threading.Event()

    def write(reports: list[NewReport]) -> list[AddResult]:
        gate.wait(5)
        return [AddResult(r.id, False) for r in reports]

    writer = BatchWriter("t", write, max_queue=3)
    writer.start()
    futures = [writer.submit_report(new(0))]
    time.sleep(0.05)  # the writer holds the first one
    futures += [writer.submit_report(new(i)) for i in range(1, 4)]
    with pytest.raises(StoreBusyError):
        writer.submit_report(new(99))
    gate.set()
    assert len([f.result(5) for f in futures]) == 4
    writer.stop()


def _recording_writer(gather_s: float) -> tuple[BatchWriter[NewReport, AddResult], list[list[str]]]:
    batches: list[list[str]] = []

    def write(reports: list[NewReport]) -> list[AddResult]:
        batches.append([r.id for r in reports])
        return [AddResult(r.id, False) for r in reports]

    writer = BatchWriter("t", write, gather_s=gather_s)
    writer.start()
    return writer, batches


def test_reports_announcing_more_are_gathered_until_one_does_not() -> None:
    """Reports 20 ms apart, each saying more are coming but the last: one batch, committed
    as soon as the last arrives (well before the 5 s window ends)."""
    writer, batches = _recording_writer(gather_s=5.0)
    began = time.monotonic()
    futures = []
    for i in range(5):
        futures.append(writer.submit_report(new(i), more_coming=i < 4))
        time.sleep(0.02)
    assert [f.result(5).id for f in futures] == ["0", "1", "2", "3", "4"]
    assert time.monotonic() - began < 2.5
    writer.stop()
    assert batches == [["0", "1", "2", "3", "4"]]


def test_the_writer_waits_at_most_the_window_for_announced_reports() -> None:
    """A report announcing more that never come is committed when the window ends."""
    writer, batches = _recording_writer(gather_s=0.3)
    began = time.monotonic()
    assert writer.submit_report(new(0), more_coming=True).result(5).id == "0"
    assert 0.25 < time.monotonic() - began < 3
    writer.stop()
    assert batches == [["0"]]


def test_reports_not_announcing_more_commit_at_once() -> None:
    """Without ``more_coming`` (a lone report, a sequential import) nothing waits: reports
    20 ms apart commit one by one, each well before the window would end."""
    writer, batches = _recording_writer(gather_s=5.0)
    for i in range(3):
        began = time.monotonic()
        assert writer.submit_report(new(i)).result(5).id == str(i)
        assert time.monotonic() - began < 2.5
        time.sleep(0.02)
    writer.stop()
    assert batches == [["0"], ["1"], ["2"]]


def test_stopping_while_gathering_commits_what_was_gathered() -> None:
    writer, batches = _recording_writer(gather_s=5.0)
    first = writer.submit_report(new(0), more_coming=True)
    time.sleep(0.05)  # the writer is gathering
    began = time.monotonic()
    writer.stop()
    assert first.result(5).id == "0"
    assert time.monotonic() - began < 2.5
    assert batches == [["0"]]


def test_a_report_queued_as_the_writer_stops_is_written_or_refused() -> None:
    """stop() from another thread while a report is being queued: the report is written
    before the writer stops (or refused), never left behind the stop with an unresolved
    future (its caller would wait forever)."""
    writer, batches = _recording_writer(gather_s=0.0)
    real_put = writer._queue.put_nowait
    stopper = threading.Thread(target=writer.stop)

    def put_while_stopping(job: object) -> None:
        stopper.start()
        time.sleep(0.2)  # the stop, unless it waits for this put, queues its end first
        real_put(job)

    writer._queue.put_nowait = put_while_stopping  # type: ignore[method-assign]
    future = writer.submit_report(new(1))
    stopper.join()
    assert future.result(0).id == "1"
    assert batches == [["1"]]
    with pytest.raises(StoreUnavailableError):
        writer.submit_report(new(2))


def test_a_write_that_answers_too_few_results_fails_its_callers_not_the_writer() -> None:
    writer = BatchWriter("t", lambda reports: [])
    writer.start()
    with pytest.raises(RuntimeError, match="answered 0 results"):
        writer.submit_report(new(1)).result(5)
    assert writer.submit(lambda: 7).result(5) == 7  # the writer thread still runs
    writer.stop()
