"""AnalyticsClient where it goes beyond Kibana (docs/events.md): bounded queue, kept events,
schema enforcement in production, thread hand-over, never raising."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from typing import Any

import pytest

from telemetry_service.ebt import AnalyticsClient, TelemetryCounter

from .fakes import START, RecordingShipper
from .test_client import SCHEMA, kinds, make_client

pytestmark = pytest.mark.anyio


def test_events_between_opt_in_and_first_shipper_are_kept() -> None:
    client, _ = make_client()
    client.report_event("a", {"a_field": "before"})
    client.opt_in({"global": {"enabled": True}})
    client.report_event("a", {"a_field": "between"})  # Kibana loses this one (spec 1.4 gap)
    assert client.queued == 2
    shipper = client.register_shipper(RecordingShipper, None)
    assert [e["properties"]["a_field"] for e in shipper.reported[0]] == ["before", "between"]


def test_pre_opt_in_queue_is_bounded_under_100k_reports() -> None:
    client = AnalyticsClient(clock=lambda: START, pre_opt_in_queue_limit=10_000)
    client.register_event_type("a", SCHEMA)
    dropped = 0

    def count(counter: TelemetryCounter) -> None:
        nonlocal dropped
        dropped += counter.count if counter.type == "dropped" else 0

    client.telemetry_counters.subscribe(count)
    for i in range(100_000):
        client.report_event("a", {"a_field": str(i)})
    assert client.queued == 10_000
    assert dropped == 90_000
    shipper = client.register_shipper(RecordingShipper, None)
    client.opt_in({"global": {"enabled": True}})
    sent = [e["properties"]["a_field"] for batch in shipper.reported for e in batch]
    assert sent[:2] == ["0", "1"]
    assert len(sent) == 10_000
    assert max(len(batch) for batch in shipper.reported) == 1000


def test_schema_breaking_event_is_dropped_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, counters = make_client()
    shipper = client.register_shipper(RecordingShipper, None)
    client.opt_in({"global": {"enabled": True}})
    with caplog.at_level(logging.WARNING):
        for _ in range(50):
            client.report_event("a", {"a_field": "x", "undeclared": 1})
            client.report_event("a", {"a_field": 7})
    assert shipper.reported == []
    assert kinds(counters).count(("dropped", "a", "SchemaViolation", 1)) == 100
    assert len([r for r in caplog.records if "Event dropped" in r.message]) == 1


async def test_report_from_another_thread_is_handed_to_the_loop() -> None:
    client, _ = make_client()
    shipper = client.register_shipper(RecordingShipper, None)
    client.opt_in({"global": {"enabled": True}})  # binds the client to this loop
    seen: list[int] = []
    client.telemetry_counters.subscribe(lambda c: seen.append(threading.get_ident()))
    worker = threading.Thread(target=client.report_event, args=("a", {"a_field": "t"}))
    worker.start()
    await asyncio.to_thread(worker.join)
    await asyncio.sleep(0)
    assert len(shipper.reported) == 1
    assert set(seen) == {threading.get_ident()}


def test_counter_is_a_plain_record() -> None:
    counter = TelemetryCounter("enqueued", "client", "a", "enqueued")
    assert dataclasses.asdict(counter) == {
        "type": "enqueued", "source": "client", "event_type": "a", "code": "enqueued", "count": 1,
    }  # fmt: skip


def test_production_never_raises_into_the_caller() -> None:
    client, counters = make_client()
    bad: Any = None
    client.report_event("a", bad)
    client.report_event("nope", bad)
    assert ("dropped", "a", "SchemaViolation", 1) in kinds(counters)
    assert ("dropped", "nope", "UnregisteredType", 1) in kinds(counters)
