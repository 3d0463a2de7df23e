"""``bounded_request`` against real hostile endpoints on 127.0.0.1 (security review findings 2
and 7): the answer is read up to the cap and the request ends by its deadline, whatever the
endpoint does."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import AsyncIterator

import httpx
import pytest

from telemetry_service.ebt.shippers.bounded_request import (
    BODY_GRACE_S,
    DeadlineExceeded,
    bounded_request,
)
from telemetry_service.testing import CaptureServer, Reply
from tests.support.hostile import HostileServer, Mode

pytestmark = pytest.mark.anyio
CAP = 65_536


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
        yield client


@pytest.mark.parametrize("size", [1 << 30, None], ids=["1 GiB", "endless"])
async def test_a_flood_is_read_up_to_the_cap_and_the_connection_closed(
    client: httpx.AsyncClient, size: int | None
) -> None:
    with HostileServer("flood", flood_bytes=size) as flood:
        began = time.monotonic()
        tracemalloc.start()
        try:
            answer = await bounded_request(
                client, "POST", flood.url, content=b"{}", deadline_s=30, max_bytes=CAP
            )
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert answer.status_code == 200
    assert answer.truncated
    assert len(answer.body) == CAP
    assert peak < 8 << 20  # a few chunks, not the answer
    assert flood.bytes_written < 64 << 20
    assert time.monotonic() - began < 5


async def test_a_trickled_body_gets_a_short_grace_after_the_status(
    client: httpx.AsyncClient,
) -> None:
    with HostileServer("trickle", trickle_s=0.05) as trickle:
        began = time.monotonic()
        answer = await bounded_request(client, "OPTIONS", trickle.url, deadline_s=30, max_bytes=CAP)
    assert answer.status_code == 200
    assert answer.truncated
    assert time.monotonic() - began < BODY_GRACE_S + 1.5


@pytest.mark.parametrize("mode", ["drip", "hang"])
async def test_no_status_before_the_deadline_raises(client: httpx.AsyncClient, mode: Mode) -> None:
    """``drip`` sends a header line every 0.2 s: each read is quick, so only the total
    deadline ends it."""
    with HostileServer(mode, trickle_s=0.2) as endpoint:
        began = time.monotonic()
        with pytest.raises(DeadlineExceeded, match="no answer within 1.5 s"):
            await bounded_request(client, "POST", endpoint.url, deadline_s=1.5, max_bytes=CAP)
    assert 1.4 < time.monotonic() - began < 3


async def test_a_small_answer_is_read_whole() -> None:
    with CaptureServer() as capture:
        capture.replies.append(Reply(503, body=b'{"reason": "busy"}', headers={"Retry-After": "7"}))
        async with httpx.AsyncClient() as client:
            answer = await bounded_request(client, "POST", capture.url, deadline_s=5, max_bytes=CAP)
    assert (answer.status_code, answer.is_success, answer.truncated) == (503, False, False)
    assert answer.headers["retry-after"] == "7"
    assert answer.text == '{"reason": "busy"}'
    assert capture.requests[0].headers["accept-encoding"] == "identity"
