"""The ingest pipeline shared by ``POST /v3/send/{channel}`` and ``receiver import``.

channel (404) -> headers (415, 400) -> body (413, 408, 429) -> admission (429) -> decrypt
(400 / 413) -> JSON and root shape (400) -> store (503) -> 200 once committed.

A body must arrive within ``limits.bodyTimeoutSeconds`` (else 408, and the connection is
closed), and the bodies held at once by a process, from their first byte until their answer,
stay within ``limits.maxBufferedBytes`` (counted as bytes arrive, so that slow senders hold
only what they sent; beyond, 429). A request takes one of the ``limits.maxInFlight`` slots
only once its body has arrived, so slow or idle senders cannot lock others out. Decryption
and parsing run in worker threads: at most ``limits.decryptThreads`` bodies are parsed at once,
and one thread more decrypts meanwhile (the crypto releases the GIL). docs/receiver.md gives the
memory bound these make.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from telemetry_service.common.clock import Clock, to_ms, utc_now
from telemetry_service.wire import (
    DecryptionError,
    Decryptor,
    DecryptResult,
    InflateLimitError,
    PayloadTooLargeError,
    UnknownKeyError,
    WireError,
)
from telemetry_service.wire.protocol import (
    CONTENT_ENCODING,
    HEADER_CLUSTER_ID,
    HEADER_CONTENT_ENCODING,
    HEADER_STACK_VERSION,
    ChannelKind,
    channel_name,
    parse_channel,
)

from .budget import BodyBudget, admit, within_body_timeout
from .config import LimitsConfig
from .errors import Rejection
from .metrics import Metrics
from .storage import NewReport, ReportStore, StoreBusyError, StoreUnavailableError
from .threads import WorkerThreads
from .validate import (
    MAX_ID_CHARS,
    ReportKind,
    ValidatedReport,
    is_identifier,
    parse_payload,
    validate_report,
)

__all__ = ["Channel", "IngestOutcome", "IngestService", "channel_names"]

log = logging.getLogger("telemetry_service.receiver.ingest")

#: The channels served, and the kind their reports are stored as.
_STORED_KINDS: dict[ChannelKind, ReportKind] = {"snapshot": "snapshot", "opt-in-reports": "opt-in"}
_CONTENT_TYPES = frozenset({"application/json", "text/plain"})
BodyReader = Callable[[int], Awaitable[bytes]]


@dataclass(frozen=True)
class Channel:
    """A served channel: ``{product}-snapshot`` or ``{product}-opt-in-reports``."""

    name: str
    product: str
    kind: ReportKind


@dataclass(frozen=True)
class IngestOutcome:
    """A stored (or already stored) report."""

    id: str
    duplicate: bool
    channel: str


def channel_names(products: tuple[str, ...]) -> list[str]:
    """Every channel served for `products`."""
    return [channel_name(product, kind) for product in products for kind in _STORED_KINDS]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


@dataclass(eq=False, kw_only=True)
class IngestService:
    """Decrypts, validates and stores reports; every outcome is counted in `metrics`.

    Decryption runs in `threads` + 1 worker threads, of which at most `threads` parse at once
    (default: ``limits.decryptThreads``, at most one per core).
    """

    decryptor: Decryptor
    store: ReportStore
    products: tuple[str, ...]
    limits: LimitsConfig
    max_body_bytes: int
    metrics: Metrics
    clock: Clock = utc_now
    threads: int | None = None
    in_flight: int = field(default=0, init=False)
    #: Reports being decrypted (queued for a worker thread or in one).
    decrypting: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        threads = self.threads or min(self.limits.decrypt_threads, os.cpu_count() or 1)
        # One thread more than may parse at once: when the others wait for the GIL (their JSON
        # work, the event loop's, the writer's), it runs the crypto, which releases it, on the
        # core they leave idle (docs/benchmarks.md, "Ingest": on two cores PostgreSQL's ratio to
        # the crypto limit +0.025, SQLite's within its swing). Parsing, where a body's memory
        # grows twelvefold, stays at `threads` at once.
        self._workers = WorkerThreads(threads + 1, "ingest-decrypt")
        self._parsing = threading.BoundedSemaphore(threads)
        # Never below one largest body, which could not be received otherwise.
        budget = max(
            self.limits.max_buffered_bytes, self.max_body_bytes, self.limits.max_event_body_bytes
        )
        self.budget = BodyBudget(budget, self.limits.retry_after_seconds)

    def close(self) -> None:
        """Let the worker threads go once idle (a later report starts new ones)."""
        self._workers.close()

    def channel(self, name: str) -> Channel:
        """The served channel `name`, or a 404 :class:`Rejection`."""
        kind = parse_channel(name, self.products)
        if kind is None or kind not in _STORED_KINDS:
            raise Rejection(404, "unknown_channel", "this receiver does not serve that channel")
        return Channel(name, name.removesuffix(f"-{kind}"), _STORED_KINDS[kind])

    async def handle(
        self, name: str, headers: Mapping[str, str], read_body: BodyReader
    ) -> IngestOutcome:
        """Run the whole pipeline; raise :class:`Rejection` for every refusal."""
        label = "unknown"
        started = time.perf_counter()
        try:
            channel = self.channel(name)
            label = channel.name
            cluster_id, stack_version = self.check_headers(headers)
            self._admit()  # before reading: an overloaded receiver reads no more bodies
            body = await self._receive(read_body)
            self._admit()
            self.in_flight += 1
            try:
                self.metrics.ingest_bytes.inc(by=len(body))
                outcome = await self.ingest(channel, body, cluster_id, stack_version)
            finally:
                self.in_flight -= 1
        except Rejection as rejection:
            self.metrics.ingest.inc(label, rejection.reason)
            log.debug("ingest on %s refused: %s", label, rejection.reason)
            raise
        self.metrics.ingest.inc(label, "duplicate" if outcome.duplicate else "stored")
        self.metrics.ingest_seconds.observe(time.perf_counter() - started)
        return outcome

    def _admit(self) -> None:
        admit(self.in_flight, self.limits, "reports")

    async def _receive(self, read_body: BodyReader) -> bytes:
        """The body, within ``limits.bodyTimeoutSeconds`` (else 408)."""
        return await within_body_timeout(self.limits, read_body(self.max_body_bytes))

    def check_headers(self, headers: Mapping[str, str]) -> tuple[str, str]:
        """Kibana's headers (spec 3.4); return the cluster id and the stack version."""
        encoding = (_header(headers, "content-encoding") or "identity").strip().lower()
        if encoding != "identity":
            raise Rejection(
                415, "unsupported_encoding", "Content-Encoding must be absent (identity)"
            )
        elastic = (_header(headers, HEADER_CONTENT_ENCODING.lower()) or "").strip().lower()
        if elastic != CONTENT_ENCODING:
            raise Rejection(
                415,
                "unsupported_encoding",
                f"{HEADER_CONTENT_ENCODING} must be {CONTENT_ENCODING}: the body is "
                "the encrypted payload",
            )
        media = (_header(headers, "content-type") or "application/json").split(";")[0]
        if media.strip().lower() not in _CONTENT_TYPES:
            raise Rejection(415, "unsupported_media_type", "Content-Type must be application/json")
        values = []
        for name in (HEADER_CLUSTER_ID, HEADER_STACK_VERSION):
            value = (_header(headers, name.lower()) or "").strip()
            if not is_identifier(value):
                raise Rejection(
                    400,
                    "missing_header",
                    f"the {name} header must hold 1 to {MAX_ID_CHARS} printable characters",
                )
            values.append(value)
        return values[0], values[1]

    async def ingest(
        self, channel: Channel, body: bytes, cluster_id: str, stack_version: str
    ) -> IngestOutcome:
        """Decrypt, validate and store one body whose headers were checked."""
        received_ms = to_ms(self.clock())
        self.decrypting += 1
        try:
            record = await self._workers.run(
                self._open_body, channel, body, cluster_id, stack_version, received_ms
            )
        finally:
            self.decrypting -= 1
        try:
            # Others still decrypting: the store commits this one with them (group commit).
            result = await self.store.add(record, more_coming=self.decrypting > 0)
        except (StoreBusyError, StoreUnavailableError) as exc:
            state = "busy" if isinstance(exc, StoreBusyError) else "unavailable"
            if state == "unavailable":
                log.warning("storing a report failed: %s", exc)
            raise Rejection(
                503,
                f"store_{state}",
                f"the store is {state}; retry later",
                retry_after=self.limits.retry_after_seconds,
            ) from None
        return IngestOutcome(result.id, result.duplicate, channel.name)

    def _open_body(
        self,
        channel: Channel,
        body: bytes,
        cluster_id: str,
        stack_version: str,
        received_ms: int,
    ) -> NewReport:
        """Decrypt, parse, validate and digest: the report to store (in one worker thread)."""
        packed = body.strip()
        if packed[:1] == b'"' and packed[-1:] == b'"' and len(packed) >= 2:
            packed = packed[1:-1]  # a sender that JSON-encoded the string
        if not packed:
            raise Rejection(400, "malformed", "the body is empty")
        try:
            result = self.decryptor.decrypt_result(packed)
        except (PayloadTooLargeError, InflateLimitError) as exc:
            raise Rejection(413, "too_large", str(exc)) from None
        except UnknownKeyError as exc:
            raise Rejection(400, "unknown_kid", str(exc)) from None
        except DecryptionError as exc:
            raise Rejection(400, "undecryptable", str(exc)) from None
        except WireError as exc:
            raise Rejection(400, "malformed", str(exc)) from None
        except Exception as exc:  # never a 500 for client input
            log.warning("decrypting a body raised %s; answered 400", type(exc).__name__)
            raise Rejection(400, "undecryptable", "the body cannot be decrypted") from None
        with self._parsing:  # the parsed value is gone before the next parse may start
            try:
                report = _parse(channel.kind, result.plaintext, cluster_id, self.limits.max_depth)
            except Rejection as refusal:  # its traceback holds the parse's frames and value
                raise refusal.with_traceback(None) from None
        return _record(channel, report, result, body, stack_version, received_ms)


def _parse(kind: ReportKind, plaintext: bytes, cluster_id: str, max_depth: int) -> ValidatedReport:
    """Parse and validate a decrypted payload (its parsed value lives in this frame only)."""
    value, text, query_text = parse_payload(plaintext, max_depth=max_depth)
    return validate_report(kind, value, text, query_text, cluster_id=cluster_id)


def _record(
    channel: Channel,
    report: ValidatedReport,
    result: DecryptResult,
    body: bytes,
    stack_version: str,
    received_ms: int,
) -> NewReport:
    """The row of a validated report; a snapshot's digest is of its payload, an opt-in
    report's of its body."""
    if channel.kind == "snapshot":
        assert report.timestamp_ms is not None
        report_ms = max(0, min(report.timestamp_ms, received_ms))
        digest = _digest(b"payload", channel.name.encode(), result.plaintext)
    else:
        report_ms = received_ms
        digest = _digest(b"body", channel.name.encode(), body.strip())
    return NewReport(
        id=_new_id(),
        digest=digest,
        channel=channel.name,
        kind=channel.kind,
        cluster_uuid=report.cluster_uuid,
        cluster_name=report.cluster_name,
        version=report.version,
        stack_version=stack_version,
        kid=result.kid,
        received_ms=received_ms,
        report_ms=report_ms,
        opt_in_status=report.opt_in_status,
        payload_text=report.payload_text,
        query_text=report.query_text,
    )


#: hashlib lets go of the GIL to hash 2,048 bytes or more, and taking it back costs a busy
#: receiver two context switches (another thread runs Python meanwhile): ~20 µs of hashing
#: is cheaper done holding it.
_HASH_PIECE = 2047


def _digest(*parts: bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(len(part).to_bytes(8, "big"))
        view = memoryview(part)
        for start in range(0, len(view), _HASH_PIECE):
            hasher.update(view[start : start + _HASH_PIECE])
    return hasher.hexdigest()


_ids = threading.local()


def _forget_ids() -> None:
    global _ids
    _ids = threading.local()  # a forked child draws its own: the parent's pool is the parent's


os.register_at_fork(after_in_child=_forget_ids)


def _new_id() -> str:
    """A random (version 4) UUID's 32 hex digits, as ``uuid.uuid4().hex``; the random bytes
    are read 256 ids at a time, as ``os.urandom`` lets go of the GIL for each read."""
    pool: bytearray | None = getattr(_ids, "pool", None)
    if not pool:
        pool = _ids.pool = bytearray(os.urandom(16 * 256))
    raw = pool[-16:]
    del pool[-16:]
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    return raw.hex()
