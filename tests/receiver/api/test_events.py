"""The events API on both backends: the exact answers the Events page is built on, windows
by the receiver's clock, 404s, bounds, the viewer role, exports and the OpenAPI document."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from telemetry_service.receiver import Receiver, load_config
from telemetry_service.testing import FakeClock
from telemetry_service.wire.protocol import event_headers, events_to_ndjson

from ..conftest import VIEWER_KEY

pytestmark = pytest.mark.anyio


def event(day: int, event_type: str, cluster: str, **properties: Any) -> dict[str, Any]:
    return {
        "timestamp": f"2026-03-{day:02d}T10:00:00.000Z",
        "event_type": event_type,
        "context": {"cluster_uuid": cluster},
        "properties": properties,
    }


@pytest.fixture
async def loaded(
    receiver_settings: dict[str, Any], backend_url: str, clock: FakeClock
) -> AsyncIterator[httpx.AsyncClient]:
    """A receiver (today: 2026-03-15) with events of 3 clusters on the 13th and 15th."""
    receiver_settings["store"] = {"url": backend_url}
    async with Receiver(load_config(receiver_settings, env={}), clock=clock) as receiver:
        transport = httpx.ASGITransport(app=receiver.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
            batches = {
                "a": [event(13, "click", "a", button="ok", n=1, on=True)]
                + [event(15, "click", "a", button="cancel", n=3, on=False)] * 2,
                "b": [event(15, "click", "b", button="ok", n=5), event(15, "view", "b", p=1)],
                "c": [event(1, "click", "c", button="old")],  # outside a 3-day window
            }
            for cluster, events in batches.items():
                response = await client.post(
                    "/v3/send/telemetry-service-server",
                    content=events_to_ndjson(events),
                    headers=event_headers(cluster, "8.1.0"),
                )
                assert response.status_code == 200, response.text
            yield client


async def test_types_overview(loaded: httpx.AsyncClient) -> None:
    response = await loaded.get("/api/events/types", params={"days": 3})
    assert response.json() == {
        "types": [
            {
                "event_type": "click",
                "events": 4,
                "clusters": 2,
                "first_seen": "2026-03-01T10:00:00.000Z",
                "last_seen": "2026-03-15T10:00:00.000Z",
                "trend": [1, 0, 3],
            },
            {
                "event_type": "view",
                "events": 1,
                "clusters": 1,
                "first_seen": "2026-03-15T10:00:00.000Z",
                "last_seen": "2026-03-15T10:00:00.000Z",
                "trend": [0, 0, 1],
            },
        ]
    }
    month = (await loaded.get("/api/events/types")).json()["types"][0]
    assert (month["events"], month["clusters"], len(month["trend"])) == (5, 3, 30)


async def test_one_type_per_day_with_every_day(loaded: httpx.AsyncClient) -> None:
    response = await loaded.get("/api/events/types/click/daily", params={"days": 3})
    assert response.json() == {
        "event_type": "click",
        "days": [
            {"day": "2026-03-13", "events": 1, "clusters": 1},
            {"day": "2026-03-14", "events": 0, "clusters": 0},
            {"day": "2026-03-15", "events": 3, "clusters": 2},
        ],
    }
    missing = await loaded.get("/api/events/types/never/daily")
    assert (missing.status_code, missing.json()["reason"]) == (404, "not_found")


async def test_properties_and_their_breakdowns(loaded: httpx.AsyncClient) -> None:
    props = (await loaded.get("/api/events/types/click/properties?days=3")).json()
    assert props == {
        "event_type": "click",
        "properties": [
            {"path": "button", "kind": "keyword", "count": 4},
            {"path": "n", "kind": "number", "count": 4},
            {"path": "on", "kind": "boolean", "count": 3},
        ],
    }
    base = "/api/events/types/click/properties"
    keyword = (await loaded.get(f"{base}/button", params={"days": 3, "top": 1})).json()
    assert keyword == {
        "event_type": "click",
        "path": "button",
        "kind": "keyword",
        "count": 4,
        "top": [{"value": "cancel", "count": 2}],
    }
    number = (await loaded.get(f"{base}/n", params={"days": 3})).json()
    assert {k: number[k] for k in ("kind", "count", "min", "max", "avg", "p50")} == {
        "kind": "number", "count": 4, "min": 1.0, "max": 5.0, "avg": 3.0, "p50": 3.0,
    }  # fmt: skip
    assert set(number) == {"event_type", "path", "kind", "count", "min", "max", "avg", "p50",
                           "p90", "p99"}  # fmt: skip
    boolean = (await loaded.get(f"{base}/on", params={"days": 3})).json()
    assert (boolean["kind"], boolean["true"], boolean["false"]) == ("boolean", 1, 2)
    assert (await loaded.get(f"{base}/nothing")).status_code == 404
    assert (await loaded.get(f"{base}/a..b")).status_code == 400
    assert (await loaded.get("/api/events/types/never/properties")).status_code == 404


async def test_recent_events_newest_first(loaded: httpx.AsyncClient) -> None:
    by_type = (await loaded.get("/api/events", params={"event_type": "click", "limit": 2})).json()
    assert [(e["cluster_uuid"], e["properties"]["n"]) for e in by_type["events"]] == [
        ("b", 5),
        ("a", 3),
    ]
    first = by_type["events"][0]
    assert first == {
        "timestamp": "2026-03-15T10:00:00.000Z",
        "event_type": "click",
        "cluster_uuid": "b",
        "channel": "telemetry-service-server",
        "context": {"cluster_uuid": "b"},
        "properties": {"button": "ok", "n": 5},
    }
    both = await loaded.get("/api/events", params={"event_type": "view", "cluster_uuid": "b"})
    assert [e["event_type"] for e in both.json()["events"]] == ["view"]
    of_a = (await loaded.get("/api/events", params={"cluster_uuid": "a"})).json()["events"]
    assert [e["timestamp"][:10] for e in of_a] == ["2026-03-15", "2026-03-15", "2026-03-13"]
    assert (await loaded.get("/api/events", params={"limit": 501})).status_code == 400


async def test_event_exports_stream_ndjson_and_csv(loaded: httpx.AsyncClient) -> None:
    ndjson = await loaded.get("/api/export", params={"kind": "event", "from": "2026-03-13"})
    assert ndjson.headers["content-type"] == "application/x-ndjson"
    assert "events-2026-03-13-2026-03-15.ndjson" in ndjson.headers["content-disposition"]
    lines = [orjson.loads(line) for line in ndjson.content.splitlines()]
    assert [e["timestamp"][:10] for e in lines] == ["2026-03-13"] + ["2026-03-15"] * 4
    response = await loaded.get("/api/export", params={"kind": "event", "format": "csv"})
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["timestamp", "event_type", "cluster_uuid", "channel", "context",
                       "properties"]  # fmt: skip
    assert len(rows) == 7
    assert orjson.loads(rows[1][5]) == {"button": "old"}
    reports = await loaded.get("/api/export", params={"kind": "snapshot"})
    assert (reports.status_code, reports.content) == (200, b"")


async def test_the_event_routes_need_the_viewer_role(secured: httpx.AsyncClient) -> None:
    routes = ["/api/events/types", "/api/events/types/x/daily", "/api/events?event_type=x"]
    for route in routes:
        assert (await secured.get(route)).status_code == 401
    viewer = {"Authorization": f"ApiKey {VIEWER_KEY}"}
    assert (await secured.get(routes[0], headers=viewer)).json() == {"types": []}
    ingest = await secured.post(
        "/v3/send/telemetry-service-server",
        content=events_to_ndjson([event(15, "x", "c")]),
        headers=event_headers("c", "8.1.0"),
    )
    assert ingest.status_code == 200  # ingest is open


async def test_the_openapi_document_lists_the_event_routes(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in (
        "/v3/send/{product}-server",
        "/v3/send/{product}-browser",
        "/api/events/types",
        "/api/events/types/{event_type}/daily",
        "/api/events/types/{event_type}/properties",
        "/api/events/types/{event_type}/properties/{path}",
        "/api/events",
    ):
        assert path in paths, path
    body = paths["/v3/send/{product}-server"]["post"]["requestBody"]["content"]
    assert "application/x-ndjson" in body
