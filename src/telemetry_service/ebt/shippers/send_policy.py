"""The server shipper's timing rules as pure functions and constants (spec 2.2).

Kibana's numbers (``server_shipper.ts``): a 1 s tick, 10 s between sends, 10 KiB batches, a
queue of 10,000 events, connectivity checks every minute with a back-off doubling to 1 h, and a
24 h offline limit. Ours on top (docs/events.md): 429, 5xx and network failures are retried with
exponential back-off, never sooner than ``Retry-After``, and every attempt of one batch carries
the same :data:`BATCH_ID_HEADER` so that the receiver can store a retried batch once.
"""

from __future__ import annotations

import datetime as dt
import email.utils

from telemetry_service.wire.protocol import HEADER_BATCH_ID

__all__ = [
    "BATCH_BYTES",
    "BATCH_ID_HEADER",
    "CONNECTIVITY_INTERVAL_S",
    "MAX_ATTEMPTS",
    "MAX_BACKOFF_S",
    "MAX_QUEUE",
    "MIN_TIME_SINCE_LAST_SEND_S",
    "OFFLINE_GIVE_UP_S",
    "TICK_S",
    "is_retryable",
    "next_backoff",
    "parse_retry_after",
    "retry_delay",
]

MAX_QUEUE = 10_000  # MAX_NUMBER_OF_EVENTS_IN_INTERNAL_QUEUE, ebt >= 1.4.0
MIN_TIME_SINCE_LAST_SEND_S = 10.0
BATCH_BYTES = 10 * 1024
TICK_S = 1.0
CONNECTIVITY_INTERVAL_S = 60.0
MAX_BACKOFF_S = 3600.0
OFFLINE_GIVE_UP_S = 24 * 3600.0

#: Header naming one batch; the same value on every retry of that batch.
BATCH_ID_HEADER = HEADER_BATCH_ID.lower()
#: Attempts per batch (the first one included) before its events count as ``failed``.
MAX_ATTEMPTS = 5
RETRY_BASE_S = 10.0
RETRY_MAX_S = 600.0


def next_backoff(backoff_s: float) -> float:
    """Connectivity back-off after a failed check: doubled, at most 1 h."""
    return min(backoff_s * 2, MAX_BACKOFF_S)


def is_retryable(status: int | None) -> bool:
    """429, any 5xx, or no response at all (``status`` None: a network failure)."""
    return status is None or status == 429 or 500 <= status <= 599


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), else None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def retry_delay(attempts: int, retry_after_s: float | None) -> float:
    """Wait before attempt ``attempts + 1``: 10 s doubling to 10 min, or ``Retry-After`` if
    longer (capped at 1 h, so a hostile header cannot park the queue for ever)."""
    backoff = min(RETRY_BASE_S * 2.0 ** max(attempts - 1, 0), RETRY_MAX_S)
    if retry_after_s is None:
        return backoff
    return max(backoff, min(retry_after_s, MAX_BACKOFF_S))
