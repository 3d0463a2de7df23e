"""The host's telemetry pages in a real browser, against real ``telemetry-service serve`` processes.

Each test starts its own host on a free loopback port; reports go to a capture server that
answers CORS like the receiver does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from telemetry_service.core import hash_api_key
from telemetry_service.testing import Reply
from telemetry_service.wire import Decryptor, KeyPair
from tests.browser.conftest import (
    HostFactory,
    receiver_config,
    save_screenshot,
    wait_ready,
)
from tests.browser.cors_capture import CorsCaptureServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

NAME = "Acme Analytics"
SNAPSHOT = "/v3/send/telemetry-service-snapshot"
OPT_IN = "/v3/send/telemetry-service-opt-in-reports"
ADMIN_KEY, VIEWER_KEY = "admin-key-for-the-browser", "viewer-key-for-the-browser"


def share_switch(page: Page) -> Locator:
    return page.get_by_role("switch", name=f"Share usage with the {NAME} team")


def use_key(page: Page, key: str) -> None:
    """Type a key into the top bar's form; the page reloads with it."""
    page.get_by_label("API key").fill(key)
    with page.expect_navigation():
        page.get_by_role("button", name="Use key").click()
    wait_ready(page)


def test_banner_is_shown_until_dismissed(page: Page, start_host: HostFactory) -> None:
    host = start_host()
    page.goto(host.url + "/")
    wait_ready(page)
    banner = page.locator("#notice-banner")
    expect(banner).to_be_visible()
    expect(banner.get_by_role("heading")).to_have_text(f"Help us improve {NAME}")
    expect(banner).to_contain_text("Usage collection is enabled.")
    expect(banner).to_contain_text("This allows us to learn what our users are most interested in")
    expect(banner.get_by_role("link", name="Disable usage collection.")).to_be_visible()
    save_screenshot(page, "home")

    with page.expect_response(
        lambda r: (
            r.url.endswith("/internal/telemetry/userHasSeenNotice") and r.request.method == "PUT"
        )
    ) as seen:
        banner.get_by_role("button", name="Dismiss").click()
    assert seen.value.status == 200
    assert seen.value.request.headers["kbn-xsrf"] == "true"
    expect(banner).to_be_hidden()
    assert host.get("/internal/telemetry/status").json()["userHasSeenNotice"] is True
    assert host.get("/internal/telemetry/config").json()[
        "telemetryNotifyUserAboutOptInDefault"
    ] is (False)

    page.reload()
    wait_ready(page)
    expect(page.locator("#home-telemetry-summary")).to_contain_text("Usage collection is on")
    expect(banner).to_be_hidden()


def test_the_banner_link_opens_the_settings_and_counts_as_seen(
    page: Page, start_host: HostFactory
) -> None:
    host = start_host()
    page.goto(host.url + "/")
    wait_ready(page)
    page.get_by_role("link", name="Disable usage collection.").click()
    page.wait_for_url(host.url + "/app/telemetry")
    wait_ready(page)
    expect(share_switch(page)).to_be_checked()
    assert host.get("/internal/telemetry/status").json()["userHasSeenNotice"] is True


def test_opting_out_reports_from_the_server(
    page: Page, start_host: HostFactory, capture: CorsCaptureServer, keys: KeyPair
) -> None:
    host = start_host(telemetry=receiver_config(capture, keys))
    version = host.get("/api/status").json()["version"]["number"]
    page.goto(host.url + "/app/telemetry")
    wait_ready(page)
    switch = share_switch(page)
    expect(switch).to_be_checked()
    expect(switch).to_be_enabled()
    expect(page.locator("#fact-send-from")).to_have_text("the server")
    save_screenshot(page, "settings")

    switch.uncheck()
    expect(page.locator("#toasts")).to_contain_text(
        f"No longer sharing usage with the {NAME} team."
    )
    expect(page.locator("#share-usage-state")).to_have_text("Off")

    # The platform's state changed: the CLI and the config route both say so.
    status = host.status_json()
    assert status["consent"]["optIn"] is False
    assert status["consent"]["source"] == "saved-object"
    assert host.get("/internal/telemetry/config").json()["optIn"] is False

    # The server (not the browser) reported the change on the opt-in channel.
    [report] = wait_until(lambda: capture.posts(OPT_IN), what="the opt-in status report")
    assert "origin" not in report.headers
    assert report.headers["content-type"] == "application/json"
    assert report.headers["x-elastic-stack-version"] == version
    assert report.headers["x-elastic-content-encoding"] == "aes256gcm"
    payload = Decryptor(keys.private_jwks).decrypt_json(report.body)
    assert payload == {
        "cluster_uuid": report.headers["x-elastic-cluster-id"],
        "opt_in_status": False,
    }

    # The send history lists it once the server recorded it.
    wait_until(
        lambda: host.get("/internal/telemetry/status").json()["history"],
        what="the send history entry",
    )
    page.reload()
    wait_ready(page)
    row = page.locator("#history-rows tr").first
    expect(row).to_contain_text("telemetry-service-opt-in-reports")
    expect(row).to_contain_text("HTTP 200")
    assert not capture.posts(SNAPSHOT)
    save_screenshot(page, "settings-opted-out")


def test_browser_sends_the_snapshot(
    page: Page, start_host: HostFactory, capture: CorsCaptureServer, keys: KeyPair
) -> None:
    host = start_host(telemetry=receiver_config(capture, keys, sendUsageFrom="browser"))
    version = host.get("/api/status").json()["version"]["number"]
    assert host.get("/internal/telemetry/last_reported").json() == {}
    page.goto(host.url + "/")
    wait_ready(page)

    [report] = wait_until(lambda: capture.posts(SNAPSHOT), what="the snapshot from the browser")
    assert report.headers["origin"] == host.url  # sent by the page, not by the server
    assert capture.preflights(SNAPSHOT), "the browser asked the receiver for CORS first"
    assert report.headers["content-type"] == "application/json"
    assert report.headers["x-elastic-stack-version"] == version
    assert report.headers["x-elastic-content-encoding"] == "aes256gcm"
    payload = Decryptor(keys.private_jwks).decrypt_json(report.body)
    assert payload["cluster_uuid"] == report.headers["x-elastic-cluster-id"]
    assert payload["version"] == version
    assert "telemetry" in payload["stack_stats"]["kibana"]["plugins"]

    # Then the page stores lastReported on the server and in localStorage.
    expect(page.locator("html")).to_have_attribute("data-telemetry-sender", "sent")
    last = wait_until(
        lambda: host.get("/internal/telemetry/last_reported").json().get("lastReported"),
        what="PUT /internal/telemetry/last_reported",
    )
    local = json.loads(page.evaluate("localStorage.getItem('telemetry.data')"))
    assert abs(int(local["lastReport"]) - last) < 60_000

    # A new page load checks again but sends nothing: the report is not due for 24 hours.
    page.goto(host.url + "/app/telemetry")
    wait_ready(page)
    expect(page.locator("html")).to_have_attribute("data-telemetry-checks", "1")
    page.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(page.locator("html")).to_have_attribute("data-telemetry-checks", "2")
    assert len(capture.posts(SNAPSHOT)) == 1
    expect(page.locator("#fact-send-from")).to_have_text("the browser (these pages)")
    expect(page.locator("#fact-last-reported")).not_to_have_text("never")

    # Opting out from the page: the browser posts the opt-in report, the server does not.
    share_switch(page).uncheck()
    expect(page.locator("#toasts")).to_contain_text("No longer sharing usage")
    [opt_in] = wait_until(lambda: capture.posts(OPT_IN), what="the opt-in report")
    assert opt_in.headers["origin"] == host.url
    assert Decryptor(keys.private_jwks).decrypt_json(opt_in.body)["opt_in_status"] is False
    save_screenshot(page, "settings-browser")


def test_browser_retries_a_failed_report_after_two_minutes(
    page: Page, start_host: HostFactory, capture: CorsCaptureServer, keys: KeyPair
) -> None:
    capture.replies.append(Reply(status=503))
    host = start_host(telemetry=receiver_config(capture, keys, sendUsageFrom="browser"))
    page.clock.install()  # the page's timers and Date follow this clock
    page.goto(host.url + "/")
    wait_ready(page)
    html = page.locator("html")
    expect(html).to_have_attribute("data-telemetry-sender", "retrying")
    assert len(capture.posts(SNAPSHOT)) == 1
    assert host.get("/internal/telemetry/last_reported").json() == {}

    # 60 s * min(2^1, 64): the 60-second checks in between do not send (lastReport is local).
    page.clock.fast_forward(119_000)
    expect(html).to_have_attribute("data-telemetry-checks", "2")
    assert len(capture.posts(SNAPSHOT)) == 1
    page.clock.fast_forward(1_000)
    expect(html).to_have_attribute("data-telemetry-sender", "sent")
    assert len(capture.posts(SNAPSHOT)) == 2
    wait_until(
        lambda: host.get("/internal/telemetry/last_reported").json().get("lastReported"),
        what="lastReported after the retry",
    )


def test_example_payload_for_admins_and_viewers(
    context: BrowserContext, page: Page, start_host: HostFactory, tmp_path: Path
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    api_keys = [
        {"name": "ops", "role": "admin", "hash": hash_api_key(ADMIN_KEY)},
        {"name": "dash", "role": "viewer", "hash": hash_api_key(VIEWER_KEY)},
    ]
    host = start_host(server={"auth": {"apiKeys": api_keys}})
    page.goto(host.url + "/app/telemetry")
    wait_ready(page)
    expect(page.locator("#load-error")).to_have_text(
        "This server needs an API key: enter one above."
    )
    expect(share_switch(page)).to_be_disabled()

    use_key(page, ADMIN_KEY)
    expect(page.locator("#api-key-who")).to_have_text("Signed in as ops (admin)")
    expect(page.locator("#load-error")).to_be_hidden()
    expect(share_switch(page)).to_be_enabled()

    page.get_by_role("button", name="See an example of what we collect").click()
    example = page.get_by_label("Example payload (JSON)")
    expect(example).to_contain_text('"cluster_uuid"')
    shown = json.loads(example.inner_text())
    as_admin = {"Authorization": f"ApiKey {ADMIN_KEY}"}
    assert shown["version"] == host.get("/api/status", headers=as_admin).json()["version"]["number"]
    assert "usage_collector_stats" in shown["stack_stats"]["kibana"]["plugins"]
    save_screenshot(page, "settings-example")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename == "telemetry-example.json"
    saved = tmp_path / "example.json"
    download.value.save_as(saved)
    assert json.loads(saved.read_text()) == shown

    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#toasts")).to_contain_text("Copied the example to the clipboard.")
    assert json.loads(page.evaluate("navigator.clipboard.readText()")) == shown

    # A viewer: the toggle is read-only and the server's 403 message is shown.
    with page.expect_navigation():
        page.get_by_role("button", name="Forget key").click()
    wait_ready(page)
    use_key(page, VIEWER_KEY)
    expect(page.locator("#api-key-who")).to_have_text("Signed in as dash (viewer)")
    expect(share_switch(page)).to_be_disabled()
    expect(page.locator("#share-usage-locked")).to_have_text(
        "Only administrators can change this setting."
    )
    page.get_by_role("button", name="See an example of what we collect").click()
    expect(page.locator("#example-error")).to_have_text(
        "Only administrators can see unencrypted telemetry."
    )
    expect(example).to_be_hidden()
    save_screenshot(page, "settings-viewer")


def test_locked_by_do_not_track(page: Page, start_host: HostFactory) -> None:
    host = start_host(env={"DO_NOT_TRACK": "1"})
    page.goto(host.url + "/app/telemetry")
    wait_ready(page)
    switch = share_switch(page)
    expect(switch).to_be_disabled()
    expect(switch).not_to_be_checked()
    expect(page.locator("#share-usage-state")).to_have_text("Off")
    locked = page.locator("#share-usage-locked")
    expect(locked).to_be_visible()
    expect(locked).to_contain_text("the server's environment sets DO_NOT_TRACK")
    assert host.get("/internal/telemetry/config").json()["allowChangingOptInStatus"] is False
    save_screenshot(page, "settings-locked")

    page.goto(host.url + "/")
    wait_ready(page)
    expect(page.locator("#home-telemetry-summary")).to_contain_text("off (locked)")
    expect(page.locator("#notice-banner")).to_be_hidden()
