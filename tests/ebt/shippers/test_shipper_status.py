"""The server shipper's state for ``telemetry status`` and its print-only mode (telemetry.debug)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest

from telemetry_service.common.clock import to_ms
from telemetry_service.ebt import ShipperContext
from telemetry_service.ebt.shippers import ElasticV3ServerShipper, ElasticV3ServerShipperConfig

from ..fakes import FakeTime
from .test_elastic_v3_server import EVENT, LINE, Endpoint

pytestmark = pytest.mark.anyio


def shipper(
    endpoint: Endpoint, time: FakeTime, print_to: Callable[[str], None] | None = None
) -> ElasticV3ServerShipper:
    config = ElasticV3ServerShipperConfig(
        base_url="https://telemetry.example/",
        version="1.2.3",
        transport=httpx.MockTransport(endpoint.handle),
        clock=time.clock,
        sleep=time.sleep,
        print_to=print_to,
    )
    return ElasticV3ServerShipper(config, ShipperContext(logging.getLogger("test")))


async def test_state_shows_the_queue_the_last_send_and_the_counts() -> None:
    endpoint, time = Endpoint(), FakeTime()
    endpoint.replies.extend([httpx.Response(400)])
    ship = shipper(endpoint, time)
    try:
        assert ship.state() == {
            "queued": 0,
            "optedIn": None,
            "online": False,
            "lastSend": None,
            "lastResult": None,
            "counts": {"succeeded": 0, "failed": 0, "dropped": 0},
        }
        ship.report_events([EVENT] * 3)
        ship.opt_in(True)
        assert ship.state()["queued"] == 3
        await time.advance(10)  # the first request: 400, not retried
        ship.report_events([EVENT] * 2)
        await time.advance(61)  # a failure makes connectivity unknown for a minute (Kibana)
        state = ship.state()
        assert state["queued"] == 0
        assert state["online"] is True
        assert state["lastSend"] == to_ms(time.now)
        assert state["lastResult"] == "succeeded (200)"
        assert state["counts"] == {"succeeded": 2, "failed": 3, "dropped": 0}
    finally:
        await ship.shutdown()


async def test_print_to_prints_each_batch_and_makes_no_network_call() -> None:
    endpoint, time = Endpoint(), FakeTime()
    printed: list[str] = []
    ship = shipper(endpoint, time, print_to=printed.append)
    try:
        ship.report_events([EVENT, EVENT])
        ship.opt_in(True)
        await time.advance(10)
        await ship.flush()
    finally:
        await ship.shutdown()
    assert printed == [(LINE * 2).decode()]
    assert endpoint.requests == []
    assert ship.state()["lastResult"] == "succeeded (printed)"
