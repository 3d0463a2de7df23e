"""``telemetry-service demo`` driven through a browser: the printed addresses show the
settings page and a dashboard with data."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import wait_ready
from tests.integration.test_demo import start_demo

pytestmark = pytest.mark.integration


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


def test_the_printed_addresses_show_settings_and_a_dashboard_with_data(
    page: Page, demo: dict[str, str]
) -> None:
    page.goto(demo["settings"])
    wait_ready(page)
    sign_in(page, demo["host_key"])
    wait_ready(page)
    switch = page.get_by_role("switch", name="Share usage with the Demo host team")
    expect(switch).to_be_checked()
    expect(page.get_by_text("HTTP 200").first).to_be_visible()  # the snapshot sent at start

    page.goto(demo["dashboard"])
    sign_in(page, demo["receiver_key"])
    canvas = page.locator("#chart-active")
    expect(canvas).to_be_visible()
    page.wait_for_function(
        "() => { const c = window.Chart && Chart.getChart('chart-active');"
        " return !!c && c.data.datasets.length > 0 && c.data.datasets[0].data.some(v => v > 0); }"
    )
