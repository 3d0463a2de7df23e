"""The public statistics page in Chromium, without an API key, against a real ``receiver serve``
process with ``public.enabled`` whose store holds the demo's data (``receiver.samples``: 60
deployments over 28 days, the demo's defaults) and a month of events of those deployments."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml
from playwright.sync_api import Browser, Page, expect

from telemetry_service.common.clock import DAY_MS, to_ms
from telemetry_service.receiver import hash_api_key
from telemetry_service.receiver.samples import sample_reports, seed_store
from telemetry_service.receiver.storage import EventBatch, NewEvent, open_report_store
from tests.browser.conftest import ARTIFACTS, DOCS_SCREENSHOTS, wait_ready
from tests.browser.test_dashboard import painted_pixels, seeded_range
from tests.receiver.processes import serve_receiver
from tests.receiver.support import write_private_keys
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

CLUSTERS, DAYS = 60, 28
EVENTS = ["dashboard_opened", "report_generated"]
FIELDS = [
    {"path": "license.type", "kind": "keyword", "title": "License",
     "values": ["basic", "gold", "platinum", "enterprise", "trial"]},
    {"path": "stack_stats.kibana.plugins.cloud.provider", "kind": "keyword",
     "title": "Cloud provider", "values": ["aws", "gcp", "azure", "on-prem"]},
    {"path": "stack_stats.kibana.plugins.maps.enabled", "kind": "boolean", "title": "Maps"},
    {"path": "stack_stats.kibana.plugins.dashboards.total", "kind": "number",
     "title": "Dashboards"},
]  # fmt: skip


@dataclass
class PublicSite:
    url: str
    identities: set[str]  # every cluster uuid and name of the store

    def stats(self) -> httpx.Response:
        return httpx.get(self.url + "/public/api/stats", timeout=10)


def event_batches(clusters: list[str], end: dt.date) -> Iterator[EventBatch]:
    """Each day of the range, ``dashboard_opened`` from most clusters, a few times each, and
    ``report_generated`` from 6 of them (too few to publish)."""
    rng = random.Random(5)
    noon = to_ms(dt.datetime.combine(end, dt.time(12), tzinfo=dt.UTC))
    for day in range(DAYS):
        ms = noon - day * DAY_MS
        for index, cluster in enumerate(clusters):
            context = orjson.dumps({"cluster_uuid": cluster}).decode()
            events = [NewEvent(ms, "dashboard_opened", cluster, context, "{}")] * rng.randint(0, 6)
            if index < 6:
                events.append(NewEvent(ms, "report_generated", cluster, context, "{}"))
            if events:
                yield EventBatch(
                    f"{cluster}-{day}", "telemetry-service-server", cluster, ms, events
                )


def seed(url: str) -> set[str]:
    """Seed the demo's data, and events of its clusters; return the uuids and names of its
    clusters."""
    end, now = seeded_range()
    reports = list(sample_reports(clusters=CLUSTERS, days=DAYS, end=end, now=now))
    clusters = sorted({r.cluster_uuid for r in reports})

    async def run() -> None:
        store = open_report_store(url)
        await store.open()
        try:
            await seed_store(store, reports)
            for batch in event_batches(clusters, end):
                await store.events.add(batch)
        finally:
            await store.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # Playwright owns the main loop
        pool.submit(asyncio.run, run()).result()
    return {r.cluster_uuid for r in reports} | {r.cluster_name for r in reports if r.cluster_name}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PublicSite]:
    folder = tmp_path_factory.mktemp("public")
    store = f"sqlite:///{folder / 'receiver.db'}"
    identities = seed(store)
    config = folder / "receiver.yml"
    api_keys = [{"name": "ops", "role": "admin", "hash": hash_api_key("public-test-admin-key")}]
    config.write_text(
        yaml.safe_dump(
            {
                "auth": {"apiKeys": api_keys},
                "public": {"enabled": True, "fields": FIELDS, "events": EVENTS},
            }
        )
    )
    keys = write_private_keys(folder / "receiver.private.jwks.json")
    args = ["--config", str(config), "--keys", str(keys), "--store", store, "--port", "0"]
    with serve_receiver(args, cwd=folder) as server:
        wait_until(
            lambda: httpx.get(server.url + "/public/api/stats", timeout=10).status_code == 200,
            timeout=30,
            what="the first refresh of the public statistics",
        )
        yield PublicSite(server.url, identities)
        assert server.terminate() == 0


def save_screenshot(page: Page) -> Path:
    """Always to test-artifacts/screenshots/public.png; with UPDATE_SCREENSHOTS=1 also to
    docs/screenshots/public.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = page.screenshot(full_page=True, animations="disabled")
    target = ARTIFACTS / "public.png"
    target.write_bytes(png)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        (DOCS_SCREENSHOTS / "public.png").write_bytes(png)
    return target


def test_public_page_shows_the_published_figures_without_a_key(
    page: Page, site: PublicSite
) -> None:
    requests: list[dict[str, str]] = []
    page.on("request", lambda request: requests.append(request.headers))
    page.goto(site.url + "/public")
    wait_ready(page)
    doc: dict[str, Any] = site.stats().json()

    expect(page.locator("#stat-active")).to_have_text(f"{doc['active_deployments']:,}")
    expect(page.locator("#stat-version")).to_have_text(doc["versions"]["buckets"][0]["value"])
    charts = ["chart-active", "chart-versions", "chart-events"]
    charts += [f"chart-field-{i + 1}" for i in range(4)]
    assert page.evaluate("Object.keys(Chart.instances).length") == len(charts)
    for canvas in charts:
        assert painted_pixels(page, canvas) > 1500, canvas
    shown = page.evaluate("Chart.getChart(document.getElementById('chart-versions')).data.labels")
    named = [bucket["value"] for bucket in doc["versions"]["buckets"]]
    assert shown[: len(named)] == named
    assert all(b["deployments"] >= 10 for b in doc["versions"]["buckets"])
    assert all("authorization" not in headers for headers in requests)
    opened, generated = doc["events"]
    assert opened["deployments"] >= 40
    assert generated["deployments"] is None
    lines = page.evaluate(
        "Chart.getChart(document.getElementById('chart-events')).data.datasets.map(d => d.label)"
    )
    assert lines == EVENTS
    cells = page.locator("#table-events tbody tr").first.locator("td")
    expect(cells.nth(0)).to_have_text("dashboard_opened")
    expect(cells.nth(1)).to_have_text(f"{opened['deployments']:,}")

    html = page.content()
    for identity in site.identities:
        assert identity not in html
        assert identity not in site.stats().text
    save_screenshot(page)


def test_headline_numbers_work_without_javascript(browser: Browser, site: PublicSite) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(site.url + "/public")
        doc = site.stats().json()
        expect(page.locator("#stat-active")).to_have_text(f"{doc['active_deployments']:,}")
        expect(page.get_by_role("heading", name="Versions")).to_be_visible()
        expect(page.locator(".chart-box").first).to_be_hidden()
        top = doc["versions"]["buckets"][0]
        row = page.get_by_role("row", name=f"{top['value']} {top['deployments']}")
        expect(row).to_be_visible()
    finally:
        context.close()


def test_the_published_json_downloads(page: Page, site: PublicSite) -> None:
    page.goto(site.url + "/public")
    wait_ready(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the data (JSON)").click()
    assert download.value.suggested_filename == "public-stats.json"
    saved = json.loads(Path(download.value.path()).read_text())
    assert saved == site.stats().json()
    assert saved["min_clusters"] == 10
