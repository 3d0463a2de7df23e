"""Event ingest throughput end to end next to the parse-and-store limit, and the event
routes' server time over many stored events.

Usage: ``.venv/bin/python benchmarks/events.py [--batches 400] [--concurrency 32]
[--stored 200000] [--no-postgres | --postgres URL]``

Prints JSON. For SQLite and PostgreSQL (``--postgres URL`` of an empty database, else a private
cluster started with ``tests/support/postgres.py``):

1. End to end: a real ``receiver serve`` process on 127.0.0.1 receives ``--batches`` NDJSON
   batches of about 10 KiB (100-byte events, the server shipper's shape: ~100 events a batch,
   20 event types, one cluster a batch) from ``--concurrency`` async senders over HTTP:
   HTTP, parse, validate, store (a durable commit per group of batches).
2. In the same run, the parse-and-store limit: the receiver's ``EventIngest.ingest`` called
   directly in this process with the same bodies and concurrency (no HTTP), on a fresh store.
   ``ratio`` = end-to-end events/s / limit.
3. ``--stored`` events of 30 days (2,000 clusters, 20 types, keyword, number and boolean
   properties) bulk-loaded through the event store's batch path (batches of 50,000 events,
   aggregates included), then the median server time of the four ``/api/events/types…`` data
   routes and ``/api/events``: the receiver's app called in this process through ASGI.

The client shares the machine with the receiver; on a 2-core machine the end-to-end figure is
therefore a lower bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT / "src"), str(REPO_ROOT)]

import httpx  # noqa: E402
from benchmarks.ingest import read_answer  # noqa: E402
from benchmarks.ingest import receiver as serve_receiver  # noqa: E402

from telemetry_service.common.clock import DAY_MS, iso_ms, to_ms, utc_now  # noqa: E402
from telemetry_service.receiver import Metrics, Receiver, load_config  # noqa: E402
from telemetry_service.receiver.budget import BodyBudget  # noqa: E402
from telemetry_service.receiver.events import EventIngest  # noqa: E402
from telemetry_service.receiver.keyfile import write_key_files  # noqa: E402
from telemetry_service.receiver.storage import (  # noqa: E402
    EventBatch,
    NewEvent,
    open_report_store,
)
from telemetry_service.wire.protocol import HEADER_BATCH_ID, event_headers  # noqa: E402

PRODUCT_CHANNEL = "telemetry-service-server"
TYPES = [f"feature_{i:02d}_used" for i in range(20)]
WARM_UP = 20


def batch_body(rng: random.Random, now_ms: int, size: int = 10 * 1024) -> bytes:
    """An NDJSON batch of about `size` bytes of ~100-byte events."""
    lines: list[bytes] = []
    total = 0
    while total < size:
        ts = iso_ms(now_ms - rng.randrange(3_600_000))
        line = (
            f'{{"timestamp":"{ts}","event_type":"{rng.choice(TYPES)}",'
            f'"context":{{}},"properties":{{"n":{rng.randrange(100)}}}}}'
        ).encode()
        lines.append(line + b"\n")
        total += len(line)
    return b"".join(lines)


def make_batches(count: int, seed: int) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    now_ms = to_ms(utc_now())
    return [(f"cluster-{rng.randrange(2000):05d}", batch_body(rng, now_ms)) for _ in range(count)]


def events_in(batches: list[tuple[str, bytes]]) -> int:
    return sum(body.count(b"\n") for _, body in batches)


@contextmanager
def receiver(store: str, workdir: Path) -> Iterator[str]:
    """A `receiver serve` process (`benchmarks/ingest.py`'s; events need no key set, but
    serve wants one); yields its URL."""
    keys = workdir / "keys"
    if not keys.exists():
        write_key_files(keys, "bench")
    with serve_receiver(keys / "receiver.private.jwks.json", store, workdir) as url:
        yield url


async def post_all(url: str, batches: list[tuple[str, bytes]], concurrency: int) -> float:
    """Post every batch from `concurrency` keep-alive connections; the seconds it took.

    A minimal HTTP/1.1 client on asyncio streams (like ``wrk``): the requests are built
    before the clock starts, so that the load generator takes little of the shared CPU.
    """
    host, port = url.removeprefix("http://").rsplit(":", 1)
    requests = []
    for cluster, body in batches:
        head = [f"POST /v3/send/{PRODUCT_CHANNEL} HTTP/1.1", f"Host: {host}:{port}"]
        head += [f"{k}: {v}" for k, v in event_headers(cluster, "8.1.0").items()]
        head.append(f"{HEADER_BATCH_ID}: {uuid.uuid4()}")  # as the host's shipper sends
        head.append(f"Content-Length: {len(body)}")
        requests.append(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)

    async def sender() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while not queue.empty():
                writer.write(queue.get_nowait())
                status, answer = await read_answer(reader)
                if b" 200 " not in status or b'"rejected":0' not in answer:
                    raise RuntimeError(f"{status!r}: {answer[:200]!r}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return time.perf_counter() - started


def end_to_end(
    store: str, batches: list[tuple[str, bytes]], concurrency: int, workdir: Path
) -> float:
    with receiver(store, workdir) as url:
        asyncio.run(post_all(url, batches[:WARM_UP], concurrency))
        seconds = asyncio.run(post_all(url, batches[WARM_UP:], concurrency))
    return events_in(batches[WARM_UP:]) / seconds


async def parse_and_store(
    store_url: str, batches: list[tuple[str, bytes]], concurrency: int
) -> float:
    """Events/s of EventIngest.ingest called directly (no HTTP), `concurrency` at a time."""
    store = open_report_store(store_url)
    await store.open()
    try:
        config = load_config({"store": {"url": store_url}}, env={})
        service = EventIngest(
            store=store, products=config.products, limits=config.limits,
            retention_days=config.retention.days, metrics=Metrics(),
            budget=BodyBudget(config.limits.max_buffered_bytes, 5),
        )  # fmt: skip
        queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        for item in batches[WARM_UP:]:
            queue.put_nowait(item)

        async def sender() -> None:
            while not queue.empty():
                cluster, body = queue.get_nowait()
                await service.ingest(PRODUCT_CHANNEL, body, cluster, str(uuid.uuid4()))

        for cluster, body in batches[:WARM_UP]:
            await service.ingest(PRODUCT_CHANNEL, body, cluster, str(uuid.uuid4()))
        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        return events_in(batches[WARM_UP:]) / (time.perf_counter() - started)
    finally:
        await store.close()


def stored_events(count: int, now_ms: int, seed: int = 7) -> Iterator[list[NewEvent]]:
    """`count` events over the 30 days up to `now_ms`, in time order, 50,000 at a time."""
    rng = random.Random(seed)
    modes = ["fast", "slow", "auto", "manual", "off"]
    chunk: list[NewEvent] = []
    for i in range(count):
        properties = (
            f'{{"mode":"{rng.choice(modes)}","size":{rng.randrange(1000)},'
            f'"on":{"true" if rng.random() < 0.3 else "false"},'
            f'"nested":{{"k":"v{rng.randrange(9)}"}}}}'
        )
        cluster = f"cluster-{rng.randrange(2000):05d}"
        # In time order (as they arrive), a few seconds of jitter.
        ts = now_ms - 30 * DAY_MS + (30 * DAY_MS * i) // count - rng.randrange(5000)
        chunk.append(
            NewEvent(
                ts, rng.choice(TYPES), cluster, '{"cluster_uuid":"' + cluster + '"}', properties
            )
        )
        if len(chunk) == 50_000:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def bulk_load(store_url: str, count: int) -> float:
    """Load `count` events through the event store's batch path; the seconds it took."""
    store = open_report_store(store_url)
    await store.open()
    started = time.perf_counter()
    try:
        now_ms = to_ms(utc_now())
        for i, chunk in enumerate(stored_events(count, now_ms)):
            batch = EventBatch(f"bulk-{i}", PRODUCT_CHANNEL, "bulk", now_ms, chunk)
            await store.events.add(batch)
    finally:
        await store.close()
    return time.perf_counter() - started


async def route_times(store_url: str, runs: int = 5) -> dict[str, float]:
    """Median server milliseconds of each data route (the receiver's app in this process,
    called through ASGI: no network), after one warm-up call."""
    routes = {
        "types": "/api/events/types?days=30",
        "daily": f"/api/events/types/{TYPES[0]}/daily?days=30",
        "properties": f"/api/events/types/{TYPES[0]}/properties?days=30",
        "property_keyword": f"/api/events/types/{TYPES[0]}/properties/mode?days=30",
        "property_number": f"/api/events/types/{TYPES[0]}/properties/size?days=30",
        "recent_of_type": f"/api/events?event_type={TYPES[0]}&limit=50",
        "recent_of_cluster": "/api/events?cluster_uuid=cluster-00042&limit=50",
    }
    config = load_config({"store": {"url": store_url}}, env={})
    times: dict[str, float] = {}
    async with Receiver(config, decryptor=object()) as receiver:  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=receiver.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
            for name, route in routes.items():
                (await client.get(route)).raise_for_status()
                samples = []
                for _ in range(runs):
                    started = time.perf_counter()
                    (await client.get(route)).raise_for_status()
                    samples.append((time.perf_counter() - started) * 1000)
                times[name] = round(statistics.median(samples), 1)
    return times


def run_backend(
    name: str, urls: list[str], args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    """`urls`: three empty stores of the backend (end to end, the limit, the stored events)."""
    batches = make_batches(WARM_UP + args.batches, seed=1)
    result: dict[str, Any] = {}
    e2e = end_to_end(urls[0], batches, args.concurrency, workdir)
    limit = asyncio.run(parse_and_store(urls[1], batches, args.concurrency))
    result["end_to_end_events_per_s"] = round(e2e)
    result["parse_and_store_events_per_s"] = round(limit)
    result["ratio"] = round(e2e / limit, 2)
    seconds = asyncio.run(bulk_load(urls[2], args.stored))
    result["stored_events"] = args.stored
    result["bulk_load_events_per_s"] = round(args.stored / seconds)
    result["route_ms"] = asyncio.run(route_times(urls[2]))
    print(f"{name}: {json.dumps(result)}", file=sys.stderr)
    return result


def postgres_urls(args: argparse.Namespace, stack: Any) -> list[str] | str:
    """Three empty databases, or why there are none."""
    from tests.support.postgres import PostgresUnavailable, create_database, private_cluster

    if args.postgres:
        base = args.postgres.rsplit("/", 1)[0]
    else:
        try:
            base = stack.enter_context(private_cluster())
        except PostgresUnavailable as exc:
            return str(exc)
    names = [f"events_bench_{os.getpid()}_{i}" for i in range(3)]
    return [create_database(base, db) for db in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--stored", type=int, default=200_000)
    parser.add_argument("--postgres", help="a PostgreSQL server URL (databases are created)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    from contextlib import ExitStack

    sample = make_batches(1, seed=1)[0][1]
    output: dict[str, Any] = {
        "benchmark": "receiver events: end to end (HTTP, parse, validate, store) and the "
        "parse-and-store limit",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "batch_bytes": len(sample),
        "events_per_batch": sample.count(b"\n"),
        "batches": args.batches,
        "concurrency": args.concurrency,
    }
    with tempfile.TemporaryDirectory(prefix="events-bench-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        if not args.no_sqlite:
            urls = [f"sqlite:///{workdir / f'events-{i}.db'}" for i in range(3)]
            output["sqlite"] = run_backend("sqlite", urls, args, workdir)
        if not args.no_postgres:
            found = postgres_urls(args, stack)
            if isinstance(found, str):
                output["postgresql"] = {"skipped": found}
            else:
                output["postgresql"] = run_backend("postgresql", found, args, workdir)
    print(json.dumps(output, indent=2))


if __name__ == "__main__":
    main()
