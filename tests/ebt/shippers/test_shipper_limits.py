"""The event shipper against real hostile endpoints on 127.0.0.1: it reads a capped part of each
answer (security review finding 2 applies to it too) and a hanging endpoint cannot hold its
flush or its shutdown."""

from __future__ import annotations

import logging
import time
import tracemalloc

import pytest

from telemetry_service.ebt import ShipperContext, TelemetryCounter
from telemetry_service.ebt.shippers import ElasticV3ServerShipper, ElasticV3ServerShipperConfig
from tests.support.hostile import HostileServer

from ..fakes import FakeTime
from .test_elastic_v3_server import EVENT

pytestmark = pytest.mark.anyio


def shipper_for(url: str, counters: list[TelemetryCounter]) -> ElasticV3ServerShipper:
    time_ = FakeTime()
    config = ElasticV3ServerShipperConfig(
        base_url=url, version="1.2.3", clock=time_.clock, sleep=time_.sleep
    )
    shipper = ElasticV3ServerShipper(config, ShipperContext(logging.getLogger("test")))
    shipper.telemetry_counters.subscribe(counters.append)
    return shipper


async def test_a_flooding_endpoint_is_read_up_to_the_cap() -> None:
    counters: list[TelemetryCounter] = []
    with HostileServer("flood", flood_bytes=1 << 30) as flood:
        shipper = shipper_for(flood.url, counters)
        shipper.report_events([EVENT])
        shipper.opt_in(True)
        began = time.monotonic()
        tracemalloc.start()
        try:
            await shipper.flush()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        await shipper.shutdown()
    assert [(c.type, c.code) for c in counters] == [("succeeded", "200")]
    assert peak < 8 << 20
    assert flood.bytes_written < 64 << 20  # the OPTIONS and the POST answers, each cut short
    assert time.monotonic() - began < 5


async def test_a_hanging_endpoint_cannot_hold_a_flush_or_the_shutdown() -> None:
    counters: list[TelemetryCounter] = []
    with HostileServer("hang") as hang:
        shipper = shipper_for(hang.url, counters)
        shipper.report_events([EVENT])
        shipper.opt_in(True)
        began = time.monotonic()
        await shipper.flush()  # waits flush_wait_s for the connectivity check, no longer
        await shipper.shutdown()
        elapsed = time.monotonic() - began
    assert elapsed < 2 * shipper.config.flush_wait_s + 1
    assert hang.connections == 1
    assert counters == []  # never known online: nothing was posted
