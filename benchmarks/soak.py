"""Soak: a receiver under steady snapshot and event ingest, and a host running its fetcher and
event shipper, for ``--minutes``; memory, open files and loop lag sampled and plotted.

Usage: ``python benchmarks/soak.py [--minutes 30] [--interval 10] [--rate 2]
[--png docs/screenshots/soak.png] [--json FILE] [--replot FILE]``

Real processes on 127.0.0.1: ``receiver serve`` (SQLite) and ``serve`` (a host opted in by
default, sending to that receiver). This process posts ``--rate`` encrypted snapshots (100
clusters, each report distinct) and ``--rate`` NDJSON batches (20 events, a batch id each) a
second to the receiver, and greets the host once a second (``/api/sample_app/hello``) so that
its shipper has events; the host's fetcher sends its daily snapshot, re-checked every minute.

Every ``--interval`` s, for each process: ``VmRSS``, the entries of ``/proc/PID/fd``, and the
loop lag. Neither process exposes its lag, so a proxy measures it from outside: the median
time to the first byte of 5 GETs of a trivial route (the receiver's ``/api/keys/public``, the
host's ``/api/status``), each on a new connection, from a thread apart from the load: an
upper bound of the lag (it includes the connection and the shared machine's scheduling).

Exit 1 when, after the first sixth of the run, memory or open files grow more than 10 % (the
median of the last 3 samples against that of the first 3 after warm-up), a lag sample exceeds
50 ms, an acknowledged snapshot, batch or event is missing, the host stored nothing, or a
process logged a traceback. Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT / "src"), str(REPO_ROOT)]

import httpx  # noqa: E402
from benchmarks.soak_plot import draw_soak  # noqa: E402
from tests.chaos.processes import drain  # noqa: E402
from tests.support.processes import run_cli  # noqa: E402

from telemetry_service.common.clock import iso_ms, to_ms, utc_now  # noqa: E402
from telemetry_service.receiver.keyfile import write_key_files  # noqa: E402
from telemetry_service.wire import Encryptor  # noqa: E402
from telemetry_service.wire.protocol import (  # noqa: E402
    HEADER_BATCH_ID,
    event_headers,
    report_headers,
)

SNAPSHOTS = "/v3/send/telemetry-service-snapshot"
EVENTS = "/v3/send/telemetry-service-server"
PROBES = {"receiver": "/api/keys/public", "host": "/api/status"}
GROWTH_LIMIT, LAG_LIMIT_MS = 0.10, 50.0


def snapshot(cluster: str, n: int) -> dict[str, Any]:
    now = iso_ms(to_ms(utc_now()))
    return {
        "collectionSource": "local",
        "cacheDetails": {"updatedAt": now, "fetchedAt": now},
        "timestamp": now,
        "cluster_uuid": cluster,
        "cluster_name": f"soak {cluster}",
        "version": "8.1.0",
        "collection": "local",
        "stack_stats": {"kibana": {"plugins": {"soak": {"n": n, "pad": "x" * 2000}}}},
    }


def batch(n: int) -> bytes:
    now = iso_ms(to_ms(utc_now()))
    return b"".join(
        json.dumps(
            {
                "timestamp": now,
                "event_type": f"soak_{i % 5}",
                "context": {},
                "properties": {"n": n, "i": i},
            }
        ).encode()
        + b"\n"
        for i in range(20)
    )


async def load(
    receiver: str, host: str, encryptor: Encryptor, rate: float, stop: threading.Event
) -> dict[str, Any]:
    """Post snapshots and event batches at `rate`/s, greet the host once a second."""
    acked: dict[str, list[str]] = {"snapshots": [], "batches": []}
    errors: Counter[str] = Counter()
    n = 0
    async with httpx.AsyncClient(timeout=30) as client:
        next_greeting = time.monotonic()
        while not stop.is_set():
            began = time.monotonic()
            cluster = f"soak-{n % 100:03d}"
            body = encryptor.encrypt(snapshot(cluster, n))
            batch_id = str(uuid.uuid4())
            requests = [
                ("snapshots", cluster + f"/{n}", receiver + SNAPSHOTS, body,
                 report_headers("8.1.0", cluster)),
                ("batches", batch_id, receiver + EVENTS, batch(n),
                 {**event_headers(cluster, "8.1.0"), HEADER_BATCH_ID.lower(): batch_id}),
            ]  # fmt: skip
            for kind, key, url, content, headers in requests:
                try:
                    answer = await client.post(url, content=content, headers=headers)
                    if answer.is_success:
                        acked[kind].append(key)
                    else:
                        errors[f"{kind} {answer.status_code}"] += 1
                except httpx.HTTPError as exc:
                    errors[f"{kind} {type(exc).__name__}"] += 1
            if began >= next_greeting:
                next_greeting = began + 1.0
                try:
                    await client.get(host + "/api/sample_app/hello")
                except httpx.HTTPError as exc:
                    errors[f"hello {type(exc).__name__}"] += 1
            n += 1
            await asyncio.sleep(max(0.0, 1 / rate - (time.monotonic() - began)))
    return {"acked": acked, "errors": dict(errors)}


def first_byte_ms(url: str, path: str) -> float:
    """Milliseconds from sending ``GET path`` on a new connection to the answer's first byte.

    The first byte, not the whole answer: a keep-alive client's second small segment waits for
    a delayed ACK (about 40 ms on Linux), which would measure TCP, not the server.
    """
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        began = time.perf_counter()
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        if not sock.recv(1):
            raise OSError(f"no answer from {url}{path}")
        return (time.perf_counter() - began) * 1000


def sample(pids: dict[str, int], urls: dict[str, str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for role, pid in pids.items():
        status = Path(f"/proc/{pid}/status").read_text()
        rss = int(status.split("VmRSS:")[1].split()[0])
        latencies = [first_byte_ms(urls[role], PROBES[role]) for _ in range(5)]
        row[role] = {
            "rss_mib": rss / 1024,
            "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "lag_ms": statistics.median(latencies),
        }
    return row


def verdict(samples: list[dict[str, Any]], warm_s: float) -> dict[str, Any]:
    after = [s for s in samples if s["t"] >= warm_s]
    found: dict[str, Any] = {"failures": []}
    if len(after) < 6:
        found["failures"].append(f"only {len(after)} samples after the warm-up (6 needed)")
        return found
    for role in PROBES:
        figures: dict[str, Any] = {}
        for metric in ("rss_mib", "fds"):
            values = [s[role][metric] for s in after]
            base, end = statistics.median(values[:3]), statistics.median(values[-3:])
            growth = end / base - 1
            figures[metric] = {"baseline": base, "end": end, "max": max(values), "growth": growth}
            if growth > GROWTH_LIMIT:
                found["failures"].append(f"{role} {metric} grew {growth:.1%} ({base} -> {end})")
        lags = [s[role]["lag_ms"] for s in after]
        figures["lag_ms"] = {"median": statistics.median(lags), "max": max(lags)}
        if max(lags) > LAG_LIMIT_MS:
            found["failures"].append(f"{role} lag reached {max(lags):.1f} ms")
        found[role] = figures
    return found


def missing(database: Path, acked: dict[str, list[str]]) -> dict[str, int]:
    """How many acknowledged snapshots and event batches (and their events) are not stored."""
    with closing(sqlite3.connect(database)) as db:
        (reports,) = db.execute(
            "SELECT count(*) FROM reports WHERE kind = 'snapshot' AND cluster_uuid LIKE 'soak-%'"
        ).fetchone()
        (batches, events) = db.execute(
            "SELECT count(*), sum(events) FROM event_batches WHERE cluster_uuid LIKE 'soak-%'"
        ).fetchone()
        (host_snapshots, host_events) = db.execute(
            "SELECT (SELECT count(*) FROM reports WHERE cluster_uuid NOT LIKE 'soak-%'), "
            "(SELECT count(*) FROM events WHERE cluster_uuid NOT LIKE 'soak-%')"
        ).fetchone()
    return {
        "host_snapshots_stored": host_snapshots,
        "host_events_stored": host_events,
        "snapshots_missing": len(acked["snapshots"]) - reports,
        "batches_missing": len(acked["batches"]) - batches,
        "events_missing": 20 * len(acked["batches"]) - (events or 0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--rate", type=float, default=2.0, help="snapshots and batches a second")
    parser.add_argument("--png", type=Path, default=REPO_ROOT / "docs/screenshots/soak.png")
    parser.add_argument("--json", type=Path, help="also write the summary and samples here")
    parser.add_argument("--replot", type=Path, help="only draw --png from a --json file")
    args = parser.parse_args()
    if args.replot:
        saved = json.loads(args.replot.read_text())
        draw_soak(args.png, saved["series"], saved["minutes"] * 60, list(PROBES), LAG_LIMIT_MS)
        return 0
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)])
    os.environ.pop("DO_NOT_TRACK", None)
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    keys = write_key_files(work / "keys", "soak")
    with ExitStack() as stack:
        receiver = stack.enter_context(
            run_cli(
                ["receiver", "serve", "--keys", str(keys.private), "--port", "0",
                 "--store", f"sqlite:///{work / 'receiver.db'}"],
                cwd=work,
            )
        )  # fmt: skip
        host_config = work / "host.yml"
        host_config.write_text(
            json.dumps(
                {
                    "server": {"port": 0},
                    "path": {"data": str(work / "host-data")},
                    "telemetry": {
                        "endpoints": {"prod": receiver.url + "/", "staging": receiver.url + "/"},
                        "encryption": {"jwks": str(keys.public), "kid": "soak"},
                    },
                }
            )
        )
        host = stack.enter_context(run_cli(["serve", "--config", str(host_config)], cwd=work))
        logs = {"receiver": work / "receiver.log", "host": work / "host.log"}
        drains = [drain(receiver, logs["receiver"]), drain(host, logs["host"])]
        pids = {"receiver": receiver.proc.pid, "host": host.proc.pid}
        urls = {"receiver": receiver.url, "host": host.url}
        encryptor = Encryptor(json.loads(keys.public.read_text()), "soak")
        stop = threading.Event()
        result: dict[str, Any] = {}
        loader = threading.Thread(
            target=lambda: result.update(
                asyncio.run(load(receiver.url, host.url, encryptor, args.rate, stop))
            )
        )
        loader.start()
        samples: list[dict[str, Any]] = []
        began, duration = time.monotonic(), args.minutes * 60
        while (elapsed := time.monotonic() - began) < duration:
            samples.append({"t": elapsed, **sample(pids, urls)})
            print(json.dumps(samples[-1]), flush=True)
            time.sleep(max(0.0, args.interval - (time.monotonic() - began - elapsed)))
        stop.set()
        loader.join()
        time.sleep(2)
        found = verdict(samples, duration / 6)
        exits = {"host": host.terminate(), "receiver": receiver.terminate()}
    for thread in drains:
        thread.join(timeout=10)
    found["missing"] = missing(work / "receiver.db", result["acked"])
    tracebacks = [role for role, log in logs.items() if "Traceback" in log.read_text()]
    found["failures"] += [f"{role} logged a traceback" for role in tracebacks]
    found["failures"] += [f"{k}: {v}" for k, v in found["missing"].items() if "missing" in k and v]
    if not found["missing"]["host_snapshots_stored"] or not found["missing"]["host_events_stored"]:
        found["failures"].append("the host's fetcher or shipper stored nothing at the receiver")
    found["failures"] += [f"{role} exited {code}" for role, code in exits.items() if code]
    summary = {
        "minutes": args.minutes,
        "samples": len(samples),
        "acknowledged": {k: len(v) for k, v in result["acked"].items()},
        "errors": result["errors"],
        "logs": str(work),
        **found,
    }
    draw_soak(args.png, samples, duration, list(PROBES), LAG_LIMIT_MS)
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({**summary, "series": samples}, indent=2))
    return 1 if found["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
