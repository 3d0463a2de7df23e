"""The field explorer's memory, whatever was ingested (security review finding 3)."""

from __future__ import annotations

import tracemalloc

import httpx
import pytest

from telemetry_service.receiver import Receiver

from ..support import send, snapshot

pytestmark = pytest.mark.anyio


def wide(cluster: str, fields: int) -> dict[str, object]:
    """A snapshot with `fields` small fields (about 16 bytes of JSON each)."""
    return snapshot(cluster, stack_stats={"wide": {f"f{j}": j for j in range(fields)}})


async def test_field_listing_memory_stays_under_its_bound(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    """Finding 3: 8 payloads of 1.6 MB (100k fields) and 4 of 3.7 MB (230k fields) make
    /api/stats/fields?sample=500 allocate less than the bound of docs/receiver.md, 10 x
    limits.fieldsPayloadBytes + 8 MiB (28 MiB at the default 2 MiB): payloads are decoded one
    at a time and those over the limit are skipped (21 MB measured). Before, all 12 were decoded at
    once: 274 MB, growing with every such payload."""
    for i in range(8):
        await send(client, wide(f"mid-{i}", 100_000))
    for i in range(4):
        await send(client, wide(f"big-{i}", 230_000))
    tracemalloc.start()
    try:
        response = await client.get("/api/stats/fields", params={"sample": 500})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200
    assert peak < 10 * 2 * 1024 * 1024 + 8 * 1024 * 1024, peak
    assert receiver.config.limits.fields_payload_bytes == 2 * 1024 * 1024
    listing = response.json()
    assert (listing["sampled"], listing["skipped"], listing["truncated"]) == (8, 4, True)
    assert len(listing["fields"]) == 5000
