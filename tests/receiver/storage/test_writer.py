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


def test_while_reports_flow_the_writer_gathers_them_for_one_commit() -> None:
    """Reports 20 ms apart, within a 1 s window: the first (nothing flowed before it) commits
    alone and at once; the next ones are gathered into one batch."""
    writer, batches = _recording_writer(gather_s=1.0)
    futures = []
    for i in range(5):
        futures.append(writer.submit_report(new(i)))
        time.sleep(0.02)
    assert [f.result(5).id for f in futures] == ["0", "1", "2", "3", "4"]
    writer.stop()
    assert batches == [["0"], ["1", "2", "3", "4"]]


def test_a_lone_report_is_committed_without_waiting() -> None:
    """The window only applies while reports flow: the first report, and one after a pause
    longer than the window, commit at once."""
    writer, batches = _recording_writer(gather_s=1.0)
    for i in range(2):
        began = time.monotonic()
        assert writer.submit_report(new(i)).result(5).id == str(i)
        assert time.monotonic() - began < 0.5
        time.sleep(1.1)
    writer.stop()
    assert batches == [["0"], ["1"]]


def test_stopping_while_gathering_commits_what_was_gathered() -> None:
    writer, batches = _recording_writer(gather_s=1.0)
    first = writer.submit_report(new(0))
    assert first.result(5).id == "0"
    second = writer.submit_report(new(1))  # right after: the writer gathers for up to 1 s
    began = time.monotonic()
    writer.stop()
    assert second.result(5).id == "1"
    assert time.monotonic() - began < 0.5
    assert batches == [["0"], ["1"]]
