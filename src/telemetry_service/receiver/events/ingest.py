"""The event ingest pipeline of ``POST /v3/send/{product}-server|{product}-browser``.

channel (404) -> headers (415, 400) -> admission (429) -> body, streamed (413: size, lines)
-> lines (413: a line's size; each line checked, see ``lines.py``) -> no valid line (400)
-> store the valid events and the batch key in one transaction (503) -> 200 with the counts.

The body is read chunk by chunk and refused as soon as it passes
``limits.maxEventBodyBytes`` or holds more than ``limits.maxEventLines`` lines, so a request
holds at most that many bytes. As for reports: the body must arrive within
``limits.bodyTimeoutSeconds`` (else 408), its bytes count towards the process's
``limits.maxBufferedBytes`` from their arrival until the answer (beyond, 429), and at most
``limits.maxInFlight`` event batches are past admission at once, a slot being taken once the
body has arrived (429 beyond). The lines of a body up to ``INLINE_PARSE_BYTES`` are parsed on
the event loop (about a millisecond at most: cheaper than a hop to a worker thread and back,
which also contends for the GIL with the loop); larger bodies are parsed in worker threads.

A batch is stored once: its key is the ``x-elastic-batch-id`` header (which the shipper keeps
across retries) or, without one, the body's digest; both are scoped to the channel and the
``X-Elastic-Cluster-ID`` header.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

import anyio
import anyio.to_thread

from telemetry_service.common.clock import DAY_MS, Clock, to_ms, utc_now
from telemetry_service.wire.protocol import (
    EVENT_KINDS,
    HEADER_BATCH_ID,
    HEADER_CLUSTER_ID,
    HEADER_STACK_VERSION,
    NDJSON_CONTENT_TYPE,
    channel_name,
    parse_channel,
)

from ..budget import BodyBudget, admit, within_body_timeout
from ..config import LimitsConfig
from ..errors import Rejection
from ..metrics import Metrics
from ..storage import EventBatch, ReportStore, StoreBusyError, StoreUnavailableError
from ..validate import MAX_ID_CHARS, is_identifier
from .lines import LineLimits, ParsedBody, parse_body

__all__ = ["INLINE_PARSE_BYTES", "EventIngest", "EventOutcome", "event_channel_names"]

log = logging.getLogger("telemetry_service.receiver.ingest")
_MEDIA_TYPES = frozenset({NDJSON_CONTENT_TYPE, "application/ndjson"})
#: The largest body parsed on the event loop rather than in a worker thread.
INLINE_PARSE_BYTES = 32 * 1024


@dataclass(frozen=True)
class EventOutcome:
    """What became of one batch: the events accepted (stored now, or before when
    `duplicate`), the refused lines by reason and the first of them."""

    channel: str
    parsed: ParsedBody
    duplicate: bool
    batch_id: str | None

    @property
    def accepted(self) -> int:
        return len(self.parsed.events)


def event_channel_names(products: tuple[str, ...]) -> list[str]:
    """Every event channel served for `products`."""
    return [channel_name(p, kind) for p in products for kind in ("server", "browser")]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return headers.get(name.lower())


@dataclass(eq=False, kw_only=True)
class EventIngest:
    """Checks, parses and stores event batches; every outcome is counted in `metrics`."""

    store: ReportStore
    products: tuple[str, ...]
    limits: LimitsConfig
    retention_days: int
    metrics: Metrics
    #: The process's ingest body bytes, shared with the reports (``limits.maxBufferedBytes``).
    budget: BodyBudget
    clock: Clock = utc_now
    threads: int | None = None
    inline_bytes: int = INLINE_PARSE_BYTES
    in_flight: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._limiter = anyio.CapacityLimiter(self.threads or os.cpu_count() or 2)

    def channel(self, name: str) -> str:
        """`name` when it is a served event channel, else a 404 :class:`Rejection`."""
        if parse_channel(name, self.products) not in EVENT_KINDS:
            raise Rejection(404, "unknown_channel", "this receiver does not serve that channel")
        return name

    async def handle(
        self,
        name: str,
        headers: Mapping[str, str],
        chunks: AsyncIterator[bytes],
        charge: Callable[[int], None],
    ) -> EventOutcome:
        """Run the whole pipeline (`headers` with lower-case names; `charge` takes each
        chunk's bytes from :attr:`budget`); raise :class:`Rejection` for every refusal."""
        label = "unknown"
        try:
            label = self.channel(name)
            cluster_id, batch_id = self.check_headers(headers)
            admit(self.in_flight, self.limits, "batches")  # an overloaded receiver reads no more
            body = await within_body_timeout(self.limits, self._read(headers, chunks, charge))
            admit(self.in_flight, self.limits, "batches")  # a slot once the body is here
            self.in_flight += 1
            try:
                self.metrics.ingest_bytes.inc(by=len(body))
                outcome = await self.ingest(label, body, cluster_id, batch_id)
            finally:
                self.in_flight -= 1
        except Rejection as rejection:
            self.metrics.ingest.inc(label, rejection.reason)
            log.debug("event ingest on %s refused: %s", label, rejection.reason)
            raise
        self.metrics.ingest.inc(label, "duplicate" if outcome.duplicate else "stored")
        return outcome

    def check_headers(self, headers: Mapping[str, str]) -> tuple[str, str | None]:
        """Kibana's event headers (``build_headers``); the cluster id and the batch id."""
        encoding = (_header(headers, "content-encoding") or "identity").strip().lower()
        if encoding != "identity":
            raise Rejection(
                415, "unsupported_encoding", "Content-Encoding must be absent (identity)"
            )
        media = (_header(headers, "content-type") or "").split(";")[0].strip().lower()
        if media not in _MEDIA_TYPES:
            raise Rejection(
                415, "unsupported_media_type", f"Content-Type must be {NDJSON_CONTENT_TYPE}"
            )
        values: list[str | None] = []
        for name, required in (
            (HEADER_CLUSTER_ID, True),
            (HEADER_STACK_VERSION, True),
            (HEADER_BATCH_ID, False),
        ):
            value = (_header(headers, name) or "").strip() or None
            if (value is not None or required) and not is_identifier(value or ""):
                raise Rejection(
                    400,
                    "missing_header" if value is None else "bad_header",
                    f"the {name} header must hold 1 to {MAX_ID_CHARS} printable characters",
                )
            values.append(value)
        return str(values[0]), values[2]

    async def _read(
        self,
        headers: Mapping[str, str],
        chunks: AsyncIterator[bytes],
        charge: Callable[[int], None],
    ) -> bytes:
        limit, max_lines = self.limits.max_event_body_bytes, self.limits.max_event_lines
        declared = _header(headers, "content-length") or ""
        if declared.isdigit() and int(declared) > limit:
            raise Rejection(413, "too_large", f"the body is larger than {limit} bytes")
        parts: list[bytes] = []
        size = newlines = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise Rejection(413, "too_large", f"the body is larger than {limit} bytes")
            newlines += chunk.count(b"\n")
            if newlines > max_lines:  # blank lines count here: a bound, not the check
                raise Rejection(
                    413, "too_many_lines", f"the body holds more than {max_lines} lines"
                )
            charge(len(chunk))
            parts.append(chunk)
        return b"".join(parts)

    async def ingest(
        self, channel: str, body: bytes, cluster_id: str, batch_id: str | None
    ) -> EventOutcome:
        """Parse and store one body whose headers were checked."""
        received_ms = to_ms(self.clock())
        limits = LineLimits(
            max_line_bytes=self.limits.max_event_line_bytes,
            max_lines=self.limits.max_event_lines,
            max_depth=self.limits.max_depth,
            oldest_ms=(received_ms // DAY_MS - self.retention_days + 1) * DAY_MS,
            newest_ms=received_ms + DAY_MS,
        )
        parse = functools.partial(parse_body, body, cluster_id=cluster_id, limits=limits)
        if len(body) <= self.inline_bytes:
            parsed = parse()
        else:
            parsed = await anyio.to_thread.run_sync(parse, limiter=self._limiter)
        for reason, count in parsed.rejected.items():
            self.metrics.events_rejected.inc(channel, reason, by=count)
        if not parsed.events:
            if not parsed.rejected:
                raise Rejection(400, "empty", "the body holds no event")
            reasons = ", ".join(f"{r}: {n}" for r, n in sorted(parsed.rejected.items()))
            raise Rejection(400, "no_valid_events", f"no line is a valid event ({reasons})")
        key = _digest(channel, cluster_id, *((b"id", batch_id) if batch_id else (b"body", body)))
        batch = EventBatch(key, channel, cluster_id, received_ms, parsed.events)
        try:
            result = await self.store.events.add(batch)
        except (StoreBusyError, StoreUnavailableError) as exc:
            state = "busy" if isinstance(exc, StoreBusyError) else "unavailable"
            if state == "unavailable":
                log.warning("storing events failed: %s", exc)
            raise Rejection(
                503,
                f"store_{state}",
                f"the store is {state}; retry later",
                retry_after=self.limits.retry_after_seconds,
            ) from None
        if not result.duplicate:
            self.metrics.events_accepted.inc(channel, by=result.stored)
        return EventOutcome(channel, parsed, result.duplicate, batch_id)


def _digest(*parts: str | bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "big"))
        hasher.update(data)
    return hasher.hexdigest()
