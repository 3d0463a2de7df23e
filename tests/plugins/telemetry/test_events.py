"""EventTelemetry: consent to opt_in, the shipper on the configured endpoint, labels, state."""

from __future__ import annotations

import pytest

from telemetry_service.core import SavedObjectStore
from telemetry_service.ebt import AnalyticsClient
from telemetry_service.plugins.telemetry.events import read_events_state
from tests.ebt.fakes import RecordingShipper
from tests.plugins.telemetry.support import event_telemetry

pytestmark = pytest.mark.anyio
ENDPOINTS = {"prod": "https://prod.example/", "staging": "https://staging.example/"}


async def test_consent_becomes_opt_in_and_undecided_after_a_decision_is_opted_out(
    store: SavedObjectStore,
) -> None:
    client = AnalyticsClient()
    recorder = client.register_shipper(RecordingShipper, None)
    driver = event_telemetry(client, store)
    driver.apply(None)  # undecided from the start: nothing pushed, events wait
    assert recorder.opt_ins == []
    driver.apply(True)
    driver.apply(True)
    driver.apply(None)  # asked again after an upgrade: no longer opted in for events
    driver.apply(False)
    assert recorder.opt_ins == [True, False]
    await client.shutdown()


async def test_labels_are_the_context_labels(store: SavedObjectStore) -> None:
    client = AnalyticsClient()
    event_telemetry(client, store, labels={"environment": "qa", "prId": 12})
    assert client.context["labels"] == {"environment": "qa", "prId": 12}
    await client.shutdown()


@pytest.mark.parametrize(
    ("send_to", "url"),
    [
        ("prod", "https://prod.example/v3/send/acme-server"),
        ("staging", "https://staging.example/v3/send/acme-server"),
    ],
)
async def test_the_shipper_goes_to_the_configured_endpoint(
    store: SavedObjectStore, send_to: str, url: str
) -> None:
    client = AnalyticsClient()
    driver = event_telemetry(
        client, store, endpoints=ENDPOINTS, sendUsageTo=send_to, product="acme"
    )
    driver.register_shipper()
    assert driver.shipper is not None
    assert driver.shipper.url == url
    assert driver.shipper.config.version == "9.0.0"
    await client.shutdown()


async def test_no_shipper_while_the_endpoint_is_a_placeholder(store: SavedObjectStore) -> None:
    client = AnalyticsClient()
    driver = event_telemetry(client, store)
    driver.register_shipper()
    assert driver.shipper is None
    assert driver.state() == {"shipper": None, "queuedBeforeOptIn": 0}
    await client.shutdown()


async def test_debug_prints_the_events_instead_of_sending(store: SavedObjectStore) -> None:
    client = AnalyticsClient()
    client.register_event_type("e", {"n": {"type": "long", "_meta": {"description": "n"}}})
    printed: list[str] = []
    driver = event_telemetry(client, store, printed, endpoints=ENDPOINTS, debug=True)
    driver.register_shipper()
    driver.apply(True)
    client.report_event("e", {"n": 1})
    await client.shutdown()
    [text] = printed
    assert text.startswith("telemetry.debug: events printed, not sent:\n{")
    assert '"event_type":"e"' in text
    assert driver.state()["shipper"]["lastResult"] == "succeeded (printed)"


async def test_the_state_is_saved_for_telemetry_status(store: SavedObjectStore) -> None:
    client = AnalyticsClient()
    driver = event_telemetry(client, store, endpoints=ENDPOINTS)
    driver.register_shipper()
    assert await read_events_state(store, "instance-1") is None
    await driver.stop()
    saved = await read_events_state(store, "instance-1")
    assert saved is not None
    assert saved["shipper"]["url"] == "https://prod.example/v3/send/telemetry-service-server"
    assert saved["shipper"]["queued"] == 0
    assert saved["updatedAt"] > 0
    await client.shutdown()
