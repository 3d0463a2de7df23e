"""The ingest's worker threads: one more decrypts than may parse at once (receiver/ingest.py).

The crypto releases the GIL, so a third thread on two cores runs it while the others wait for
the GIL; the JSON parse, where a body's memory grows, stays at `threads` at once (the memory
bound of docs/receiver.md counts on it)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, cast

import orjson
import pytest

from telemetry_service.receiver import ingest
from telemetry_service.receiver.config import LimitsConfig
from telemetry_service.receiver.errors import Rejection
from telemetry_service.receiver.ingest import IngestOutcome, IngestService, channel_names
from telemetry_service.receiver.metrics import Metrics
from telemetry_service.receiver.storage import open_report_store
from telemetry_service.wire import Decryptor
from telemetry_service.wire.decryptor import DecryptResult
from telemetry_service.wire.protocol import report_headers


def _until(condition: Callable[[], bool]) -> bool:
    """Whether `condition` holds within 10 s, looked at every 5 ms. Sleeps, not a timed wait on
    a lock: under libfaketime (scripts/test-clock) a timed wait can outlast its timeout."""
    for _ in range(2000):
        if condition():
            return True
        time.sleep(0.005)
    return condition()


class _Gauge:
    """The calls of one kind inside at once, and the most seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = self.entered = self.most = 0

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.entered += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.now -= 1


class _StubDecryptor:
    """Stands in for the crypto: the body is the payload's JSON; `parties` callers must be
    inside at once to get out (so the test fails if fewer threads decrypt)."""

    def __init__(self, parties: int) -> None:
        self.gauge = _Gauge()
        self.parties = parties

    def decrypt_result(self, body: bytes) -> DecryptResult:
        with self.gauge:
            if not _until(lambda: self.gauge.most >= self.parties):
                raise RuntimeError(f"fewer than {self.parties} bodies were decrypted at once")
        return DecryptResult(plaintext=body, kid="k", key_wrap="RSA-OAEP")


def _payload(cluster: str) -> bytes:
    return orjson.dumps(
        {
            "cluster_uuid": cluster,
            "timestamp": "2026-03-15T11:00:00.000Z",
            "cluster_name": cluster,
            "version": "8.1.0",
            "collection": "local",
            "collectionSource": "local",
            "stack_stats": {},
        }
    )


class _Overlap(_Gauge):
    """The parses inside at once. The first `together` wait until that many are inside (so
    that seeing them overlap takes no lucky timing), then stay 0.2 s, long enough for one more
    to come in if nothing bounded them."""

    def __init__(self, together: int) -> None:
        super().__init__()
        self.together = together

    def __enter__(self) -> None:
        super().__enter__()
        if self.entered <= self.together:
            _until(lambda: self.most >= self.together)
            time.sleep(0.2)


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[IngestService]:
    store = open_report_store(f"sqlite:///{tmp_path / 'r.db'}")
    await store.open()
    service = IngestService(
        decryptor=cast(Decryptor, _StubDecryptor(parties=3)),
        store=store,
        products=("acme",),
        limits=LimitsConfig(),
        max_body_bytes=1 << 20,
        metrics=Metrics(),
        threads=2,
    )
    try:
        yield service
    finally:
        service.close()
        await store.close()


CHANNEL = next(name for name in channel_names(("acme",)) if name.endswith("-snapshot"))


async def _send(service: IngestService, header_cluster: str, payload: bytes) -> IngestOutcome:
    async def read_body(limit: int) -> bytes:
        return payload

    return await service.handle(CHANNEL, report_headers("8.1.0", header_cluster), read_body)


@pytest.mark.anyio
async def test_one_more_thread_decrypts_than_may_parse_at_once(
    service: IngestService, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsing = _Overlap(together=2)
    parse = ingest.parse_payload

    def counted_parse(plaintext: bytes, *, max_depth: int) -> Any:
        with parsing:
            return parse(plaintext, max_depth=max_depth)

    monkeypatch.setattr(ingest, "parse_payload", counted_parse)
    clusters = ["c-1", "c-2", "c-3"]
    outcomes = await asyncio.gather(*(_send(service, c, _payload(c)) for c in clusters))
    assert [o.duplicate for o in outcomes] == [False] * len(clusters)
    decryptor = cast(_StubDecryptor, service.decryptor)
    assert decryptor.gauge.most == 3  # three bodies in the crypto at once let each one out
    assert parsing.most == 2


@pytest.mark.anyio
async def test_a_refused_payload_leaves_no_parsed_value_in_its_error(
    service: IngestService,
) -> None:
    """The refusal's traceback reaches the caller after the parse's slot is released: it must
    not hold the parsed value (a sender could otherwise keep many alive at once)."""
    stub = cast(_StubDecryptor, service.decryptor)
    stub.parties = 1
    with pytest.raises(Rejection, match="cluster_mismatch") as info:
        await _send(service, "other", _payload("c-1"))
    held = []
    tb = info.value.__traceback__
    while tb is not None:
        held += [
            v for v in tb.tb_frame.f_locals.values() if isinstance(v, dict) and "cluster_uuid" in v
        ]
        tb = tb.tb_next
    assert held == []
