"""The sender's retry policy: which statuses are retried, backoff, ``Retry-After``."""

from __future__ import annotations

import math
import threading
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from telemetry_service.plugins.telemetry.config import TelemetryConfig
from telemetry_service.plugins.telemetry.sender import (
    TelemetrySender,
    build_client,
    default_tls_context,
    is_retryable_status,
    parse_retry_after,
    retry_delay,
)
from telemetry_service.testing import CaptureServer

NOW = 1_700_000_000_000


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, False),
        (204, False),
        (301, False),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (408, False),
        (413, False),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (599, True),
        (600, False),
        (100, False),
    ],
)
def test_is_retryable_status(status: int, expected: bool) -> None:
    assert is_retryable_status(status) is expected


def test_exponential_backoff_without_jitter() -> None:
    assert [retry_delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_backoff_with_custom_base_and_cap() -> None:
    assert [retry_delay(n, base=0.5, cap=3.0) for n in range(1, 5)] == [0.5, 1.0, 2.0, 3.0]


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    assert retry_delay(10_000) == 60.0
    assert retry_delay(1025, base=1e300, cap=5.0) == 5.0


def test_jitter_shortens_by_up_to_half() -> None:
    assert retry_delay(3, jitter_fraction=0.0) == 4.0
    assert retry_delay(3, jitter_fraction=0.5) == 3.0
    assert retry_delay(3, jitter_fraction=1.0) == 2.0


@given(attempt=st.integers(1, 200), jitter=st.floats(0, 1))
def test_jittered_delay_bounds(attempt: int, jitter: float) -> None:
    full = retry_delay(attempt)
    delay = retry_delay(attempt, jitter_fraction=jitter)
    assert full / 2 <= delay <= full <= 60.0


def test_retry_after_is_a_floor() -> None:
    assert retry_delay(1, 30.0) == 30.0
    assert retry_delay(7, 5.0) == 60.0
    assert retry_delay(1, 0.0) == 1.0
    assert retry_delay(1, 3600.0) == 3600.0  # not capped: the caller decides to wait or not


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_invalid_retry_after_is_ignored(bad: float) -> None:
    assert retry_delay(2, bad) == 2.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"attempt": 0}, "attempt"),
        ({"attempt": 1, "jitter_fraction": 1.5}, "jitter_fraction"),
        ({"attempt": 1, "jitter_fraction": -0.1}, "jitter_fraction"),
        ({"attempt": 1, "base": 0.0}, "positive"),
        ({"attempt": 1, "cap": -1.0}, "positive"),
        ({"attempt": 1, "base": math.inf}, "positive"),
    ],
)
def test_retry_delay_rejects_bad_arguments(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        retry_delay(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("-5", None),
        ("9" * 400, None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        ("Tue, 14 Nov 2023 22:13:40 GMT", 20.0),  # NOW is 22:13:20 GMT
        ("Tue, 14 Nov 2023 22:00:00 GMT", 0.0),  # in the past
        ("Tue, 14 Nov 2023 22:13:40 -0000", None),  # no time zone
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


@pytest.mark.anyio
async def test_the_tls_context_is_made_once_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Loading the CA bundle takes tens of milliseconds: never on the loop's thread.
    made_in: list[str] = []
    real = httpx.create_ssl_context

    def recording(*args: Any, **kwargs: Any) -> Any:
        made_in.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(httpx, "create_ssl_context", recording)
    default_tls_context.cache_clear()
    config = TelemetryConfig()
    clients: list[httpx.AsyncClient] = []

    def client() -> httpx.AsyncClient:
        clients.append(build_client(config))
        return clients[-1]

    try:
        with CaptureServer() as capture:
            sender = TelemetrySender(client, config=lambda: config, deadline_s=5.0)
            assert await sender.options(capture.url) is None
            assert (await sender.post(capture.url, "body", {})).ok
        assert len(made_in) == 1
        assert made_in[0] != threading.current_thread().name
    finally:
        for each in clients:
            await each.aclose()
        default_tls_context.cache_clear()
