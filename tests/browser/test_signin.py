"""One-time sign-in links in Chromium against a real ``receiver serve`` process: the link opens
its page signed in, leaves no token in the address bar, and refuses a second use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import wait_ready
from tests.browser.receivers import LiveReceiver, live_receiver

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveReceiver]:
    with live_receiver(tmp_path_factory.mktemp("signin")) as running:
        yield running


def test_a_link_opens_the_overview_signed_in_once(
    page: Page, browser: Browser, receiver: LiveReceiver
) -> None:
    link = receiver.signin_link(role="viewer")
    assert "#token=" in link
    with page.expect_response(lambda r: r.url.endswith("/api/me")) as me:
        page.goto(link)
        page.wait_for_url(receiver.url + "/")
        wait_ready(page)
    assert me.value.status == 200
    assert me.value.request.headers["authorization"].startswith("ApiKey tss1.")
    expect(page.locator("#api-key-who")).to_have_text("Signed in as ops (viewer)")
    expect(page.locator("#auth-needed")).to_be_hidden()
    expect(page.locator("#load-error")).to_be_hidden()
    assert "token" not in page.url
    assert page.evaluate("window.history.length") <= 2
    page.wait_for_function("() => Object.keys(Chart.instances).length === 4")

    # The same link in another browser (a fresh context: no sessionStorage) is refused.
    other = browser.new_context()
    try:
        second = other.new_page()
        second.goto(link)
        wait_ready(second)
        expect(second.get_by_role("alert")).to_have_text(
            "This sign-in link was already used or has expired."
        )
        expect(second.locator("#signin-failed")).to_contain_text("Ask an administrator")
        assert second.evaluate("sessionStorage.length") == 0
        assert "token" not in second.url
    finally:
        other.close()


def test_a_link_to_the_events_page_and_a_page_without_token(
    page: Page, receiver: LiveReceiver
) -> None:
    link = receiver.signin_link(role="admin", next="/app/events?days=7")
    page.goto(link)
    page.wait_for_url(receiver.url + "/app/events?days=7")
    wait_ready(page)
    expect(page.locator("#api-key-who")).to_have_text("Signed in as ops (admin)")
    expect(page.locator("#events-days")).to_have_value("7")

    page.goto(receiver.url + "/signin")
    wait_ready(page)
    expect(page.get_by_role("alert")).to_have_text("This address holds no sign-in token.")
