"""The receiver's metrics in the Prometheus text format (version 0.0.4), per process.

Every ingest request ends in one outcome: ``stored``, ``duplicate`` or a rejection reason
(``malformed``, ``unknown_kid``, ``too_large``…); ``telemetry_receiver_ingest_total`` counts
them by channel (``unknown`` for channels that are not served, to bound the label values).
Event batches also count their events: ``telemetry_receiver_events_accepted_total`` (stored)
and ``telemetry_receiver_events_rejected_total`` by the reason of each refused line.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Sequence

__all__ = ["CONTENT_TYPE", "Counter", "Histogram", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LabelValues = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str]) -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Counter:
    """A monotonically increasing count per label values."""

    def __init__(self, name: str, help_: str, labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.label_names = name, help_, tuple(labels)
        self._values: dict[LabelValues, float] = {}
        self._lock = threading.Lock()

    def inc(self, *labels: str, by: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + by

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        for labels, value in sorted(self._values.items()):
            lines.append(f"{self.name}{_labels(self.label_names, labels)} {_number(value)}")
        return lines


class Histogram:
    """Observations in cumulative buckets, with their sum and count."""

    def __init__(self, name: str, help_: str, buckets: Sequence[float]) -> None:
        self.name, self.help = name, help_
        self.buckets = tuple(sorted(buckets))
        self._counts = [0] * (len(self.buckets) + 1)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            self._sum += value
            self._counts[bisect.bisect_left(self.buckets, value)] += 1  # the last: +Inf

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        running = 0
        for bound, count in zip((*self.buckets, math.inf), self._counts, strict=True):
            running += count
            lines.append(f'{self.name}_bucket{{le="{_number(bound)}"}} {running}')
        lines.append(f"{self.name}_sum {_number(self._sum)}")
        lines.append(f"{self.name}_count {running}")
        return lines


class Metrics:
    """Every metric of one receiver process."""

    def __init__(self) -> None:
        self.ingest = Counter(
            "telemetry_receiver_ingest_total",
            "Ingest requests by channel and outcome (stored, duplicate or a rejection reason).",
            ("channel", "outcome"),
        )
        self.ingest_bytes = Counter(
            "telemetry_receiver_ingest_bytes_total", "Bytes of request bodies read by ingest."
        )
        self.ingest_seconds = Histogram(
            "telemetry_receiver_ingest_seconds",
            "Time from request to answer of ingest requests that stored a report (or found it).",
            (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.events_accepted = Counter(
            "telemetry_receiver_events_accepted_total",
            "Events stored, by channel (a batch stored before is not counted again).",
            ("channel",),
        )
        self.events_rejected = Counter(
            "telemetry_receiver_events_rejected_total",
            "Lines of event batches refused, by channel and reason.",
            ("channel", "reason"),
        )
        self.retention_deleted = Counter(
            "telemetry_receiver_retention_deleted_total", "Reports deleted by retention."
        )
        self.retention_deleted_events = Counter(
            "telemetry_receiver_retention_deleted_events_total", "Events deleted by retention."
        )
        self.deletions = Counter(
            "telemetry_receiver_cluster_deletions_total",
            "Clusters forgotten on request (DELETE /api/clusters or receiver forget).",
        )
        self._gauges: list[tuple[str, str, Callable[[], float]]] = []

    def gauge(self, name: str, help_: str, read: Callable[[], float]) -> None:
        """Register a gauge read at render time."""
        self._gauges.append((name, help_, read))

    def render(self) -> str:
        lines: list[str] = []
        for metric in (
            self.ingest,
            self.ingest_bytes,
            self.ingest_seconds,
            self.events_accepted,
            self.events_rejected,
            self.retention_deleted,
            self.retention_deleted_events,
            self.deletions,
        ):
            lines += metric.render()
        for name, help_, read in self._gauges:
            lines += [f"# HELP {name} {help_}", f"# TYPE {name} gauge", f"{name} {_number(read())}"]
        return "\n".join(lines) + "\n"
