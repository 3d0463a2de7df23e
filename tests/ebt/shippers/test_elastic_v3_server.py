"""ElasticV3ServerShipper, ported from ebt's server_shipper.test.ts, plus retries and batch ids."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from telemetry_service.ebt import Event, ShipperContext, TelemetryCounter
from telemetry_service.ebt.shippers import (
    BATCH_ID_HEADER,
    ElasticV3ServerShipper,
    ElasticV3ServerShipperConfig,
)

from ..fakes import FakeTime

pytestmark = pytest.mark.anyio

EVENT: Event = {
    "timestamp": "2020-01-01T00:00:00.000Z",
    "event_type": "test-event-type",
    "context": {},
    "properties": {},
}
LINE = (
    b'{"timestamp":"2020-01-01T00:00:00.000Z","event_type":"test-event-type",'
    b'"context":{},"properties":{}}\n'
)
URL = "https://telemetry-staging.example/v3/send/telemetry-service-server"


@dataclass
class Endpoint:
    """The telemetry cluster behind ``httpx.MockTransport``: records, answers from a script."""

    requests: list[httpx.Request] = field(default_factory=list)
    replies: deque[httpx.Response | Exception] = field(default_factory=deque)
    options_ok: bool = True

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "OPTIONS":
            return httpx.Response(200 if self.options_ok else 503)
        reply = self.replies.popleft() if self.replies else httpx.Response(200)
        if isinstance(reply, Exception):
            raise reply
        return reply

    @property
    def posts(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "POST"]

    @property
    def options(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "OPTIONS"]


@dataclass
class Rig:
    shipper: ElasticV3ServerShipper
    endpoint: Endpoint
    time: FakeTime
    counters: list[TelemetryCounter]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    endpoint, time = Endpoint(), FakeTime()
    ids = (f"batch-{i}" for i in range(1_000_000))
    config = ElasticV3ServerShipperConfig(
        base_url="https://telemetry-staging.example/",
        version="1.2.3",
        transport=httpx.MockTransport(endpoint.handle),
        clock=time.clock,
        sleep=time.sleep,
        new_batch_id=lambda: next(ids),
    )
    shipper = ElasticV3ServerShipper(config, ShipperContext(logging.getLogger("test")))
    counters: list[TelemetryCounter] = []
    shipper.telemetry_counters.subscribe(counters.append)
    yield Rig(shipper, endpoint, time, counters)
    await shipper.shutdown()


def summary(counters: list[TelemetryCounter]) -> list[tuple[str, str, int]]:
    return [(c.type, c.code, c.count) for c in counters]


async def test_posts_kibanas_url_headers_and_body_after_10_seconds(rig: Rig) -> None:
    rig.shipper.report_events([EVENT])
    rig.shipper.opt_in(True)
    await rig.time.advance(9)
    assert rig.endpoint.posts == []  # not before MIN_TIME_SINCE_LAST_SEND
    await rig.time.advance(1)
    [post] = rig.endpoint.posts
    assert str(post.url) == URL
    assert post.content == LINE
    assert len(LINE) - 1 == 100
    assert {k: v for k, v in post.headers.items() if k.startswith(("content-t", "x-"))} == {
        "content-type": "application/x-ndjson",
        "x-elastic-cluster-id": "UNKNOWN",
        "x-elastic-stack-version": "1.2.3",
        BATCH_ID_HEADER: "batch-0",
    }
    assert rig.counters == [
        TelemetryCounter("succeeded", "elastic_v3_server", "test-event-type", "200", 1)
    ]


async def test_leaky_bucket_sends_103_events_every_10s_and_caps_the_queue(rig: Rig) -> None:
    """The vector: 100-byte events, 103 per 10 KiB batch, 9,073 left after 9 ticks."""
    rig.shipper.report_events([EVENT] * 10_000)
    rig.shipper.opt_in(True)
    for i in range(9):
        await rig.time.advance(10)
        assert len(rig.endpoint.posts) == i + 1
        assert rig.endpoint.posts[i].content == LINE * 103
        assert rig.counters[-1] == TelemetryCounter(
            "succeeded", "elastic_v3_server", "test-event-type", "200", 103
        )
    assert len(rig.shipper.queue) == 10_000 - 9 * 103 == 9073
    rig.shipper.report_events([EVENT] * 1000)
    assert len(rig.shipper.queue) == 10_000
    assert rig.counters[-1] == TelemetryCounter(
        "dropped", "elastic_v3_server", "test-event-type", "queue_full", 73
    )


async def test_nothing_is_sent_nor_probed_for_10_minutes_without_opt_in(rig: Rig) -> None:
    rig.shipper.report_events([EVENT])
    await rig.time.advance(600)
    assert rig.endpoint.requests == []
    assert len(rig.shipper.queue) == 1


async def test_opted_out_means_no_network_call_and_an_emptied_queue(rig: Rig) -> None:
    rig.shipper.report_events([EVENT] * 5)
    rig.shipper.opt_in(False)
    assert len(rig.shipper.queue) == 0
    rig.shipper.report_events([EVENT])
    assert len(rig.shipper.queue) == 0
    await rig.time.advance(600)
    await rig.shipper.flush()
    assert rig.endpoint.requests == []
    assert rig.counters == []


async def test_opt_out_after_opt_in_empties_the_queue(rig: Rig) -> None:
    rig.shipper.opt_in(True)
    await rig.time.advance(1)
    rig.shipper.report_events([EVENT] * 3)
    rig.shipper.opt_in(False)
    await rig.time.advance(60)
    assert rig.endpoint.posts == []
    assert len(rig.shipper.queue) == 0


async def test_connectivity_check_runs_as_soon_as_opted_in(rig: Rig) -> None:
    rig.shipper.opt_in(True)
    await rig.time.advance(0)
    assert [r.method for r in rig.endpoint.requests] == ["OPTIONS"]
    assert str(rig.endpoint.options[0].url) == URL
    assert rig.shipper.online is True
    await rig.time.advance(600)
    assert len(rig.endpoint.options) == 1  # no more checks once online


async def test_flush_sends_the_whole_queue_in_one_request(rig: Rig) -> None:
    await rig.shipper.flush()  # nothing to send: resolves at once
    rig.shipper.opt_in(True)
    await rig.time.advance(0)
    rig.shipper.report_events([EVENT] * 500)
    await rig.shipper.flush()
    assert [p.content for p in rig.endpoint.posts] == [LINE * 500]
    await rig.shipper.flush()
    assert len(rig.endpoint.posts) == 1


async def test_shutdown_sends_what_is_left_and_flush_after_it_returns(rig: Rig) -> None:
    rig.shipper.opt_in(True)
    await rig.time.advance(0)
    rig.shipper.report_events([EVENT])
    await rig.shipper.shutdown()
    assert len(rig.endpoint.posts) == 1
    await rig.shipper.flush()


async def test_a_400_is_failed_without_retry_and_rechecks_connectivity(rig: Rig) -> None:
    rig.endpoint.replies.append(httpx.Response(400, text='{"status": "not ok"}'))
    rig.shipper.report_events([EVENT])
    rig.shipper.opt_in(True)
    await rig.time.advance(10)
    assert summary(rig.counters) == [("failed", "400", 1)]
    assert rig.shipper.online is False
    rig.endpoint.options_ok = False
    await rig.time.advance(60)
    assert len(rig.endpoint.options) == 2  # the next minute
    await rig.time.advance(119)
    assert len(rig.endpoint.options) == 2
    await rig.time.advance(1)
    assert len(rig.endpoint.options) == 3  # then back-off doubles: 2 min
    rig.endpoint.options_ok = True
    await rig.time.advance(240)
    assert rig.shipper.online is True
    assert len(rig.endpoint.posts) == 1


async def test_retry_after_is_honoured_with_the_same_batch_id(rig: Rig) -> None:
    rig.endpoint.replies.append(httpx.Response(503, headers={"Retry-After": "120"}))
    rig.shipper.report_events([EVENT] * 2)
    rig.shipper.opt_in(True)
    await rig.time.advance(10)
    assert len(rig.endpoint.posts) == 1
    rig.shipper.report_events([EVENT])  # waits behind the retried batch
    await rig.time.advance(119)
    assert len(rig.endpoint.posts) == 1  # not before Retry-After
    await rig.time.advance(1)
    first, retried = rig.endpoint.posts[:2]
    assert retried.headers[BATCH_ID_HEADER] == first.headers[BATCH_ID_HEADER] == "batch-0"
    assert retried.content == first.content == LINE * 2
    assert summary(rig.counters) == [("succeeded", "200", 2)]
    await rig.time.advance(10)
    assert rig.endpoint.posts[2].headers[BATCH_ID_HEADER] == "batch-1"


async def test_network_failures_are_retried_then_counted_as_failed(rig: Rig) -> None:
    for _ in range(5):
        rig.endpoint.replies.append(httpx.ConnectError("Failed to fetch"))
    rig.shipper.report_events([EVENT])
    rig.shipper.opt_in(True)
    await rig.time.advance(3600)
    assert len(rig.endpoint.posts) == 5
    assert {p.headers[BATCH_ID_HEADER] for p in rig.endpoint.posts} == {"batch-0"}
    assert summary(rig.counters) == [("failed", "Failed to fetch", 1)]
    assert rig.shipper.retry is None


async def test_429_and_5xx_retry_until_success(rig: Rig) -> None:
    rig.endpoint.replies.extend([httpx.Response(429), httpx.Response(502)])
    rig.shipper.report_events([EVENT])
    rig.shipper.opt_in(True)
    await rig.time.advance(600)
    assert [p.headers[BATCH_ID_HEADER] for p in rig.endpoint.posts] == ["batch-0"] * 3
    assert summary(rig.counters) == [("succeeded", "200", 1)]


async def test_a_batch_waiting_for_retry_counts_against_the_queue_cap(rig: Rig) -> None:
    rig.endpoint.replies.append(httpx.Response(503, headers={"Retry-After": "3000"}))
    rig.shipper.report_events([EVENT] * 10_000)
    rig.shipper.opt_in(True)
    await rig.time.advance(10)
    assert len(rig.shipper.retry or []) == 103
    rig.shipper.report_events([EVENT] * 200)
    assert len(rig.shipper.queue) == 10_000 - 103
    assert rig.counters[-1].code == "queue_full"
    assert rig.counters[-1].count == 200


async def test_after_24h_offline_the_queue_is_emptied_and_new_events_refused(rig: Rig) -> None:
    rig.endpoint.options_ok = False
    rig.shipper.opt_in(True)
    rig.shipper.report_events([EVENT])
    await rig.time.advance(1)
    assert rig.shipper.offline_since is not None
    rig.time.jump(24 * 3600 + 1)
    rig.shipper.report_events([EVENT])  # refused: offline for more than 24 h
    assert len(rig.shipper.queue) == 1
    await rig.time.advance(1)  # the next check fails: the queue goes
    assert len(rig.shipper.queue) == 0
    rig.endpoint.options_ok = True  # regains the connection (checks go on, capped at 1 h)
    await rig.time.advance(3600)
    assert rig.shipper.online is True
    rig.shipper.report_events([EVENT])
    assert len(rig.shipper.queue) == 1
    assert rig.endpoint.posts == []


async def test_extend_context_sets_cluster_and_license_headers(rig: Rig) -> None:
    shipper = rig.shipper
    shipper.extend_context({"cluster_uuid": "c1"})
    shipper.extend_context({"license_id": "l1", "cluster_uuid": ""})  # falsy never clears
    assert (shipper.cluster_uuid, shipper.license_id) == ("c1", "l1")
    shipper.opt_in(True)
    await rig.time.advance(0)
    shipper.report_events([EVENT])
    await shipper.flush()
    headers: Any = rig.endpoint.posts[0].headers
    assert headers["x-elastic-cluster-id"] == "c1"
    assert headers["x-elastic-license-id"] == "l1"
