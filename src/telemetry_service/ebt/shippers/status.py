"""What an Elastic V3 shipper reports about itself for ``telemetry status`` (ours).

It listens to the shipper's own telemetry counters: the totals per counter type, and the time
and outcome of the last request (or printed batch).
"""

from __future__ import annotations

from collections import Counter

from telemetry_service.common.clock import Clock, to_ms

from ..counters import TelemetryCounter

__all__ = ["ShipperStatus"]


class ShipperStatus:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.counts: Counter[str] = Counter()
        self.last_send_ms: int | None = None
        self.last_result: str | None = None

    def record(self, counter: TelemetryCounter) -> None:
        self.counts[counter.type] += counter.count
        if counter.type in ("succeeded", "failed"):
            self.last_send_ms = to_ms(self._clock())
            self.last_result = f"{counter.type} ({counter.code})"

    def to_json(self, *, queued: int, opted_in: bool | None, online: bool) -> dict[str, object]:
        return {
            "queued": queued,
            "optedIn": opted_in,
            "online": online,
            "lastSend": self.last_send_ms,
            "lastResult": self.last_result,
            "counts": {k: self.counts[k] for k in ("succeeded", "failed", "dropped")},
        }
