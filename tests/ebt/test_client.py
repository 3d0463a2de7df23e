"""AnalyticsClient, ported from ebt's analytics_client.test.ts plus our deviations (spec 1)."""

from __future__ import annotations

import pytest

from telemetry_service.ebt import AnalyticsClient, ContextValue, TelemetryCounter

from .fakes import START, OtherShipper, RecordingShipper

pytestmark = pytest.mark.anyio

SCHEMA = {"a_field": {"type": "keyword", "_meta": {"description": "a"}}}


def make_client(is_dev: bool = False) -> tuple[AnalyticsClient, list[TelemetryCounter]]:
    client = AnalyticsClient(is_dev=is_dev, clock=lambda: START)
    counters: list[TelemetryCounter] = []
    client.telemetry_counters.subscribe(counters.append)
    client.register_event_type("a", SCHEMA)
    client.register_event_type("b", SCHEMA)
    return client, counters


def kinds(counters: list[TelemetryCounter]) -> list[tuple[str, str, str, int]]:
    return [(c.type, c.event_type, c.code, c.count) for c in counters]


def test_register_event_type_twice_raises() -> None:
    client, _ = make_client()
    with pytest.raises(ValueError, match='Event Type "a" is already registered.'):
        client.register_event_type("a", SCHEMA)


def test_usable_after_destructuring() -> None:
    client, counters = make_client()
    report, opt_in = client.report_event, client.opt_in
    shipper = client.register_shipper(RecordingShipper, None)
    opt_in({"global": {"enabled": True}})
    report("a", {"a_field": "x"})
    assert shipper.reported[0][0]["properties"] == {"a_field": "x"}


def test_unregistered_type_counts_then_raises_in_dev_only() -> None:
    client, counters = make_client()
    client.report_event("nope", {})  # production: never raises
    assert kinds(counters) == [
        ("enqueued", "nope", "enqueued", 1),
        ("dropped", "nope", "UnregisteredType", 1),
    ]
    dev, _ = make_client(is_dev=True)
    with pytest.raises(ValueError, match=r'Attempted to report event type "nope", before regis'):
        dev.report_event("nope", {})


def test_dev_mode_validation_raises_kibanas_message() -> None:
    client, _ = make_client(is_dev=True)
    with pytest.raises(ValueError) as info:
        client.report_event("a", {"a_field": 100})
    assert str(info.value) == (
        "Failed to validate payload coming from \"Event Type 'a'\":\n"
        '\t- [a_field]: {"expected":"string","actual":"number","value":100}'
    )


def test_event_shape_and_key_order_with_trace() -> None:
    client = AnalyticsClient(clock=lambda: START, get_trace_context=lambda: {"id": "t1"})
    client.register_event_type("a", SCHEMA)
    client.register_context_provider("ctx", {"cluster_uuid": "u1"})
    shipper = client.register_shipper(RecordingShipper, None)
    client.opt_in({"global": {"enabled": True}})
    client.report_event("a", {"a_field": "x"})
    event = shipper.reported[0][0]
    assert list(event) == ["timestamp", "event_type", "context", "properties", "trace"]
    assert event["timestamp"] == "2020-01-01T00:00:00.000Z"
    assert event["context"] == {"cluster_uuid": "u1"}
    assert event["trace"] == {"id": "t1"}


def test_queued_events_are_sent_per_type_after_shipper_and_opt_in() -> None:
    """E2E "Sends events from the internal queue when there are shippers and opt-in is true"."""
    client, counters = make_client()
    for t in ("a", "b", "a"):
        client.report_event(t, {"a_field": t})
    shipper = client.register_shipper(RecordingShipper, None)
    assert shipper.reported == []
    client.opt_in({"global": {"enabled": True}})
    assert [[e["event_type"] for e in batch] for batch in shipper.reported] == [["a", "a"], ["b"]]
    assert kinds(counters) == [("enqueued", t, "enqueued", 1) for t in "aba"] + [
        ("sent_to_shipper", "a", "OK", 2),
        ("sent_to_shipper", "b", "OK", 1),
    ]
    assert client.queued == 0


@pytest.mark.parametrize("with_shipper", [True, False])
def test_queue_discarded_after_opt_out(with_shipper: bool) -> None:
    client, counters = make_client()
    client.report_event("a", {"a_field": "x"})
    shipper = client.register_shipper(RecordingShipper, None) if with_shipper else None
    client.opt_in({"global": {"enabled": False}})
    assert client.queued == 0
    later = client.register_shipper(OtherShipper, None)
    client.opt_in({"global": {"enabled": True}})  # opting back in recovers nothing
    assert (shipper.reported if shipper else []) == []
    assert later.reported == []
    assert kinds(counters) == [("enqueued", "a", "enqueued", 1)]


def test_discards_only_the_type_opted_out() -> None:
    client, _ = make_client()
    client.report_event("a", {"a_field": "x"})
    client.report_event("b", {"a_field": "y"})
    shipper = client.register_shipper(RecordingShipper, None)
    client.opt_in({"global": {"enabled": True}, "event_types": {"a": {"enabled": False}}})
    assert [[e["event_type"] for e in batch] for batch in shipper.reported] == [["b"]]


def test_discards_at_shipper_level_for_one_type() -> None:
    client, counters = make_client()
    rec = client.register_shipper(RecordingShipper, None)
    other = client.register_shipper(OtherShipper, None)
    client.opt_in(
        {
            "global": {"enabled": True},
            "event_types": {"a": {"enabled": True, "shippers": {"recording": False}}},
        }
    )
    client.report_event("a", {"a_field": "x"})
    assert rec.reported == []
    assert len(other.reported) == 1
    assert kinds(counters)[-1] == ("sent_to_shipper", "a", "OK", 1)


def test_global_shipper_opt_out_means_no_sent_counter() -> None:
    client, counters = make_client()
    rec = client.register_shipper(RecordingShipper, None)
    client.opt_in({"global": {"enabled": True, "shippers": {"recording": False}}})
    client.report_event("a", {"a_field": "x"})
    assert rec.reported == []
    assert rec.opt_ins == [False]
    assert kinds(counters) == [("enqueued", "a", "enqueued", 1)]


def test_incoming_events_after_opt_in_go_one_per_call() -> None:
    client, counters = make_client()
    shipper = client.register_shipper(RecordingShipper, None)
    client.opt_in({"global": {"enabled": True}})
    client.report_event("a", {"a_field": "1"})
    client.report_event("a", {"a_field": "2"})
    assert [len(batch) for batch in shipper.reported] == [1, 1]
    assert kinds(counters).count(("sent_to_shipper", "a", "OK", 1)) == 2


def test_incoming_events_after_opt_out_are_dropped_silently() -> None:
    client, counters = make_client()
    shipper = client.register_shipper(RecordingShipper, None)
    client.opt_in({"global": {"enabled": False}})
    client.report_event("a", {"a_field": "1"})
    assert shipper.reported == []
    assert client.queued == 0
    assert kinds(counters) == [("enqueued", "a", "enqueued", 1)]


@pytest.mark.parametrize(
    ("enabled", "specific", "expected"),
    [(True, None, True), (False, None, False), (True, True, True), (True, False, False),
     (False, True, False), (False, False, False)],
)  # fmt: skip
def test_each_shipper_gets_its_global_answer(
    enabled: bool, specific: bool | None, expected: bool
) -> None:
    client, _ = make_client()
    shipper = client.register_shipper(RecordingShipper, None)
    rule: dict[str, object] = {"enabled": enabled}
    if specific is not None:
        rule["shippers"] = {"recording": specific}
    client.opt_in({"global": rule})
    assert shipper.opt_ins == [expected]


def test_shipper_registered_after_opt_in_gets_the_config() -> None:
    client, _ = make_client()
    client.opt_in({"global": {"enabled": True}})
    client.opt_in({"global": {"enabled": True}})  # calls are not de-duplicated
    shipper = client.register_shipper(RecordingShipper, None)
    client.opt_in({"global": {"enabled": False}})
    assert shipper.opt_ins == [True, False]


def test_context_reaches_shippers_only_after_opt_in() -> None:
    client, _ = make_client()
    shipper = client.register_shipper(RecordingShipper, None)
    source = ContextValue({"a": 1})
    client.register_context_provider("p", source)
    assert shipper.contexts == []
    client.opt_in({"global": {"enabled": True}})
    assert shipper.contexts == [{"a": 1}]
    source.set({"a": 2})
    assert shipper.contexts[-1] == {"a": 2}


def test_context_not_spread_when_opted_out() -> None:
    client, _ = make_client()
    shipper = client.register_shipper(RecordingShipper, None)
    client.register_context_provider("p", {"a": 1})
    client.opt_in({"global": {"enabled": False}})
    assert shipper.contexts == []


def test_shipper_counters_are_forwarded_with_source_overwritten() -> None:
    client, counters = make_client()
    shipper = client.register_shipper(RecordingShipper, None)
    shipper.emit(TelemetryCounter("succeeded", "whatever", "a", "200", 3))
    assert counters == [TelemetryCounter("succeeded", "recording", "a", "200", 3)]


def test_duplicate_and_exclusive_shippers() -> None:
    client, _ = make_client()
    glob = client.register_shipper(RecordingShipper, None)
    with pytest.raises(ValueError, match='Shipper "recording" is already registered'):
        client.register_shipper(RecordingShipper, None)
    only_a = client.register_shipper(OtherShipper, None, exclusive_event_types=["a"])
    with pytest.raises(ValueError, match="other is already registered for event-type a"):
        client.register_shipper(OtherShipper, None, exclusive_event_types=["a"])
    client.opt_in({"global": {"enabled": True}})
    client.report_event("a", {"a_field": "x"})
    client.report_event("b", {"a_field": "y"})
    assert [b[0]["event_type"] for b in only_a.reported] == ["a"]
    assert [b[0]["event_type"] for b in glob.reported] == ["b"]


async def test_shipper_errors_are_logged_and_swallowed(caplog: pytest.LogCaptureFixture) -> None:
    client, counters = make_client()
    client.register_context_provider("p", {"a": 1})
    client.register_shipper(RecordingShipper, {"fail": True})
    client.opt_in({"global": {"enabled": True}})
    client.report_event("a", {"a_field": "x"})
    await client.flush()
    await client.shutdown()
    text = caplog.text
    for message in (
        "Failed to set isOptedIn:true in shipper recording",
        'Shipper "recording" failed to extend the context',
        'Failed to report event "a" via shipper "recording"',
        'Failed to flush shipper "recording"',
        'Failed to shutdown shipper "recording"',
    ):
        assert message in text
    client.report_event("a", {"a_field": "after shutdown"})  # closed: ignored, no raise
