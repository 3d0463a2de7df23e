"""POST /v3/send/{product}-server|-browser: accepted and refused lines, every documented
refusal of a whole body, batch ids, CORS and the metrics, on an in-process receiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import orjson
import pytest

from telemetry_service.receiver import Receiver, load_config
from telemetry_service.testing import FakeClock
from telemetry_service.wire.protocol import event_headers, events_to_ndjson
from tests.support.stores import BACKENDS, store_url

pytestmark = pytest.mark.anyio

SERVER = "/v3/send/telemetry-service-server"
BROWSER = "/v3/send/telemetry-service-browser"


def event(event_type: str = "click", **properties: Any) -> dict[str, Any]:
    return {
        "timestamp": "2026-03-15T11:00:00.000Z",
        "event_type": event_type,
        "context": {"cluster_uuid": "c-1"},
        "properties": properties,
    }


def ndjson(*events: dict[str, Any]) -> bytes:
    return events_to_ndjson(events or [event()])


def hdrs(cluster: str | None = "c-1", **extra: str) -> dict[str, str]:
    return {**event_headers(cluster, "8.1.0"), **extra}


async def post(
    client: httpx.AsyncClient, body: bytes, path: str = SERVER, **extra: str
) -> httpx.Response:
    return await client.post(path, content=body, headers=hdrs(**extra))


async def stored(receiver: Receiver) -> int:
    rows = await receiver.store.events.recent(event_type=None, cluster_uuid=None, limit=500)
    return len(rows)


async def test_valid_lines_are_stored_and_invalid_ones_counted(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    body = ndjson(event(n=1), event(n=2)) + b"not json\n" + b'{"event_type": "x"}\n'
    response = await post(client, body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "ok": True,
        "accepted": 2,
        "rejected": 2,
        "reasons": {"invalid_timestamp": 1, "malformed_json": 1},
        "errors": [
            {"line": 3, "reason": "malformed_json"},
            {"line": 4, "reason": "invalid_timestamp"},
        ],
        "duplicate": False,
        "batch_id": None,
    }
    assert await stored(receiver) == 2
    metrics = (await client.get("/metrics")).text
    channel = 'channel="telemetry-service-server"'
    assert f"telemetry_receiver_events_accepted_total{{{channel}}} 2" in metrics
    assert f'telemetry_receiver_events_rejected_total{{{channel},reason="malformed_json"}} 1' in (
        metrics
    )
    assert f'telemetry_receiver_ingest_total{{{channel},outcome="stored"}} 1' in metrics


async def test_the_browser_channel_and_an_unknown_cluster(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    response = await client.post(BROWSER, content=ndjson(), headers=hdrs(None))
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    (row,) = await receiver.store.events.recent(event_type=None, cluster_uuid=None, limit=5)
    assert (row.channel, row.cluster_uuid) == ("telemetry-service-browser", "c-1")
    preflight = await client.options(BROWSER, headers={"Origin": "http://kibana"})
    assert preflight.status_code == 204
    allowed = preflight.headers["access-control-allow-headers"].lower()
    for name in ("content-type", "x-elastic-cluster-id", "x-elastic-license-id"):
        assert name in allowed


@pytest.mark.parametrize(
    ("body", "extra", "status", "reason"),
    [
        (b"not json at all\n", {}, 400, "no_valid_events"),
        (b"\n\n", {}, 400, "empty"),
        (b"\xff\xfe\xfd\n", {}, 400, "no_valid_events"),
        (b"[" * 10_000 + b"]" * 10_000, {}, 400, "no_valid_events"),
        (None, {"content-type": "application/json"}, 415, "unsupported_media_type"),
        (None, {"content-encoding": "gzip"}, 415, "unsupported_encoding"),
        (None, {"x-elastic-stack-version": ""}, 400, "missing_header"),
        (None, {"x-elastic-batch-id": "a\nb"}, 400, "bad_header"),
        (b"x" * (10 * 1024 * 1024 + 1), {}, 413, "too_large"),
        (b"{}" * 200_000, {}, 413, "line_too_large"),
        (b"{}\n" * 100_000, {}, 413, "too_many_lines"),
    ],
)
async def test_a_bad_body_is_refused_and_a_good_one_still_stored(
    client: httpx.AsyncClient,
    receiver: Receiver,
    body: bytes | None,
    extra: dict[str, str],
    status: int,
    reason: str,
) -> None:
    response = await post(client, ndjson() if body is None else body, **extra)
    assert response.status_code == status, response.text
    assert response.json()["reason"] == reason
    assert await stored(receiver) == 0
    assert (await post(client, ndjson())).status_code == 200
    assert await stored(receiver) == 1


async def test_a_small_body_takes_no_worker_thread_and_a_large_one_does(
    client: httpx.AsyncClient, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hop to a worker thread and back costs more than parsing a small body on the loop
    (and contends for the GIL with it): neither the route (a plain-function dependency runs
    in one) nor the parse of a body up to ``inline_bytes`` takes one."""
    hops: list[str] = []
    real = anyio.to_thread.run_sync

    async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(fn, "__name__", repr(fn)))
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    small = ndjson(event(n=1), event(n=2))
    assert len(small) <= receiver.event_ingest.inline_bytes
    assert (await post(client, small)).json()["accepted"] == 2
    assert hops == []
    receiver.event_ingest.inline_bytes = len(small) - 1
    response = await post(client, ndjson(event(n=3), event(n=4)))
    assert (response.status_code, response.json()["accepted"]) == (200, 2)
    assert len(hops) == 1
    assert await stored(receiver) == 4


async def test_an_unserved_product_is_404(client: httpx.AsyncClient) -> None:
    response = await post(client, ndjson(), "/v3/send/other-server")
    assert response.status_code == 404
    assert response.json()["reason"] == "unknown_channel"


async def test_a_batch_id_posted_again_or_concurrently_is_stored_once(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    first = await post(client, ndjson(event(), event()), **{"x-elastic-batch-id": "b-1"})
    assert first.json()["duplicate"] is False
    again = await post(client, ndjson(event(), event()), **{"x-elastic-batch-id": "b-1"})
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    assert again.json()["batch_id"] == "b-1"
    together = await asyncio.gather(
        *(post(client, ndjson(), **{"x-elastic-batch-id": "b-2"}) for _ in range(10))
    )
    assert sorted(r.json()["duplicate"] for r in together) == [False] + [True] * 9
    # Without a batch id, the same body is the same batch; another body is another.
    for _ in range(2):
        await post(client, ndjson(event(n=7)))
    await post(client, ndjson(event(n=8)))
    assert await stored(receiver) == 5


@pytest.fixture(params=BACKENDS)
async def two_receivers(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[list[httpx.AsyncClient]]:
    url = store_url(request, request.param, tmp_path)
    config = load_config({"store": {"url": url}}, env={})
    async with (
        Receiver(config, clock=clock, decryptor=object()) as one,  # type: ignore[arg-type]
        Receiver(config, clock=clock, decryptor=object()) as two,  # type: ignore[arg-type]
    ):
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=r.app), base_url="http://r")
            for r in (one, two)
        ]
        yield clients
        for c in clients:
            await c.aclose()


async def test_two_receivers_on_one_store_store_a_batch_once(
    two_receivers: list[httpx.AsyncClient],
) -> None:
    posts = [
        post(c, ndjson(event(), event()), **{"x-elastic-batch-id": f"b-{i}"})
        for i in range(5)
        for c in two_receivers
    ]
    answers = [r.json() for r in await asyncio.gather(*posts)]
    assert sum(not a["duplicate"] for a in answers) == 5
    daily = await two_receivers[1].get("/api/events/types/click/daily", params={"days": 1})
    assert daily.json()["days"] == [{"day": "2026-03-15", "events": 10, "clusters": 1}]


async def test_overload_and_an_unavailable_store_answer_with_retry_after(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.event_ingest.in_flight = receiver.config.limits.max_in_flight
    busy = await post(client, ndjson())
    assert (busy.status_code, busy.json()["reason"]) == (429, "overloaded")
    assert busy.headers["retry-after"] == "5"
    receiver.event_ingest.in_flight = 0
    await receiver.store.close()
    down = await post(client, ndjson())
    assert (down.status_code, down.json()["reason"]) == (503, "store_unavailable")
    assert down.headers["retry-after"] == "5"


async def test_an_event_older_than_retention_is_refused(
    receiver_settings: dict[str, Any], clock: FakeClock
) -> None:
    receiver_settings["retention"] = {"days": 3}
    async with Receiver(load_config(receiver_settings, env={}), clock=clock) as receiver:
        transport = httpx.ASGITransport(app=receiver.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
            old = dict(event(), timestamp="2026-03-12T23:59:59.999Z")
            response = await post(client, ndjson(old, event()))
    assert response.json()["reasons"] == {"timestamp_out_of_range": 1}
    assert orjson.loads(response.content)["accepted"] == 1


async def test_the_status_lists_the_event_channels(client: httpx.AsyncClient) -> None:
    channels = (await client.get("/api/status")).json()["channels"]
    assert {"telemetry-service-server", "telemetry-service-browser"} <= set(channels)


async def test_a_slow_body_is_408_and_bodies_share_the_report_budget(
    receiver_settings: dict[str, Any], clock: FakeClock
) -> None:
    receiver_settings["limits"] = {"bodyTimeoutSeconds": 0.2}
    async with Receiver(load_config(receiver_settings, env={}), clock=clock) as receiver:
        transport = httpx.ASGITransport(app=receiver.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:

            async def drip() -> AsyncIterator[bytes]:
                yield ndjson()[:10]
                await asyncio.sleep(1)
                yield ndjson()[10:]

            slow = await client.post(SERVER, content=drip(), headers=hdrs())
            assert (slow.status_code, slow.json()["reason"]) == (408, "body_timeout")
            assert receiver.ingest.budget.used == 0  # given back
            # The reports' byte budget covers event bodies too.
            receiver.ingest.budget.used = receiver.ingest.budget.limit
            full = await post(client, ndjson())
            assert (full.status_code, full.json()["reason"]) == (429, "overloaded")
            receiver.ingest.budget.used = 0
            assert (await post(client, ndjson())).status_code == 200
