"""The receiver's dashboard in a real browser, against a real ``receiver serve`` process.

One receiver (SQLite, API keys for an admin and a viewer) serves the module: its store is
seeded first with 30 days of sample reports from 300 clusters (``receiver.samples``), written
through the store's add path. The test that deletes a cluster runs last.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import csv
import datetime as dt
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from playwright.sync_api import Page, expect

from telemetry_service.receiver import hash_api_key
from telemetry_service.receiver.samples import sample_reports, seed_store
from telemetry_service.receiver.storage import open_report_store
from tests.browser.conftest import ARTIFACTS, DOCS_SCREENSHOTS, wait_ready
from tests.receiver.processes import serve_receiver
from tests.receiver.support import write_private_keys
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.integration

ADMIN_KEY, VIEWER_KEY = (
    "dashboard-admin-key-for-the-browser",
    "dashboard-viewer-key-for-the-browser",
)
CLUSTERS, DAYS = 300, 30
NUMBER_FIELD = "stack_stats.kibana.plugins.dashboards.total"
CHARTS = ["chart-active", "chart-reports", "chart-opt-in", "chart-versions"]


@dataclass
class Dashboard:
    url: str
    server: ServerProcess

    def api(self, path: str, key: str = VIEWER_KEY, **params: Any) -> Any:
        response = httpx.get(
            self.url + path,
            params=params,
            headers={"Authorization": f"ApiKey {key}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()


def seeded_range() -> tuple[dt.date, dt.datetime]:
    """The sample month ends with yesterday (UTC), whole: at any hour of today, every cluster
    of the sample has sent its last day's report, so the counts the tests expect hold at
    00:05 as at 23:55 (the receiver itself runs on the real clock)."""
    today = dt.datetime.now(dt.UTC).date()
    end = today - dt.timedelta(days=1)
    return end, dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)


def seed(url: str) -> int:
    end, now = seeded_range()

    async def run() -> int:
        store = open_report_store(url)
        await store.open()
        try:
            reports = sample_reports(clusters=CLUSTERS, days=DAYS, end=end, now=now)
            return await seed_store(store, reports)
        finally:
            await store.close()

    # Playwright's sync API marks the main thread's event loop as running: seed elsewhere.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    folder = tmp_path_factory.mktemp("dashboard")
    store = f"sqlite:///{folder / 'receiver.db'}"
    assert seed(store) > CLUSTERS * DAYS * 0.8
    config = folder / "receiver.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "auth": {
                    "apiKeys": [
                        {"name": "ops", "role": "admin", "hash": hash_api_key(ADMIN_KEY)},
                        {"name": "analyst", "role": "viewer", "hash": hash_api_key(VIEWER_KEY)},
                    ]
                }
            }
        )
    )
    keys = write_private_keys(folder / "receiver.private.jwks.json")
    args = ["--config", str(config), "--keys", str(keys), "--store", store, "--port", "0"]
    with serve_receiver(args, cwd=folder) as server:
        yield Dashboard(server.url, server)
        assert server.terminate() == 0


def save_screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Always to test-artifacts/screenshots/receiver-NAME.png; with UPDATE_SCREENSHOTS=1 also
    to docs/screenshots/receiver-NAME.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = page.screenshot(full_page=full_page, animations="disabled")
    target = ARTIFACTS / f"receiver-{name}.png"
    target.write_bytes(png)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (DOCS_SCREENSHOTS / f"receiver-{name}.png").write_bytes(png)
    return target


def open_with_key(page: Page, url: str, key: str) -> None:
    """Open `url`, type the API key into the top bar; the page reloads with it."""
    page.goto(url)
    wait_ready(page)
    page.get_by_label("API key").fill(key)
    with page.expect_navigation():
        page.get_by_role("button", name="Use key").click()
    wait_ready(page)
    expect(page.locator("#load-error")).to_be_hidden()


def painted_pixels(page: Page, canvas_id: str) -> int:
    """Pixels of a canvas that are not transparent (a drawn chart has thousands)."""
    count: int = page.evaluate(
        """(id) => {
            const canvas = document.getElementById(id);
            const context = canvas.getContext('2d');
            const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i]) painted++;
            return painted;
        }""",
        canvas_id,
    )
    return count


def chart_data(page: Page, canvas_id: str) -> list[list[float | None]]:
    data: list[list[float | None]] = page.evaluate(
        "(id) => Chart.getChart(document.getElementById(id)).data.datasets.map((d) => d.data)",
        canvas_id,
    )
    return data


def test_overview_needs_a_key_then_draws_its_charts(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/")
    wait_ready(page)
    expect(page.locator("#auth-needed")).to_be_visible()
    assert page.evaluate("Object.keys(Chart.instances).length") == 0

    page.get_by_label("API key").fill(VIEWER_KEY)
    with (
        page.expect_navigation(),
        page.expect_response(lambda r: "/api/stats/active-clusters" in r.url) as active_answer,
    ):
        page.get_by_role("button", name="Use key").click()
    wait_ready(page)
    expect(page.locator("#auth-needed")).to_be_hidden()
    expect(page.locator("#load-error")).to_be_hidden()
    expect(page.locator("#api-key-who")).to_have_text("Signed in as analyst (viewer)")

    active = active_answer.value.json()["days"]
    assert len(active) == 30
    assert sum(day["clusters"] for day in active) > CLUSTERS * 20
    assert page.evaluate("Object.keys(Chart.instances).length") == len(CHARTS)
    for canvas in CHARTS:
        assert painted_pixels(page, canvas) > 2000, canvas
        assert any(any(value for value in series) for series in chart_data(page, canvas)), canvas
    assert chart_data(page, "chart-active")[0] == [day["clusters"] for day in active]

    versions = dashboard.api("/api/stats/versions", active_days=30)
    expect(page.locator("#stat-active")).to_have_text(f"{versions['clusters']:,}")
    expect(page.locator("#stat-known")).to_have_text(
        f"{dashboard.api('/api/clusters', limit=1)['total']:,}"
    )
    bars = chart_data(page, "chart-versions")[0]
    assert bars == [v["clusters"] for v in versions["versions"]]
    save_screenshot(page, "overview")


def test_overview_range_picker_and_downloads(page: Page, dashboard: Dashboard) -> None:
    open_with_key(page, dashboard.url + "/", VIEWER_KEY)
    with page.expect_navigation():
        page.get_by_label("Time range").select_option("7d")
    wait_ready(page)
    assert "range=7d" in page.url
    assert (
        len(page.evaluate("Chart.getChart(document.getElementById('chart-active')).data.labels"))
        == 7
    )
    first = page.locator("#range-from").input_value()
    last = page.locator("#range-to").input_value()

    with page.expect_download() as ndjson:
        page.get_by_role("button", name="Reports (NDJSON)").click()
    assert ndjson.value.suggested_filename == f"reports-{first}-{last}.ndjson"
    lines = Path(ndjson.value.path()).read_text().splitlines()
    per_day = dashboard.api("/api/stats/reports-per-day", **{"from": first, "to": last})
    expected = sum(day["snapshots"] + day["opt_in"] for day in per_day["days"])
    assert len(lines) == expected > 0
    assert {json.loads(line)["kind"] for line in lines} <= {"snapshot", "opt-in"}

    with page.expect_download() as figures:
        page.get_by_role("button", name="Figures per day (CSV)").click()
    rows = list(csv.reader(io.StringIO(Path(figures.value.path()).read_text())))
    assert rows[0] == [
        "date", "active_clusters", "snapshots", "opt_in_reports", "opted_in", "opted_out"
    ]  # fmt: skip
    assert [int(row[2]) for row in rows[1:]] == [d["snapshots"] for d in per_day["days"]]


def test_field_explorer_answers_for_numbers_and_keywords(page: Page, dashboard: Dashboard) -> None:
    open_with_key(page, dashboard.url + "/app/fields", VIEWER_KEY)
    offered = page.eval_on_selector_all("#field-options option", "os => os.map((o) => o.value)")
    assert NUMBER_FIELD in offered
    assert "version" in offered
    expect(page.locator("#field-results")).to_be_hidden()

    # A number: statistics over active clusters and a trend of averages and percentiles.
    page.get_by_label("Payload field (dotted path)").fill(NUMBER_FIELD)
    with page.expect_navigation():
        page.get_by_role("button", name="Explore").click()
    wait_ready(page)
    expect(page.locator("#field-results")).to_be_visible()
    dist = dashboard.api("/api/stats/distribution", field=NUMBER_FIELD, active_days=30)
    expect(page.locator("#stat-kind")).to_have_text("number")
    expect(page.locator("#stat-present")).to_have_text(f"{dist['number']['count']:,}")
    median = page.locator("#values-rows tr", has_text="p50 (median)")
    expected_median = f"{dist['number']['percentiles']['50']:,.2f}".rstrip("0").rstrip(".")
    expect(median.locator("td").nth(1)).to_have_text(expected_median)
    trend = chart_data(page, "chart-trend")
    assert len(trend) == 3  # average, median, p90
    assert any(value for value in trend[0])
    assert painted_pixels(page, "chart-distribution") > 2000
    assert painted_pixels(page, "chart-trend") > 2000
    save_screenshot(page, "fields-number")

    # A keyword: counts of its values, the same as the API's, and a CSV of them.
    page.get_by_label("Payload field (dotted path)").fill("version")
    with page.expect_navigation():
        page.get_by_role("button", name="Explore").click()
    wait_ready(page)
    dist = dashboard.api("/api/stats/distribution", field="version", active_days=30)
    buckets = dist["keyword"]["buckets"]
    expect(page.locator("#stat-kind")).to_have_text("keyword")
    rows = page.locator("#values-rows tr")
    expect(rows).to_have_count(len(buckets))
    for row, bucket in zip(rows.all(), buckets, strict=True):
        expect(row.locator("td").nth(0)).to_have_text(bucket["value"])
        expect(row.locator("td").nth(1)).to_have_text(f"{bucket['count']:,}")
    assert chart_data(page, "chart-distribution")[0] == [b["count"] for b in buckets]
    assert len(chart_data(page, "chart-trend")) >= len(buckets)  # a series per version
    with page.expect_download() as download:
        page.get_by_role("button", name="Distribution (CSV)").click()
    table = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert table[0] == ["field", "group", "name", "value"]
    keyword_rows = [row for row in table if row[1] == "keyword" and row[2] != "(other values)"]
    assert [(r[2], int(r[3])) for r in keyword_rows] == [(b["value"], b["count"]) for b in buckets]
    save_screenshot(page, "fields")


def test_cluster_list_searches_and_pages(page: Page, dashboard: Dashboard) -> None:
    open_with_key(page, dashboard.url + "/app/clusters", VIEWER_KEY)
    rows = page.locator("#clusters-rows tr")
    expect(rows).to_have_count(25)
    expect(page.locator("#page-info")).to_have_text(f"1–25 of {CLUSTERS}")
    save_screenshot(page, "clusters")
    with page.expect_navigation():
        page.get_by_role("button", name="Next").click()
    wait_ready(page)
    expect(page.locator("#page-info")).to_have_text(f"26–50 of {CLUSTERS}")

    found = dashboard.api("/api/search/clusters", q="prod-eu", limit=25)
    page.get_by_label("Id or name").fill("prod-eu")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    wait_ready(page)
    expect(page.locator("#list-count")).to_have_text(f"({found['total']})")
    for row in rows.all():
        expect(row).to_contain_text("prod-eu")


def first_cluster(dashboard: Dashboard, q: str) -> dict[str, Any]:
    cluster: dict[str, Any] = dashboard.api("/api/search/clusters", q=q, limit=1)["clusters"][0]
    return cluster


def test_cluster_page_shows_history_and_latest_payload(page: Page, dashboard: Dashboard) -> None:
    cluster = first_cluster(dashboard, "prod")
    uuid = cluster["cluster_uuid"]
    open_with_key(page, f"{dashboard.url}/app/clusters/{uuid}", VIEWER_KEY)
    expect(page.locator("#cluster-title")).to_have_text(cluster["cluster_name"])
    expect(page.locator("#fact-uuid")).to_have_text(uuid)
    expect(page.locator("#fact-version")).to_have_text(cluster["version"])

    history = dashboard.api(f"/api/clusters/{uuid}/reports", limit=1000, payload="false")
    expect(page.locator("#history-rows tr")).to_have_count(len(history))
    assert len(history) >= 1
    latest = dashboard.api(f"/api/clusters/{uuid}/latest")
    shown = json.loads(page.locator("#payload-json").inner_text())
    assert shown == latest["payload"]
    assert shown["cluster_uuid"] == uuid

    # A viewer is never offered the deletion request.
    expect(page.locator("#danger-zone")).to_be_hidden()
    expect(page.get_by_role("button", name="Delete cluster…")).to_have_count(0)
    save_screenshot(page, "cluster")


def test_unknown_cluster_page_says_so(page: Page, dashboard: Dashboard) -> None:
    open_with_key(page, f"{dashboard.url}/app/clusters/no-such-cluster", VIEWER_KEY)
    expect(page.locator("#cluster-missing")).to_be_visible()
    expect(page.locator("#cluster-body")).to_be_hidden()


def test_an_admin_deletes_a_cluster(page: Page, dashboard: Dashboard) -> None:
    cluster = first_cluster(dashboard, "dev")
    uuid = cluster["cluster_uuid"]
    reports = len(dashboard.api(f"/api/clusters/{uuid}/reports", limit=1000, payload="false"))
    open_with_key(page, f"{dashboard.url}/app/clusters/{uuid}", ADMIN_KEY)
    expect(page.locator("#api-key-who")).to_have_text("Signed in as ops (admin)")
    expect(page.locator("#danger-zone")).to_be_visible()
    page.get_by_role("button", name="Delete cluster…").click()
    dialog = page.get_by_role("dialog", name="Delete this cluster?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(uuid)
    save_screenshot(page, "cluster-delete", full_page=False)  # the modal is in the viewport

    with page.expect_response(
        lambda r: r.request.method == "DELETE" and r.url.endswith(f"/api/clusters/{uuid}")
    ) as answer:
        dialog.get_by_role("button", name="Delete", exact=True).click()
    assert answer.value.status == 200
    assert answer.value.request.headers["authorization"] == f"ApiKey {ADMIN_KEY}"
    assert answer.value.json()["deleted_reports"] >= reports
    expect(page.locator("#toasts")).to_contain_text("Cluster deleted")
    expect(page.locator("#cluster-missing")).to_contain_text("Deleted")

    gone = httpx.get(
        f"{dashboard.url}/api/clusters/{uuid}",
        headers={"Authorization": f"ApiKey {VIEWER_KEY}"},
        timeout=10,
    )
    assert gone.status_code == 404
    page.reload()
    wait_ready(page)
    expect(page.locator("#cluster-missing")).to_be_visible()
