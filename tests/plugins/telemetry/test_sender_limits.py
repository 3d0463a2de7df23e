"""The sender's limits against real endpoints on 127.0.0.1: ``telemetry.timeouts.send`` is a hard
deadline for the whole send (security review finding 7), connection failures are tried
``CONNECTION_ATTEMPTS`` times, and the reason given is the operating system's."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from telemetry_service.plugins.telemetry.config import TelemetryConfig
from telemetry_service.plugins.telemetry.sender import (
    CONNECTION_ATTEMPTS,
    TelemetrySender,
    build_client,
)
from telemetry_service.testing import CaptureServer, Reply
from tests.support.hostile import HostileServer, Mode

pytestmark = pytest.mark.anyio
HEADERS = {"Content-Type": "application/json"}


def telemetry_config(**telemetry: Any) -> TelemetryConfig:
    return TelemetryConfig.model_validate({"timeouts": {"connect": 1, "read": 1}, **telemetry})


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with build_client(telemetry_config()) as client:
        yield client


def sender(client: httpx.AsyncClient, config: TelemetryConfig) -> TelemetrySender:
    return TelemetrySender(lambda: client, config=lambda: config)


@pytest.mark.parametrize("mode", ["drip", "hang"])
async def test_no_endpoint_holds_a_send_past_telemetry_timeouts_send(
    client: httpx.AsyncClient, mode: Mode
) -> None:
    """``drip`` answers one header line every 0.2 s for ever: each read is quick, so the read
    timeout never fires; before the fix the send never ended (21 min seen in the review)."""
    config = telemetry_config(timeouts={"connect": 1, "read": 1, "send": "2s"})
    with HostileServer(mode, trickle_s=0.2) as endpoint:
        began = time.monotonic()
        outcome = await sender(client, config).post(endpoint.url, "{}", HEADERS)
    assert time.monotonic() - began < 3
    assert (outcome.ok, outcome.answered) == (False, False)
    assert outcome.describe().startswith("no answer")


async def test_a_trickled_answer_counts_by_its_status(client: httpx.AsyncClient) -> None:
    with HostileServer("trickle", trickle_s=0.2) as trickle:
        began = time.monotonic()
        outcome = await sender(client, telemetry_config()).post(trickle.url, "{}", HEADERS)
        error = await sender(client, telemetry_config()).options(trickle.url)
    assert (outcome.ok, outcome.status, error) == (True, 200, None)
    assert time.monotonic() - began < 4


async def test_a_refused_connection_is_tried_three_times_and_named(
    client: httpx.AsyncClient,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"  # bound, not listening: refused
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)

        config = telemetry_config()
        outcome = await TelemetrySender(lambda: client, config=lambda: config, sleep=sleep).post(
            url, "{}", HEADERS
        )
    assert outcome.attempts == CONNECTION_ATTEMPTS == 3
    assert len(slept) == 2
    assert outcome.describe() == "connection failed (Connection refused)"


async def test_5xx_answers_are_retried_until_the_deadline(client: httpx.AsyncClient) -> None:
    """An answer is worth waiting for (the endpoint is there); unlike a refused connection it
    is retried while the deadline allows."""
    config = telemetry_config(timeouts={"send": "60s"})
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    with CaptureServer() as capture:
        capture.default = Reply(503)
        outcome = await TelemetrySender(lambda: client, config=lambda: config, sleep=sleep).post(
            capture.url, "{}", HEADERS
        )
    assert outcome.attempts > CONNECTION_ATTEMPTS
    assert sum(slept) < 60
    assert (outcome.status, outcome.answered) == (503, True)


async def test_a_bytes_body_is_sent_as_it_is_on_every_attempt(client: httpx.AsyncClient) -> None:
    """The snapshot's body arrives as bytes (encoded off the loop) and is posted unchanged."""
    config = telemetry_config(timeouts={"send": "60s"})

    async def sleep(seconds: float) -> None:
        pass

    body = b"eyJlbmNyeXB0ZWRBRVNLZXkiOiJ4In0"
    with CaptureServer() as capture:
        capture.default = Reply(503)
        await TelemetrySender(lambda: client, config=lambda: config, sleep=sleep).post(
            capture.url, body, HEADERS
        )
        posts = capture.posts()
    assert len(posts) > 1
    assert all(post.body == body for post in posts)


def test_the_limits_are_config_keys_with_safe_defaults() -> None:
    config = TelemetryConfig()
    assert (config.timeouts.send, config.max_response_bytes) == (25.0, 65_536)
    assert TelemetryConfig.model_validate({"timeouts": {"send": "2m"}}).timeouts.send == 120
    for bad in ({"timeouts": {"send": 0}}, {"timeouts": {"send": "2h"}}, {"maxResponseBytes": -1}):
        with pytest.raises(ValueError, match=r"send|maxResponseBytes"):
            TelemetryConfig.model_validate(bad)


async def test_a_tls_failure_is_named_as_such(client: httpx.AsyncClient) -> None:
    async def sleep(seconds: float) -> None:
        pass

    config = telemetry_config()
    with CaptureServer() as capture:  # plain HTTP: the TLS handshake fails
        outcome = await TelemetrySender(lambda: client, config=lambda: config, sleep=sleep).post(
            f"https://127.0.0.1:{capture.port}/", "{}", HEADERS
        )
    assert outcome.describe().startswith("TLS error: [SSL")
