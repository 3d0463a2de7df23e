"""The invariants of a chaos run, checked in the receivers' database and the processes' logs.

Each check answers ``(name, passed, detail)``; the detail is the figure that was checked, so
that the summary shows what was proven, not only that nothing failed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections import Counter
from typing import Any

import psycopg

from .harness import EVENTS_CLUSTER, EVENTS_PER_BATCH, ChaosRun

__all__ = ["Check", "check_run"]

Check = tuple[str, bool, str]
CHANNEL = "telemetry-service-server"
BATCH = "x-elastic-batch-id"


def batch_key(cluster: str, batch_id: str) -> str:
    """The receiver's key of a batch sent with an id (``receiver.events.ingest``)."""
    hasher = hashlib.sha256()
    for part in (CHANNEL, cluster, "id", batch_id):
        data = part.encode()
        hasher.update(len(data).to_bytes(8, "big"))
        hasher.update(data)
    return hasher.hexdigest()


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def check_snapshots(run: ChaosRun) -> list[Check]:
    stored = _rows(run.receiver_db, "SELECT id, cluster_uuid, report_ms FROM reports "
                   "WHERE kind = 'snapshot'")  # fmt: skip
    per_day = Counter(
        (cluster, dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date()) for _, cluster, ms in stored
    )
    clusters = {cluster for cluster, _ in per_day}
    days = [r.date for r in run.results]
    wrong = {k: n for k, n in per_day.items() if n != 1 or k[1] not in days}
    missing = [d for d in days for c in clusters if (c, d) not in per_day]
    acked = [
        json.loads(a.body)
        for a in run.proxy.answers
        if a.request.path.endswith("-snapshot") and 200 <= a.status < 300
    ]
    ids = {row[0] for row in stored}
    lost = [a["id"] for a in acked if a["id"] not in ids]
    sends = sum(r.sent for r in run.results)
    return [
        ("one snapshot per cluster per simulated day",
         len(clusters) == 1 and not wrong and not missing and len(stored) == len(days),
         f"{len(stored)} snapshots of {len(clusters)} cluster(s) over {len(days)} days "
         f"({days[0]} to {days[-1]}); days with other counts: {len(wrong) + len(missing)}"),
        ("every acknowledged snapshot stored once",
         not lost and len(acked) == len(stored) == sends,
         f"{len(acked)} acknowledged, {len(stored)} stored, {sends} sends reported success, "
         f"{len(lost)} lost"),
    ]  # fmt: skip


def check_events(run: ChaosRun) -> list[Check]:
    batches = dict(_rows(run.receiver_db, "SELECT batch_key, events FROM event_batches"))
    (poster_events,) = _rows(
        run.receiver_db, f"SELECT count(*) FROM events WHERE cluster_uuid = '{EVENTS_CLUSTER}'"
    )[0]
    ours = {batch_key(EVENTS_CLUSTER, batch_id) for batch_id, _ in run.batches}
    poster_lost = [k for k in ours if k not in batches]
    host_acked = {
        batch_key(a.request.headers["x-elastic-cluster-id"], a.request.headers[BATCH])
        for a in run.proxy.answers
        if a.request.method == "POST" and a.request.path.endswith(CHANNEL)
        and 200 <= a.status < 300
        and a.request.headers.get("x-elastic-cluster-id") != EVENTS_CLUSTER
    }  # fmt: skip
    host_lost = [k for k in host_acked if k not in batches]
    duplicates = sum(
        1
        for a in run.proxy.answers
        if a.request.path.endswith(CHANNEL)
        and 200 <= a.status < 300
        and b'"duplicate":true' in a.body
    )
    host_events = sum(batches.get(k, 0) for k in host_acked)
    (stored_host_events,) = _rows(
        run.receiver_db, f"SELECT count(*) FROM events WHERE cluster_uuid <> '{EVENTS_CLUSTER}'"
    )[0]
    posts = [a for a in run.proxy.answers if a.request.method == "POST"]
    retried = sum(1 for a in posts if a.request.path.endswith(CHANNEL)) - len(
        run.batches
    ) - len(host_acked)  # fmt: skip
    return [
        ("every acknowledged event batch stored once",
         not poster_lost and not host_lost and poster_events == EVENTS_PER_BATCH * len(ours)
         and stored_host_events >= host_events,
         f"{len(ours)} posted batches ({poster_events} events, {EVENTS_PER_BATCH} each) and "
         f"{len(host_acked)} host shipper batches ({host_events} events) acknowledged; "
         f"{len(poster_lost) + len(host_lost)} lost; {retried} refused, failed or retried "
         f"requests on the way, {duplicates} answered as duplicates (stored before)"),
    ]  # fmt: skip


def check_hosts(run: ChaosRun) -> list[Check]:
    outages = [r for r in run.results if r.fault in ("http-500", "http-429")]
    resumed = all(r.rounds[0].count("sent") == 0 and r.rounds[-1].count("sent") == 1
                  for r in outages)  # fmt: skip
    shipped_after = run.shipped_after_outage()
    failures = run.status.get("failures", {})
    count = failures.get("count", 0) if isinstance(failures, dict) else -1
    holder = [r for r in run.results if r.fault == "holder-kill"]
    kept_out = all(o == "another instance is sending" for o in run.lease_kept_out)
    return [
        ("no host stopped for good by the vendor-side outage",
         bool(outages) and resumed and shipped_after > 0 and count < 3,
         f"{len(outages)} outage days (500, 429): every host refused then sent again "
         f"{RETRY_TEXT}; {shipped_after} shipper batches stored after the last outage; "
         f"stored failure count {count}"),
        ("a host killed holding the lease delays the day, never doubles it",
         bool(holder) and kept_out and all(r.sent == 1 for r in holder),
         f"{len(holder)} kills; a simulated minute later the other hosts answered "
         f"{dict(Counter(run.lease_kept_out))}; after the lease expired, snapshots sent that "
         f"day: {[r.sent for r in holder]}"),
    ]  # fmt: skip


RETRY_TEXT = "20 simulated minutes later"


def check_logs(run: ChaosRun) -> list[Check]:
    logs = sorted(run.logs.glob("*.log"))
    bad = [log.name for log in logs if "Traceback" in log.read_text(errors="replace")]
    exits = {name: code for name, code in run.exits.items() if code != 0}
    return [
        ("no traceback in any log, clean exits",
         not bad and not exits,
         f"{len(logs)} logs read ({', '.join(log.name for log in logs)}); tracebacks in: "
         f"{bad or 'none'}; non-zero exits: {exits or 'none'}"),
    ]  # fmt: skip


def check_run(run: ChaosRun) -> list[Check]:
    began = time.monotonic()
    checks = [*check_snapshots(run), *check_events(run), *check_hosts(run), *check_logs(run)]
    faults = Counter(r.fault for r in run.results if r.fault)
    injected = ", ".join(f"{k} x{n}" for k, n in sorted(faults.items()))
    statuses = Counter(a.status for a in run.proxy.answers if a.request.method == "POST")
    answered = ", ".join(f"{code} x{n}" for code, n in sorted(statuses.items()))
    took = f"checked in {time.monotonic() - began:.1f} s"
    checks.append(
        ("faults injected", bool(faults), f"{injected}; POSTs answered: {answered}; {took}")
    )
    return checks
