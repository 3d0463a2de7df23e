"""``telemetry-service demo`` driven through a browser: the printed addresses show the
settings page, and the printed one-time links open the dashboard and the Events page signed in,
with the simulated deployments' snapshots and events and the demo host's own events."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import wait_ready
from tests.integration.test_demo import start_demo
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

SIMULATED_TYPES = ["click", "page_view", "page_load", "sample_app_action", "platform_started"]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[dict[str, str]]:
    proc, found = start_demo(tmp_path / "demo")
    try:
        yield found
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0


def sign_in(page: Page, key: str) -> None:
    page.get_by_label("API key").fill(key)
    with page.expect_navigation():
        page.get_by_role("button", name="Use key").click()


def host_events(demo: dict[str, str]) -> list[dict[str, Any]]:
    """The events the demo host's own shipper posted (its context names it "Demo host")."""
    answer = httpx.get(
        demo["dashboard"].rstrip("/") + "/api/events",
        params={"event_type": "platform_started", "limit": 500},
        headers={"Authorization": f"ApiKey {demo['receiver_key']}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return [e for e in events if e["context"].get("cluster_name") == "Demo host"]


def test_the_printed_addresses_open_settings_and_a_signed_in_dashboard_with_events(
    page: Page, demo: dict[str, str]
) -> None:
    page.goto(demo["settings"])
    wait_ready(page)
    sign_in(page, demo["host_key"])
    wait_ready(page)
    switch = page.get_by_role("switch", name="Share usage with the Demo host team")
    expect(switch).to_be_checked()
    expect(page.get_by_text("HTTP 200").first).to_be_visible()  # the snapshot sent at start

    # The one-time link: the overview opens signed in, with data, no key typed.
    page.goto(demo["dashboard_signin"])
    page.wait_for_url(demo["dashboard"])
    wait_ready(page)
    expect(page.locator("#api-key-who")).to_have_text("Signed in as demo-admin (admin)")
    expect(page.locator("#auth-needed")).to_be_hidden()
    page.wait_for_function(
        "() => { const c = window.Chart && Chart.getChart('chart-active');"
        " return !!c && c.data.datasets.length > 0 && c.data.datasets[0].data.some(v => v > 0); }"
    )

    # The Events link: the simulated types, then the demo host's own events on its page.
    page.goto(demo["events_signin"])
    page.wait_for_url("**/app/events")
    wait_ready(page)
    expect(page.locator("#load-error")).to_be_hidden()
    for event_type in SIMULATED_TYPES:
        expect(page.get_by_role("link", name=event_type, exact=True)).to_have_count(1)
    own = wait_until(lambda: host_events(demo), timeout=60, what="the demo host's own events")
    page.goto(demo["dashboard"].rstrip("/") + f"/app/clusters/{own[0]['cluster_uuid']}")
    wait_ready(page)
    expect(page.locator("#cluster-title")).to_have_text("Demo host")
    expect(page.locator("#recent-rows")).to_contain_text("platform_started")

    # Spent: the same link again is refused.
    page.goto(demo["dashboard_signin"])
    wait_ready(page)
    expect(page.get_by_role("alert")).to_have_text(
        "This sign-in link was already used or has expired."
    )
