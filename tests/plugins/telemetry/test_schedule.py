"""Timing rules of the sender: expiry, next attempt, send decision."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telemetry_service.plugins.telemetry.schedule import (
    CONFIG_LOAD_RETRY_DELAYS_MS,
    CONNECTIVITY_CHECK_DELAY_MS,
    CONNECTIVITY_CHECK_PERIOD_MS,
    REPORT_INTERVAL_BUFFER_MS,
    REPORT_INTERVAL_MS,
    SEND_TRIGGER_REPEAT_MS,
    coerce_timestamp_ms,
    config_load_retry_delay_ms,
    get_next_attempt_date,
    is_report_interval_expired,
    merge_last_reported,
    should_check_connectivity,
    should_send_now,
)

DAY = 86_400_000
HOUR = 3_600_000
NOW = 1_700_000_000_000


def ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def test_constants() -> None:
    assert REPORT_INTERVAL_MS == 86_400_000
    assert REPORT_INTERVAL_BUFFER_MS == 120_000
    assert CONNECTIVITY_CHECK_DELAY_MS == 300_000
    assert CONNECTIVITY_CHECK_PERIOD_MS == 43_200_000
    assert SEND_TRIGGER_REPEAT_MS == 60_000
    # Kibana: 1000 * min(2 ** (i + 2), 64) for i = 1..5.
    assert [1000 * min(2 ** (i + 2), 64) for i in range(1, 6)] == list(CONFIG_LOAD_RETRY_DELAYS_MS)


def test_config_load_retries_then_waits_for_the_next_twelve_hour_tick() -> None:
    """Kibana's ``validateConnectivity`` (``T/server/fetcher.ts``, spec 3.2 step 2)."""
    first, now = NOW, NOW
    waits = []
    for failures in range(1, 7):
        waits.append(config_load_retry_delay_ms(failures, first, now))
        now += waits[-1]
    assert waits[:5] == [8_000, 16_000, 32_000, 64_000, 64_000]
    assert first + sum(waits) == first + CONNECTIVITY_CHECK_PERIOD_MS  # the 12 h tick
    # A last attempt that itself took longer than 12 h still waits a minute, never 0.
    assert config_load_retry_delay_ms(6, first, first + 13 * HOUR) == SEND_TRIGGER_REPEAT_MS


# --- coerce_timestamp_ms / is_report_interval_expired -----------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (NOW, NOW),
        (float(NOW) + 0.7, NOW),
        (str(NOW), NOW),
        (f" {NOW} ", NOW),
        ("1700000000000.5", NOW),
        (-5, -5),
        (10**400, 10**400),
        ("1" * 400, None),
        (None, None),
        (0, None),
        (0.0, None),
        ("0", None),
        ("", None),
        ("abc", None),
        ("1_000", None),
        ("nan", None),
        (float("nan"), None),
        (float("inf"), None),
        (True, None),
        (False, None),
        ([NOW], None),
        ({"t": NOW}, None),
    ],
)
def test_coerce_timestamp(value: object, expected: int | None) -> None:
    assert coerce_timestamp_ms(value) == expected


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        (None, True),
        (0, True),
        ("not-a-number", True),
        (float("nan"), True),
        (NOW, False),
        (NOW - HOUR, False),
        (NOW - (DAY - 120_000), False),  # exactly 24 h - 2 min: not yet (strict >)
        (NOW - (DAY - 120_000) - 1, True),
        (NOW - DAY, True),
        (NOW - 30 * DAY, True),
        (str(NOW - 2 * DAY), True),
    ],
)
def test_is_report_interval_expired_kibana_rule(last: object, expected: bool) -> None:
    assert is_report_interval_expired(last, NOW) is expected


@pytest.mark.parametrize(
    ("ahead_ms", "expected"),
    [
        (1, False),  # clock skew between instances: trusted
        (5 * 60_000, False),
        (23 * HOUR, False),
        (DAY, False),
        (DAY + 1, True),  # implausible: treated as missing
        (365 * DAY, True),
    ],
)
def test_future_last_reported_clock_rule(ahead_ms: int, expected: bool) -> None:
    assert is_report_interval_expired(NOW + ahead_ms, NOW) is expected


@given(
    last=st.integers(-(10**13), 10**13),
    now=st.integers(1, 10**13),
)
def test_a_report_is_never_blocked_for_more_than_48_hours(last: int, now: int) -> None:
    # Whatever the stored value: if a report is not due now, it is due 48 h later.
    assert is_report_interval_expired(last, now) or is_report_interval_expired(last, now + 2 * DAY)


def test_merge_last_reported_takes_the_newer_valid_value() -> None:
    assert merge_last_reported(NOW, NOW + 5) == NOW + 5
    assert merge_last_reported(NOW + 5, NOW) == NOW + 5
    assert merge_last_reported(None, NOW) == NOW
    assert merge_last_reported(NOW, "garbage") == NOW
    assert merge_last_reported(0, None) is None


# --- get_next_attempt_date -----------------------------------------------------------------


def _next(last: int, jitter: float) -> int:
    """The next attempt as computed right after reporting at `last`."""
    return get_next_attempt_date(last, last, jitter)


def test_kibana_example_plus_120_seconds() -> None:
    assert _next(ms("2022-10-27T12:00:00Z"), 1.0) == ms("2022-10-28T12:02:00Z")


def test_minus_120_seconds_in_the_middle_of_the_day() -> None:
    assert _next(ms("2022-10-27T12:00:00Z"), -1.0) == ms("2022-10-28T11:58:00Z")


def test_no_jitter_is_exactly_24_hours() -> None:
    assert _next(ms("2022-10-27T12:00:00Z"), 0.0) == ms("2022-10-28T12:00:00Z")


def test_never_stays_in_the_day_of_the_last_report() -> None:
    # Kibana re-draws -120 s here (it would land on 10-27T23:59:00Z); the earliest allowed
    # whole-second offset is -60 s, which lands on the first millisecond of the next day.
    last = ms("2022-10-27T00:01:00Z")
    assert _next(last, -1.0) == ms("2022-10-28T00:00:00Z")
    assert _next(last, 1.0) == ms("2022-10-28T00:03:00Z")


def test_never_goes_past_the_end_of_the_next_day() -> None:
    # Kibana re-draws +120 s here (it would land on 10-29T00:00:30Z).
    last = ms("2022-10-27T23:58:30Z")
    assert _next(last, -1.0) == ms("2022-10-28T23:56:30Z")
    assert _next(last, 1.0) == ms("2022-10-28T23:59:59Z")


def test_day_boundary_exactly_at_midnight() -> None:
    last = ms("2022-10-27T00:00:00Z")
    assert _next(last, -1.0) == ms("2022-10-28T00:00:00Z")
    last = ms("2022-10-27T23:59:59.999Z")
    assert _next(last, 1.0) == ms("2022-10-28T23:59:59.999Z")
    assert _next(last, -1.0) == ms("2022-10-28T23:57:59.999Z")


def test_missing_last_reported_is_due_now() -> None:
    assert get_next_attempt_date(None, NOW, 0.3) == NOW
    assert get_next_attempt_date(0, NOW, 0.3) == NOW
    assert get_next_attempt_date("garbage", NOW, 0.3) == NOW


def test_far_future_last_reported_is_due_now() -> None:
    assert get_next_attempt_date(NOW + DAY + 1, NOW, 0.0) == NOW
    assert get_next_attempt_date(NOW + 400 * DAY, NOW, 1.0) == NOW


def test_near_future_last_reported_is_trusted() -> None:
    assert get_next_attempt_date(NOW + HOUR, NOW, 0.0) == NOW + HOUR + DAY


def test_old_last_reported_gives_a_date_in_the_past() -> None:
    assert get_next_attempt_date(NOW - 3 * DAY, NOW, 0.0) == NOW - 2 * DAY


@pytest.mark.parametrize("jitter", [-1.0001, 1.0001, float("nan"), float("inf")])
def test_jitter_out_of_range_is_rejected(jitter: float) -> None:
    with pytest.raises(ValueError, match="jitter"):
        get_next_attempt_date(NOW, NOW, jitter)


@given(
    last=st.integers(1, 4_000_000_000_000),
    jitter=st.floats(-1.0, 1.0),
)
def test_next_attempt_invariants(last: int, jitter: float) -> None:
    result = get_next_attempt_date(last, last, jitter)
    base = last + REPORT_INTERVAL_MS
    day_start = last - last % DAY
    assert abs(result - base) <= REPORT_INTERVAL_BUFFER_MS
    assert (result - base) % 1000 == 0  # whole seconds, as Kibana's randomInt
    assert result >= day_start + DAY - 1  # not before the end of the last report's day
    assert result <= day_start + 2 * DAY - 1  # not after the end of the next day
    # UTC calendar check, independently of the arithmetic above.
    last_day = datetime.fromtimestamp(last / 1000, UTC).date()
    next_day = datetime.fromtimestamp(result / 1000, UTC).date()
    assert (next_day - last_day).days in (0, 1)
    if (next_day - last_day).days == 0:
        assert result == day_start + DAY - 1  # only the very last millisecond of the day


@given(last=st.integers(1, 4_000_000_000_000), a=st.floats(-1, 1), b=st.floats(-1, 1))
def test_next_attempt_is_monotonic_in_jitter(last: int, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert get_next_attempt_date(last, last, low) <= get_next_attempt_date(last, last, high)


def _kibana_outcomes(last: int) -> list[int]:
    """Every date Kibana's re-drawing loop can return: whole-second offsets in [-120, 120]
    that are neither before the end of the last report's UTC day nor after the next one's."""
    base = last + REPORT_INTERVAL_MS
    end_of_last_day = last - last % DAY + DAY - 1
    end_of_next_day = end_of_last_day + DAY
    candidates = (base + 1000 * s for s in range(-120, 121))
    return [d for d in candidates if end_of_last_day <= d <= end_of_next_day]


@given(last=st.integers(1, 4_000_000_000_000))
def test_next_attempt_spans_exactly_kibanas_outcomes(last: int) -> None:
    allowed = _kibana_outcomes(last)
    results = {_next(last, j / 100) for j in range(-100, 101)}
    assert results <= set(allowed)
    assert _next(last, -1.0) == min(allowed)
    assert _next(last, 1.0) == max(allowed)


# --- should_send_now / should_check_connectivity -------------------------------------------


def _send(**overrides: object) -> bool:
    kwargs: dict[str, object] = {
        "opted_in": True,
        "send_usage_from": "server",
        "in_memory_last_reported_ms": None,
        "stored_last_reported_ms": None,
        "now_ms": NOW,
    }
    kwargs.update(overrides)
    return should_send_now(**kwargs)  # type: ignore[arg-type]


def test_sends_when_opted_in_from_server_and_never_reported() -> None:
    assert _send() is True


@pytest.mark.parametrize("opted_in", [False, None])
def test_never_sends_without_opt_in(opted_in: bool | None) -> None:
    assert _send(opted_in=opted_in) is False
    assert _send(opted_in=opted_in, force=True) is False


def test_never_sends_from_the_server_in_browser_mode() -> None:
    assert _send(send_usage_from="browser") is False
    assert _send(send_usage_from="browser", force=True) is False


@pytest.mark.parametrize(
    ("in_memory", "stored", "expected"),
    [
        (None, None, True),
        (NOW - 2 * DAY, NOW - 2 * DAY, True),
        (NOW - HOUR, None, False),  # this instance reported recently
        (None, NOW - HOUR, False),  # another instance or a browser did
        (NOW - 2 * DAY, NOW - HOUR, False),
        (NOW - HOUR, NOW - 2 * DAY, False),
        (NOW + 10 * DAY, NOW - 2 * DAY, True),  # clock went back 10 days
    ],
)
def test_both_last_reported_values_must_be_expired(
    in_memory: int | None, stored: int | None, expected: bool
) -> None:
    result = _send(in_memory_last_reported_ms=in_memory, stored_last_reported_ms=stored)
    assert result is expected


def test_force_skips_only_the_interval() -> None:
    assert _send(in_memory_last_reported_ms=NOW, stored_last_reported_ms=NOW, force=True) is True


@pytest.mark.parametrize(
    ("opted_in", "source", "count", "version", "expected"),
    [
        (True, "server", 0, None, True),
        (True, "server", 2, "8.0.0", True),
        (True, "server", 3, "8.0.0", False),  # 3 failures on this version: stop
        (True, "server", 3, "7.17.0", True),  # the version changed: try again
        (False, "server", 0, None, False),
        (None, "server", 0, None, False),
        (True, "browser", 0, None, False),
    ],
)
def test_should_check_connectivity(
    opted_in: bool | None, source: str, count: int, version: str | None, expected: bool
) -> None:
    result = should_check_connectivity(
        opted_in=opted_in,
        send_usage_from=source,
        failure_count=count,
        failure_version=version,
        current_version="8.0.0",
    )
    assert result is expected
