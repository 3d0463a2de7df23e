"""The Events page and a cluster's latest events in Chromium, against a real ``receiver serve``
process whose events came in through its ingest route: batches made as the host's shipper makes
them (``wire.protocol.events_to_ndjson`` and ``event_headers``). Hostile event types and values
are shown as text.

The events are stamped minutes before the test's start, on the few days before: what the tests
expect comes from the receiver's API, so they hold at any hour (also at 00:05 UTC and across a
year end, where the days of the range span two years)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from telemetry_service.common.clock import iso_ms, to_ms
from telemetry_service.receiver.samples import sample_reports, seed_store
from telemetry_service.receiver.storage import open_report_store
from tests.browser.conftest import wait_ready
from tests.browser.receivers import VIEWER_KEY, LiveReceiver, live_receiver
from tests.browser.test_dashboard import chart_data, open_with_key, save_screenshot

pytestmark = pytest.mark.integration

HOSTILE_TYPE = '<img src=x onerror="window.__pwned=1">'
HOSTILE_VALUE = "<script>window.__pwned=2</script><b>bold</b>"
HOSTILE_KEY = "<svg onload=alert(3)>"  # a property name (no dot: a dotted path can name it)
TYPE = "sample_app_action"


def seed_snapshots(store_url: str, now: dt.datetime) -> str:
    """Three sample clusters with a few days of snapshots; the first one's id."""

    async def run() -> None:
        store = open_report_store(store_url)
        await store.open()
        try:
            await seed_store(store, sample_reports(clusters=3, days=3, now=now, steady=True))
        finally:
            await store.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # Playwright owns this thread's loop
        pool.submit(asyncio.run, run()).result()
    report = next(sample_reports(clusters=3, days=3, now=now, steady=True))
    return report.cluster_uuid


def shipper_events(cluster: str, now: dt.datetime) -> list[dict[str, Any]]:
    events = []
    for day in range(5):
        for index in range(day + 1):
            at = iso_ms(to_ms(now - dt.timedelta(days=day, minutes=index + 1)))
            action = "hello" if index else "started"
            events.append(
                {
                    "timestamp": at,
                    "event_type": TYPE,
                    "context": {"cluster_uuid": cluster, "version": "8.14.0"},
                    "properties": {"action": action, "greetings_served": 10 * index + day},
                }
            )
    return events


def browser_events(now: dt.datetime) -> list[dict[str, Any]]:
    at = iso_ms(to_ms(now - dt.timedelta(minutes=3)))
    return [
        {
            "timestamp": at,
            "event_type": "page_view",
            "context": {"session_id": "s1"},
            "properties": {"page_name": page, "referrer_same_origin": page != "/"},
        }
        for page in ("/", "/app/telemetry", "/app/telemetry")
    ]


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveReceiver, str]]:
    folder: Path = tmp_path_factory.mktemp("events")
    now = dt.datetime.now(dt.UTC)
    cluster = seed_snapshots(f"sqlite:///{folder / 'receiver.db'}", now)
    with live_receiver(folder) as running:
        stored = running.post_events(shipper_events(cluster, now), cluster_uuid=cluster)
        assert stored.status_code == 200, stored.text
        other = "another-cluster-0001"
        browser = running.post_events(browser_events(now), cluster_uuid=other, kind="browser")
        assert browser.status_code == 200, browser.text
        hostile = {
            "timestamp": iso_ms(to_ms(now - dt.timedelta(minutes=2))),
            "event_type": HOSTILE_TYPE,
            "context": {"note": HOSTILE_VALUE},
            "properties": {HOSTILE_KEY: 1, "label": HOSTILE_VALUE},
        }
        assert running.post_events([hostile], cluster_uuid=cluster).status_code == 200
        yield running, cluster


def test_the_events_page_shows_types_a_daily_chart_properties_and_latest_events(
    page: Page, receiver: tuple[LiveReceiver, str]
) -> None:
    live, cluster = receiver
    open_with_key(page, live.url + "/app/events", VIEWER_KEY)
    types = {t["event_type"]: t for t in live.api("/api/events/types", days=30)["types"]}
    assert {TYPE, "page_view", HOSTILE_TYPE} <= set(types)
    rows = page.locator("#types-rows tr")
    expect(rows).to_have_count(len(types))
    row = rows.filter(has=page.get_by_role("link", name=TYPE, exact=True))
    expect(row.locator("td").nth(1)).to_have_text(f"{types[TYPE]['events']:,}")
    expect(row.locator("td").nth(2)).to_have_text(f"{types[TYPE]['clusters']:,}")
    expect(row.locator("svg.sparkline polyline")).to_have_count(1)

    with page.expect_navigation():
        row.get_by_role("link", name=TYPE).click()
    wait_ready(page)
    expect(page.locator("#load-error")).to_be_hidden()
    expect(page.locator("#type-title")).to_have_text(TYPE)
    daily = live.api(f"/api/events/types/{TYPE}/daily", days=30)["days"]
    events, clusters = chart_data(page, "chart-daily")
    assert events == [d["events"] for d in daily]
    assert clusters == [d["clusters"] for d in daily]
    assert sum(d["events"] for d in daily) == 15

    # A number property: its statistics as the API gives them.
    page.get_by_label("Property", exact=True).select_option("greetings_served")
    stats = live.api(f"/api/events/types/{TYPE}/properties/greetings_served", days=30)
    assert stats["kind"] == "number"
    p90 = page.locator("#property-rows tr", has_text="p90")
    expect(p90.locator("td").nth(1)).to_have_text(f"{stats['p90']:,.2f}".rstrip("0").rstrip("."))
    expect(page.locator("#property-note")).to_contain_text("number")
    # A keyword property: its top values and a bar per value.
    page.get_by_label("Property", exact=True).select_option("action")
    top = live.api(f"/api/events/types/{TYPE}/properties/action", days=30, top=10)["top"]
    value_rows = page.locator("#property-rows tr")
    expect(value_rows).to_have_count(len(top))
    for shown, item in zip(value_rows.all(), top, strict=True):
        expect(shown.locator("td").nth(0)).to_have_text(item["value"])
        expect(shown.locator("td").nth(1)).to_have_text(f"{item['count']:,}")
    assert chart_data(page, "chart-property")[0] == [item["count"] for item in top]
    assert "property=action" in page.url
    save_screenshot(page, "events")

    recent = live.api("/api/events", event_type=TYPE, limit=50)["events"]
    expect(page.locator("#recent-rows tr")).to_have_count(len(recent))
    first = page.locator("#recent-rows tr").first
    expect(first.get_by_role("link", name=cluster)).to_have_attribute(
        "href", f"/app/clusters/{cluster}"
    )
    expect(first).to_contain_text(json.dumps(recent[0]["properties"], separators=(",", ":")))


def test_a_boolean_property_and_the_downloads(
    page: Page, receiver: tuple[LiveReceiver, str]
) -> None:
    live, _ = receiver
    open_with_key(
        page, live.url + "/app/events?type=page_view&property=referrer_same_origin", VIEWER_KEY
    )
    answer = live.api("/api/events/types/page_view/properties/referrer_same_origin", days=30)
    assert (answer["kind"], answer["true"], answer["false"]) == ("boolean", 2, 1)
    for name in ("true", "false"):
        row = page.locator("#property-rows tr", has_text=name)
        expect(row.locator("td").nth(1)).to_have_text(str(answer[name]))

    with page.expect_download() as ndjson:
        page.get_by_role("button", name="Events (NDJSON)").click()
    lines = [json.loads(line) for line in Path(ndjson.value.path()).read_text().splitlines()]
    assert {"page_view", TYPE, HOSTILE_TYPE} <= {line["event_type"] for line in lines}
    with page.expect_download() as csv_file:
        page.get_by_role("button", name="Events (CSV)").click()
    assert csv_file.value.suggested_filename.endswith(".csv")
    assert "page_view" in Path(csv_file.value.path()).read_text()


def test_hostile_event_types_and_values_are_text(
    page: Page, receiver: tuple[LiveReceiver, str]
) -> None:
    live, _ = receiver
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    open_with_key(page, live.url + "/app/events", VIEWER_KEY)
    expect(page.get_by_role("link", name=HOSTILE_TYPE)).to_have_count(1)
    with page.expect_navigation():
        page.get_by_role("link", name=HOSTILE_TYPE).click()
    wait_ready(page)
    expect(page.locator("#type-title")).to_have_text(HOSTILE_TYPE)
    expect(page.locator("#recent-rows tr")).to_have_count(1)
    expect(page.locator("#recent-rows")).to_contain_text(HOSTILE_VALUE)
    page.get_by_label("Property", exact=True).select_option("label")
    expect(page.locator("#property-rows td").first).to_have_text(HOSTILE_VALUE)
    # A hostile property name: an option's text, and its number statistics.
    expect(page.locator("#property-select option", has_text=HOSTILE_KEY)).to_have_count(1)
    page.get_by_label("Property", exact=True).select_option(HOSTILE_KEY)
    expect(page.locator("#property-note")).to_have_text("number · in 1 events of the last 30 days")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img, main b, main script, main svg:not(.sparkline)").count() == 0
    assert dialogs == []


def test_the_cluster_page_lists_the_clusters_latest_events(
    page: Page, receiver: tuple[LiveReceiver, str]
) -> None:
    live, cluster = receiver
    open_with_key(page, f"{live.url}/app/clusters/{cluster}", VIEWER_KEY)
    recent = live.api("/api/events", cluster_uuid=cluster, limit=50)["events"]
    assert len(recent) == 16  # 15 of the shipper's and the hostile one
    rows = page.locator("#recent-rows tr")
    expect(rows).to_have_count(len(recent))
    expect(rows.first.get_by_role("link").first).to_have_text(recent[0]["event_type"])
    expect(page.locator("#recent-count")).to_have_text("(16)")
    assert page.evaluate("window.__pwned") is None
