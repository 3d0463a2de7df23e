"""The simulated deployments' events: the demo's month of event-based telemetry."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from telemetry_service.common.clock import parse_timestamp, to_ms
from telemetry_service.receiver.sample_events import (
    EventBatch,
    combine_batches,
    sample_event_batches,
)
from telemetry_service.receiver.samples import sample_reports
from telemetry_service.wire.protocol import events_to_ndjson

NOW = dt.datetime(2026, 3, 15, 23, 59, tzinfo=dt.UTC)


def test_a_month_of_realistic_events_from_the_reporting_clusters() -> None:
    batches = list(sample_event_batches(clusters=60, days=28, now=NOW))
    assert batches == list(sample_event_batches(clusters=60, days=28, now=NOW))
    events = [event for batch in batches for event in batch.events]
    types = Counter(str(event["event_type"]) for event in events)
    assert set(types) == {
        "platform_started", "core-overall_status_changed", "sample_app_action",
        "page_view", "page_load", "click",
    }  # fmt: skip
    assert 20_000 < len(events) < 100_000
    kinds = {(b.kind, str(e["event_type"])) for b in batches for e in b.events}
    assert {kind for kind, event_type in kinds if event_type in ("click", "page_view")} == {
        "browser"
    }
    assert {kind for kind, event_type in kinds if event_type == "platform_started"} == {"server"}
    # Events come from clusters that send snapshots, only on days they are opted in.
    snapshots = [r for r in sample_reports(clusters=60, days=28, now=NOW) if r.kind == "snapshot"]
    reporting = {(r.cluster_uuid, r.report_ms // 86_400_000) for r in snapshots}
    for batch in batches:
        day = parse_timestamp(str(batch.events[0]["timestamp"]))
        assert day is not None
        assert (batch.cluster_uuid, day // 86_400_000) in reporting
    # The shipper's shape and the kinds of properties the Events page breaks down.
    view = next(e for e in events if e["event_type"] == "page_view")
    assert list(view) == ["timestamp", "event_type", "context", "properties"]
    properties = view["properties"]
    assert isinstance(properties, dict)
    assert isinstance(properties["page_name"], str)
    assert isinstance(properties["referrer_same_origin"], bool)
    load = next(e["properties"] for e in events if e["event_type"] == "page_load")
    assert isinstance(load, dict)
    assert isinstance(load["duration_ms"], int)
    # Batches stay well inside the ingest limits (the shipper's are 10 KiB).
    assert max(len(events_to_ndjson(batch.events)) for batch in batches) < 64 * 1024


@pytest.mark.parametrize("hour", [0, 11, 23])
def test_no_event_is_later_than_now(hour: int) -> None:
    now = dt.datetime(2027, 1, 1, hour, 5, tzinfo=dt.UTC)
    batches = list(sample_event_batches(clusters=20, days=5, now=now))
    stamps = [parse_timestamp(str(e["timestamp"])) for b in batches for e in b.events]
    assert stamps
    assert max(s for s in stamps if s is not None) <= to_ms(now)
    assert min(s for s in stamps if s is not None) >= to_ms(
        dt.datetime(2026, 12, 28, tzinfo=dt.UTC)
    )


def test_combined_batches_hold_the_same_events_per_cluster_and_channel() -> None:
    batches = list(sample_event_batches(clusters=10, days=7, now=NOW))
    combined = combine_batches(batches, max_events=50)
    assert len(combined) < len(batches)
    assert all(1 <= len(batch.events) <= 50 for batch in combined)

    def by_source(items: list[EventBatch]) -> dict[tuple[str, str], list[object]]:
        found: dict[tuple[str, str], list[object]] = {}
        for batch in items:
            found.setdefault((batch.kind, batch.cluster_uuid), []).extend(batch.events)
        return found

    assert by_source(combined) == by_source(batches)
