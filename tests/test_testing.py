"""The fakes that telemetry_service.testing ships: a clock, a sleep and a capture server."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import httpx
import pytest

from telemetry_service.testing import Captured, CaptureServer, FakeClock, FakeSleep, Reply

START = dt.datetime(2026, 3, 15, 12, 0, tzinfo=dt.UTC)


def test_the_clock_stands_still_until_told() -> None:
    clock = FakeClock()
    assert clock() == clock() == START
    assert clock().tzinfo is dt.UTC
    assert clock.ms == 1_773_576_000_000


def test_advance_and_set() -> None:
    clock = FakeClock(START)
    clock.advance(1.5)
    clock.advance(ms=250, minutes=1, hours=1, days=1)
    assert clock() == START + dt.timedelta(days=1, hours=1, minutes=1, seconds=1.75)
    clock.set(0)
    assert clock() == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    clock.set(dt.datetime(2026, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))))
    assert clock() == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert clock().utcoffset() == dt.timedelta(0)
    assert FakeClock(clock.ms + 5).ms == clock.ms + 5


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        FakeClock(dt.datetime(2026, 1, 1))


def test_tick_moves_the_clock_after_each_reading() -> None:
    clock = FakeClock(START, tick=0.25)
    readings = [clock.monotonic() for _ in range(3)]
    assert [b - a for a, b in zip(readings, readings[1:], strict=False)] == [0.25, 0.25]
    assert clock() == START + dt.timedelta(seconds=0.75)


@pytest.mark.anyio
async def test_fake_sleep_records_returns_at_once_and_moves_the_clock() -> None:
    clock = FakeClock(START)
    sleep = FakeSleep(clock)
    started = time.monotonic()
    await sleep(3600)
    await sleep(0.5)
    assert time.monotonic() - started < 1
    assert sleep.delays == [3600, 0.5]
    assert clock() == START + dt.timedelta(hours=1, seconds=0.5)


@pytest.mark.anyio
async def test_fake_sleep_yields_to_other_tasks() -> None:
    sleep = FakeSleep()
    seen: list[str] = []

    async def other() -> None:
        seen.append("other ran")

    task = asyncio.create_task(other())
    await sleep(10)
    assert seen == ["other ran"]
    await task


def test_capture_records_requests_and_answers_in_order() -> None:
    with CaptureServer() as capture:
        capture.replies.extend([Reply(503, headers={"Retry-After": "7"}), Reply(201, body=b"[]")])
        with httpx.Client(base_url=capture.url) as client:
            first = client.post("/v3/send/a-snapshot?x=1", content=b"one", headers={"X-A": "b"})
            second = client.post("/v3/send/a-opt-in-reports", content=b"two")
            third = client.get("/ping")
    assert (first.status_code, first.headers["retry-after"]) == (503, "7")
    assert (second.status_code, second.content) == (201, b"[]")
    assert (third.status_code, third.json()) == (200, {})
    assert [(r.method, r.path, r.body) for r in capture.requests] == [
        ("POST", "/v3/send/a-snapshot", b"one"),
        ("POST", "/v3/send/a-opt-in-reports", b"two"),
        ("GET", "/ping", b""),
    ]
    assert capture.requests[0].headers["x-a"] == "b"
    assert [r.body for r in capture.posts("-snapshot")] == [b"one"]
    assert capture.received("GET") == [capture.requests[2]]


def test_a_delayed_reply_times_the_client_out() -> None:
    with CaptureServer() as capture:
        capture.default = Reply(delay_s=2)
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(capture.url, content=b"x", timeout=0.2)
        assert len(capture.posts()) == 1


def test_subclasses_choose_the_reply() -> None:
    class Teapot(CaptureServer):
        def reply_to(self, request: Captured) -> Reply:
            return Reply(418, body=request.body)

    with Teapot() as capture:
        response = httpx.put(capture.url + "pot", content=b"tea")
    assert (response.status_code, response.content) == (418, b"tea")
    assert capture.received("PUT", "pot")[0].body == b"tea"
