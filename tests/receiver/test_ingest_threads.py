"""The ingest's worker threads: one more decrypts than may parse at once (receiver/ingest.py).

The crypto releases the GIL, so a third thread on two cores runs it while the others wait for
the GIL; the JSON parse, where a body's memory grows, stays at `threads` at once (the memory
bound of docs/receiver.md counts on it)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any, cast

import orjson
import pytest

from telemetry_service.receiver import ingest
from telemetry_service.receiver.config import LimitsConfig
from telemetry_service.receiver.ingest import IngestService, channel_names
from telemetry_service.receiver.metrics import Metrics
from telemetry_service.receiver.storage import open_report_store
from telemetry_service.wire import Decryptor
from telemetry_service.wire.decryptor import DecryptResult
from telemetry_service.wire.protocol import report_headers


class _Gauge:
    """The most calls of one kind seen at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.most = 0

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.now -= 1


class _StubDecryptor:
    """Stands in for the crypto: the body is the payload's JSON; three callers must be inside
    at once to get out (so the test fails if fewer threads decrypt)."""

    def __init__(self, parties: int) -> None:
        self.gauge = _Gauge()
        self.barrier = threading.Barrier(parties, timeout=10)

    def decrypt_result(self, body: bytes) -> DecryptResult:
        with self.gauge:
            self.barrier.wait()
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


@pytest.mark.anyio
async def test_one_more_thread_decrypts_than_may_parse_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsing = _Gauge()
    parse = ingest.parse_payload

    def slow_parse(plaintext: bytes, *, max_depth: int) -> Any:
        with parsing:
            time.sleep(0.2)  # long enough for every thread that may parse to be in here
            return parse(plaintext, max_depth=max_depth)

    monkeypatch.setattr(ingest, "parse_payload", slow_parse)
    decryptor = _StubDecryptor(parties=3)
    store = open_report_store(f"sqlite:///{tmp_path / 'r.db'}")
    await store.open()
    service = IngestService(
        decryptor=cast(Decryptor, decryptor),
        store=store,
        products=("acme",),
        limits=LimitsConfig(),
        max_body_bytes=1 << 20,
        metrics=Metrics(),
        threads=2,
    )
    channel = next(name for name in channel_names(("acme",)) if name.endswith("-snapshot"))
    clusters = [f"c-{i}" for i in range(6)]

    async def send(cluster: str) -> ingest.IngestOutcome:
        body = _payload(cluster)

        async def read_body(limit: int) -> bytes:
            return body

        return await service.handle(channel, report_headers("8.1.0", cluster), read_body)

    try:
        outcomes = await asyncio.gather(*(send(c) for c in clusters))
    finally:
        service.close()
        await store.close()
    assert [o.duplicate for o in outcomes] == [False] * len(clusters)
    assert decryptor.gauge.most == 3  # the barrier of three let every body through
    assert parsing.most == 2
