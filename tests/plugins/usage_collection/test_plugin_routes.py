"""The usage_collection plugin in a platform: ``/api/stats``, ``/api/ui_counters/_report``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from telemetry_service.core import Platform
from telemetry_service.plugins import builtin_plugins
from telemetry_service.plugins.usage_collection import UsageCollectionSetup

pytestmark = pytest.mark.anyio
XSRF = {"kbn-xsrf": "1"}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[Platform, httpx.AsyncClient]]:
    config = {
        "path": {"data": str(tmp_path)},
        "usageCollection": {"usageCounters": {"bufferDuration": "50ms"}},
    }
    async with Platform(
        config=config, plugins=builtin_plugins(), version="8.4.0-SNAPSHOT", env={}
    ) as platform:
        transport = httpx.ASGITransport(app=platform.asgi_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
            yield platform, client


async def test_api_stats_shape(app: tuple[Platform, httpx.AsyncClient]) -> None:
    platform, client = app
    body = (await client.get("/api/stats")).json()
    kibana = body["kibana"]
    assert kibana["uuid"] == platform.instance_uuid
    assert kibana["version"] == "8.4.0"
    assert kibana["snapshot"] is True
    assert kibana["status"] == "green"
    assert kibana["transport_address"] == "127.0.0.1:5601"
    assert body["collection_interval_ms"] == 10_000
    assert "collection_interval_in_millis" not in body
    assert body["process"]["uptime_ms"] >= 0
    assert body["process"]["memory"]["resident_set_size_bytes"] > 0
    assert "usage" not in body
    assert "cluster_uuid" not in body


async def test_api_stats_extended_and_legacy(app: tuple[Platform, httpx.AsyncClient]) -> None:
    platform, client = app
    extended = (await client.get("/api/stats?extended=true")).json()
    assert extended["usage"] == {}
    assert extended["cluster_uuid"] == platform.deployment_uuid
    legacy = (await client.get("/api/stats?extended&legacy=true&exclude_usage=true")).json()
    assert legacy["clusterUuid"] == platform.deployment_uuid
    assert "cluster_uuid" not in legacy


async def test_ui_counters_report_increments_ui_counters(
    app: tuple[Platform, httpx.AsyncClient],
) -> None:
    platform, client = app
    report = {
        "report": {
            "reportVersion": 3,
            "uiCounter": {
                "a": {
                    "key": "a",
                    "type": "click",
                    "appName": "dashboards",
                    "eventName": "open",
                    "total": 3,
                },
                "b": {
                    "key": "b",
                    "type": "loaded",
                    "appName": "dashboards",
                    "eventName": "page",
                    "total": 1,
                },
            },
        }
    }
    response = await client.post("/api/ui_counters/_report", json=report, headers=XSRF)
    assert response.json() == {"status": "ok"}
    usage = platform.setup_contracts["usage_collection"]
    assert isinstance(usage, UsageCollectionSetup)
    await usage.counters.flush()
    found = await platform.store.find("usage-counter")
    by_name = {o.attributes["counterName"]: o.attributes for o in found.saved_objects}
    assert by_name["open"]["count"] == 3
    assert by_name["open"]["source"] == "ui"
    assert by_name["open"]["counterType"] == "click"
    assert by_name["page"]["domainId"] == "dashboards"


async def test_ui_counters_are_stored_without_the_reports_namespace(
    app: tuple[Platform, httpx.AsyncClient],
) -> None:
    """A ``namespace`` in a ui counter entry is ignored: the counter lands in the default one.

    Kibana: src/plugins/usage_collection/server/report/store_ui_report.ts (``incrementCounter``
    gets counterName, counterType, incrementBy and source 'ui', no namespace) and
    store_ui_report.test.ts, "stores report for all types of data".
    """
    platform, client = app
    entry = {"type": "click", "appName": "dashboards", "eventName": "open", "total": 2}
    report = {"report": {"uiCounter": {"a": {**entry, "namespace": "space-a"}, "b": entry}}}
    response = await client.post("/api/ui_counters/_report", json=report, headers=XSRF)
    assert response.json() == {"status": "ok"}
    usage = platform.setup_contracts["usage_collection"]
    assert isinstance(usage, UsageCollectionSetup)
    await usage.counters.flush()
    found = (await platform.store.find("usage-counter")).saved_objects
    assert [(o.namespace, o.attributes["count"]) for o in found] == [(None, 4)]


async def test_ui_counters_report_bad_input(app: tuple[Platform, httpx.AsyncClient]) -> None:
    _, client = app
    assert (await client.post("/api/ui_counters/_report", json={"report": {}})).status_code == 400
    bad = {
        "report": {
            "uiCounter": {"x": {"type": "click", "appName": "a", "eventName": "e", "total": 0}}
        }
    }
    response = await client.post("/api/ui_counters/_report", json=bad, headers=XSRF)
    assert response.status_code == 400
    assert "total" in response.json()["message"]


@pytest.mark.parametrize("field", ["eventName", "appName", "type"])
async def test_ui_counters_report_refuses_nul_in_names(
    app: tuple[Platform, httpx.AsyncClient], field: str
) -> None:
    """Review finding: a NUL name passed the route and then failed its whole write batch at
    every flush on PostgreSQL. (A lone surrogate escape is already refused by the JSON parse.)"""
    platform, client = app
    entry = {"type": "click", "appName": "a", "eventName": "e", "total": 1, field: "a\u0000b"}
    report = {"report": {"uiCounter": {"x": entry}}}
    response = await client.post("/api/ui_counters/_report", json=report, headers=XSRF)
    assert response.status_code == 400
    assert "must not contain NUL or a lone surrogate" in response.json()["message"]
    usage = platform.setup_contracts["usage_collection"]
    assert isinstance(usage, UsageCollectionSetup)
    await usage.counters.flush()
    assert (await platform.store.find("usage-counter")).saved_objects == []
