"""``/public`` and ``/public/api/stats`` of an in-process receiver: what they publish (never a
rare version, a cluster's uuid or name), 404 when disabled, caching, and 1,000 concurrent
requests answered from memory."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest

from telemetry_service.receiver import Receiver, load_config
from telemetry_service.receiver.storage import ReportStore, open_report_store
from telemetry_service.testing import FakeClock

from .support import CountingStore, report, seed_clusters

pytestmark = pytest.mark.anyio

FIELDS = [
    {"path": "license.type", "kind": "keyword", "values": ["basic", "gold"], "title": "License"},
    {"path": "stack_stats.kibana.plugins.maps.enabled", "kind": "boolean"},
    {"path": "stack_stats.kibana.plugins.dashboards.total", "kind": "number"},
]


def enable(settings: dict[str, Any], backend_url: str) -> dict[str, Any]:
    settings["store"] = {"url": backend_url}
    settings["public"] = {"enabled": True, "fields": FIELDS}
    return settings


def payload_extra(license_type: str, maps: bool, dashboards: int) -> dict[str, Any]:
    plugins = {"maps": {"enabled": maps}, "dashboards": {"total": dashboards}}
    return {
        "license": {"type": license_type},
        "stack_stats": {"kibana": {"plugins": plugins}},
    }


@pytest.fixture
async def public(
    receiver_settings: dict[str, Any], backend_url: str, clock: FakeClock
) -> AsyncIterator[tuple[Receiver, httpx.AsyncClient]]:
    config = load_config(enable(receiver_settings, backend_url), env={})
    async with Receiver(config, clock=clock) as receiver:
        await receiver.public.stop()  # the tests refresh by hand
        transport = httpx.ASGITransport(app=receiver.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
            yield receiver, client


async def test_a_rare_version_and_cluster_identities_are_never_published(
    public: tuple[Receiver, httpx.AsyncClient], clock: FakeClock
) -> None:
    receiver, client = public
    common = await seed_clusters(
        receiver.store, clock, 50, prefix="common", version="8.1.0",
        **payload_extra("basic", True, 40),
    )  # fmt: skip
    rare = await seed_clusters(
        receiver.store, clock, 9, prefix="rare", version="8.2.0-rc1", opt_in=False,
        **payload_extra("gold", False, 7),
    )  # fmt: skip
    await receiver.public.refresh()

    page = await client.get("/public")
    stats = await client.get("/public/api/stats")
    assert page.status_code == stats.status_code == 200
    doc = stats.json()
    assert doc["active_deployments"] == 59
    assert doc["versions"] == {"buckets": [{"value": "8.1.0", "deployments": 50}], "other": None}
    license_field, maps, dashboards = doc["fields"]
    assert license_field["buckets"] == [{"value": "basic", "deployments": 50}]
    assert maps["buckets"] == [{"value": "true", "deployments": 50}]
    assert dashboards["numbers"]["deployments"] == 59
    assert doc["opt_in"] == {"opted_in": None, "opted_out": None, "share": None}  # 9 opted out

    for text in (page.text, stats.text):
        assert "8.2.0" not in text
        assert "gold" not in text  # listed, but held by 9 deployments
        assert "rare deployment" not in text
        assert "common deployment" not in text
        for cluster_uuid in common + rare:
            assert cluster_uuid not in text
    assert "8.1.0" in page.text
    assert "59" in page.text
    embedded = page.text.split('id="public-stats">', 1)[1].split("</script>", 1)[0]
    assert json.loads(embedded) == doc


async def test_the_page_works_without_javascript_and_links_the_json(
    public: tuple[Receiver, httpx.AsyncClient], clock: FakeClock
) -> None:
    receiver, client = public
    await seed_clusters(receiver.store, clock, 12, prefix="a", version="8.13.0")
    await seed_clusters(receiver.store, clock, 11, prefix="b", version="8.14.0", opt_in=False)
    await receiver.public.refresh()
    page = await client.get("/public")
    assert 'id="stat-active">23<' in page.text
    assert 'id="stat-opt-in">52.2 %<' in page.text
    assert 'id="stat-version">8.13.0<' in page.text
    assert 'href="/public/api/stats" download="public-stats.json"' in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert "authorization" not in {name.lower() for name in page.request.headers}


@pytest.mark.parametrize("path", ["/public", "/public/api/stats", "/public/anything"])
async def test_every_public_route_is_404_when_disabled(
    client: httpx.AsyncClient, receiver: Receiver, path: str
) -> None:
    assert receiver.config.public.enabled is False
    response = await client.get(path)
    assert response.status_code == 404
    assert not receiver.public.running


async def test_503_with_retry_after_before_the_first_refresh(
    public: tuple[Receiver, httpx.AsyncClient],
) -> None:
    _, client = public
    for path in ("/public", "/public/api/stats"):
        response = await client.get(path)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "30"


async def test_etag_cache_control_and_304(
    public: tuple[Receiver, httpx.AsyncClient], clock: FakeClock
) -> None:
    receiver, client = public
    await seed_clusters(receiver.store, clock, 10, prefix="a", version="8.13.0")
    await receiver.public.refresh()
    for path in ("/public/api/stats", "/public"):
        first = await client.get(path)
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == "public, max-age=3600"
        clock.advance(minutes=10)
        again = await client.get(path, headers={"If-None-Match": f'"other", W/{etag}'})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == "public, max-age=3000"
        clock.advance(minutes=-10)
    stats = await client.get("/public/api/stats")
    assert stats.headers["access-control-allow-origin"] == "*"
    assert stats.headers["etag"] != (await client.get("/public")).headers["etag"]


async def test_1000_concurrent_requests_make_no_store_query(
    receiver_settings: dict[str, Any], backend_url: str, clock: FakeClock
) -> None:
    inner = open_report_store(backend_url)
    store = CountingStore(inner)
    config = load_config(enable(receiver_settings, backend_url), env={})
    async with Receiver(config, clock=clock, store=cast(ReportStore, store)) as receiver:
        await receiver.public.stop()
        await seed_clusters(inner, clock, 20, prefix="a", version="8.13.0")
        published = await receiver.public.refresh()
        assert "version_counts" in store.calls
        assert "save_public_stats" in store.calls
        store.calls.clear()
        transport = httpx.ASGITransport(app=receiver.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
            answers = await asyncio.gather(*(client.get("/public/api/stats") for _ in range(1000)))
            page = await client.get("/public")
        assert store.calls == []
        assert {a.status_code for a in answers} == {200}
        assert {a.headers["etag"] for a in answers} == {published.etag}
        assert all(a.content == published.body for a in answers)
        assert page.status_code == 200
        assert store.calls == []


async def test_a_deployment_that_sends_again_changes_nothing_until_a_refresh(
    public: tuple[Receiver, httpx.AsyncClient], clock: FakeClock
) -> None:
    receiver, client = public
    await seed_clusters(receiver.store, clock, 10, prefix="a", version="8.13.0")
    await receiver.public.refresh()
    before = await client.get("/public/api/stats")
    clock.advance(minutes=5)
    late = await seed_clusters(receiver.store, clock, 10, prefix="b", version="8.14.0")
    await receiver.store.add(report(clock, {"cluster_uuid": late[0], "version": "8.14.0"}))
    after = await client.get("/public/api/stats")
    assert after.content == before.content
    assert after.headers["etag"] == before.headers["etag"]
    await receiver.public.refresh()
    refreshed = await client.get("/public/api/stats")
    assert refreshed.headers["etag"] != before.headers["etag"]
    assert refreshed.json()["active_deployments"] == 20
