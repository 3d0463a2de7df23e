"""The pages' event-based telemetry in a real browser: events reach ``{product}-browser`` while
the deployment is opted in, and nothing leaves the browser otherwise."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import HostFactory, wait_ready
from tests.browser.cors_capture import CorsCaptureServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

BROWSER = "/v3/send/telemetry-service-browser"


def endpoints(capture: CorsCaptureServer, **telemetry: Any) -> dict[str, Any]:
    return {"endpoints": {"prod": capture.url, "staging": capture.url}, **telemetry}


def events(capture: CorsCaptureServer) -> list[dict[str, Any]]:
    found = []
    for post in capture.posts(BROWSER):
        found += [json.loads(line) for line in post.body.decode().splitlines()]
    return found


def test_opted_in_pages_send_page_view_and_page_load(
    page: Page, start_host: HostFactory, capture: CorsCaptureServer
) -> None:
    host = start_host(telemetry=endpoints(capture, labels={"environment": "qa"}))
    page.goto(host.url + "/app/telemetry")
    wait_ready(page)
    wait_until(
        lambda: {"page_view", "page_load"} <= {e["event_type"] for e in events(capture)},
        what="the browser's events at the capture server",
    )
    post = capture.posts(BROWSER)[0]
    assert post.headers["content-type"] == "application/x-ndjson"
    assert post.headers["x-elastic-stack-version"]
    assert post.headers["x-elastic-cluster-id"] == "UNKNOWN"
    assert post.body.endswith(b"\n")
    by_type = {e["event_type"]: e for e in events(capture)}
    view = by_type["page_view"]
    assert list(view) == ["timestamp", "event_type", "context", "properties"]
    assert view["properties"] == {"page_name": "/app/telemetry", "referrer_same_origin": False}
    assert view["context"]["labels"] == {"environment": "qa"}
    assert view["context"]["session_id"]
    load = by_type["page_load"]["properties"]
    assert load["page_name"] == "/app/telemetry"
    assert 0 <= load["dom_content_loaded_ms"] <= load["duration_ms"]


@pytest.mark.parametrize(
    ("telemetry", "env"),
    [
        ({"optIn": False}, {}),
        ({"enabled": False}, {}),
        ({}, {"DO_NOT_TRACK": "1"}),
    ],
    ids=["config-opt-out", "disabled", "do-not-track"],
)
def test_not_opted_in_nothing_leaves_the_browser(
    page: Page,
    start_host: HostFactory,
    capture: CorsCaptureServer,
    telemetry: dict[str, Any],
    env: dict[str, str],
) -> None:
    host = start_host(telemetry=endpoints(capture, **telemetry), env=env)
    page.goto(host.url + "/")
    wait_ready(page)
    page.wait_for_selector("html[data-telemetry-events='opted-out']", state="attached")
    page.goto(host.url + "/app/telemetry")
    wait_ready(page)
    page.wait_for_selector("html[data-telemetry-events='opted-out']", state="attached")
    time.sleep(2.5)  # more than two buffer intervals
    page.evaluate("window.__telemetryAnalytics.flush()")
    assert capture.received("POST", BROWSER) == []
    assert capture.received("OPTIONS", BROWSER) == []
    assert page.evaluate("window.__telemetryAnalytics.shippers[0].buffer.length") == 0
