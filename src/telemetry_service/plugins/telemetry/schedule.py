"""When to send: pure timing rules of the server sender (spec section 3).

All times are integer milliseconds since the Unix epoch (UTC); randomness is an argument, so
callers pass `random.uniform(-1, 1)` / `random.random()` and tests pass fixed values.

Clock rule (ours; Kibana has none): a `lastReported` more than 24 h *in the future* cannot come
from a sane clock (this host's clock went back, or another writer's clock was ahead), so it is
treated like a missing value: the report is due now. A future value within 24 h is trusted as
Kibana does, which delays the next report by at most that amount (never more than 48 h in
total), and tolerates small clock skew between instances without duplicate reports.
"""

from __future__ import annotations

import math
import re

from .rules import should_stop_reporting

__all__ = [
    "CONFIG_LOAD_RETRY_DELAYS_MS",
    "CONNECTIVITY_CHECK_DELAY_MS",
    "CONNECTIVITY_CHECK_PERIOD_MS",
    "REPORT_INTERVAL_BUFFER_MS",
    "REPORT_INTERVAL_MS",
    "SEND_TRIGGER_REPEAT_MS",
    "coerce_timestamp_ms",
    "config_load_retry_delay_ms",
    "get_next_attempt_date",
    "is_report_interval_expired",
    "merge_last_reported",
    "should_check_connectivity",
    "should_send_now",
]

REPORT_INTERVAL_MS = 86_400_000
"""One report a day."""
REPORT_INTERVAL_BUFFER_MS = 120_000
"""Expiry buffer, and the ± jitter of the next attempt."""
CONNECTIVITY_CHECK_DELAY_MS = 5 * 60_000
"""First connectivity check, after start."""
CONNECTIVITY_CHECK_PERIOD_MS = 12 * 3_600_000
"""Later connectivity checks."""
SEND_TRIGGER_REPEAT_MS = 60_000
"""After the due date, the send trigger repeats every minute until a report is recorded."""
CONFIG_LOAD_RETRY_DELAYS_MS = (8_000, 16_000, 32_000, 64_000, 64_000)
"""Waits between the connectivity check's attempts to load the configs."""

_DAY_MS = 86_400_000
_BUFFER_S = REPORT_INTERVAL_BUFFER_MS // 1000
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def coerce_timestamp_ms(value: object) -> int | None:
    """A stored `lastReported` as integer ms, or `None` when missing or invalid.

    Mirrors JavaScript's `!t || isNaN(t)`: 0, NaN, booleans, non-numeric strings and other
    types are "missing"; a decimal string (the browser stores strings) is accepted.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value or None
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        value = float(value.strip())
    if not isinstance(value, float) or not math.isfinite(value) or value == 0:
        return None
    return math.floor(value)


def config_load_retry_delay_ms(failures: int, first_failure_ms: int, now_ms: int) -> int:
    """The wait after ``failures`` consecutive failed config loads, the first at
    ``first_failure_ms``: Kibana's retries 8, 16, 32, 64 and 64 s (``1000 * min(2 ** (i + 2),
    64)``), then, once they are spent, the next 12 h tick counted from the first failure."""
    if 1 <= failures <= len(CONFIG_LOAD_RETRY_DELAYS_MS):
        return CONFIG_LOAD_RETRY_DELAYS_MS[failures - 1]
    return max(SEND_TRIGGER_REPEAT_MS, first_failure_ms + CONNECTIVITY_CHECK_PERIOD_MS - now_ms)


def is_report_interval_expired(last_reported_ms: object, now_ms: int) -> bool:
    """Kibana's `isReportIntervalExpired`: missing, or older than 24 h minus 2 min.

    Plus the clock rule: more than 24 h in the future also counts as expired.
    """
    last = coerce_timestamp_ms(last_reported_ms)
    if last is None or last - now_ms > REPORT_INTERVAL_MS:
        return True
    return now_ms - last > REPORT_INTERVAL_MS - REPORT_INTERVAL_BUFFER_MS


def merge_last_reported(in_memory_ms: object, stored_ms: object) -> int | None:
    """The newer of the in-memory and stored `lastReported` (another instance or a browser
    may have reported); `None` when neither is valid."""
    candidates = (coerce_timestamp_ms(in_memory_ms), coerce_timestamp_ms(stored_ms))
    values = [value for value in candidates if value is not None]
    return max(values) if values else None


def get_next_attempt_date(last_reported_ms: object, now_ms: int, jitter: float) -> int:
    """Kibana's `getNextAttemptDate`: `lastReported + 24 h ± 120 s`, inside the next UTC day.

    `jitter` in [-1, 1] picks the offset. Kibana draws a random whole second in [-120, 120]
    and draws again while the result falls in the last report's UTC day or after the end of
    the following one; here `jitter` is mapped linearly onto the whole seconds that are
    allowed, which gives the same uniform distribution without re-drawing.
    A missing `lastReported`, or one more than 24 h in the future, gives `now_ms` (due now).
    The result may be in the past: the report is then due at once.
    """
    if not -1.0 <= jitter <= 1.0:  # also rejects NaN
        raise ValueError(f"jitter must be within [-1, 1], got {jitter!r}")
    last = coerce_timestamp_ms(last_reported_ms)
    if last is None or last - now_ms > REPORT_INTERVAL_MS:
        return now_ms
    end_of_last_day = last - last % _DAY_MS + _DAY_MS - 1
    base = last + REPORT_INTERVAL_MS
    end_of_next_day = base - base % _DAY_MS + _DAY_MS - 1
    # Whole seconds s with end_of_last_day <= base + 1000 s <= end_of_next_day (s = 0 always is).
    lowest = max(-_BUFFER_S, -((base - end_of_last_day) // 1000))
    highest = min(_BUFFER_S, (end_of_next_day - base) // 1000)
    offset_s = lowest + round((jitter + 1.0) / 2.0 * (highest - lowest))
    return base + offset_s * 1000


def should_check_connectivity(
    *,
    opted_in: bool | None,
    send_usage_from: str,
    failure_count: int,
    failure_version: str | None,
    current_version: str,
) -> bool:
    """Steps 3-4 of the connectivity loop: opted in, sending from the server, and fewer than
    3 failures on this version (`not (failureCount > 2 and failureVersion == current)`)."""
    if opted_in is not True or send_usage_from != "server":
        return False
    return not should_stop_reporting(failure_count, failure_version, current_version)


def should_send_now(
    *,
    opted_in: bool | None,
    send_usage_from: str,
    in_memory_last_reported_ms: object,
    stored_last_reported_ms: object,
    now_ms: int,
    force: bool = False,
) -> bool:
    """Kibana's `shouldSendReport`: opted in, sending from the server, and both the in-memory
    and the stored `lastReported` expired. `force` skips only the interval checks."""
    if opted_in is not True or send_usage_from != "server":
        return False
    if force:
        return True
    return is_report_interval_expired(
        in_memory_last_reported_ms, now_ms
    ) and is_report_interval_expired(stored_last_reported_ms, now_ms)
