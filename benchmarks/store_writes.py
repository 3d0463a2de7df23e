"""The report store's write path alone: CPU a report of ``ReportStore.add`` for 23 KB
snapshots, then of the fold that counts them into the field aggregate, on SQLite and
PostgreSQL, two versions of the code side by side.

Usage: ``.venv/bin/python benchmarks/store_writes.py [--reports 2000] [--concurrency 16]
[--payload-kb 20] [--shape kibana|wide] [--compare main] [--runs 3] [--no-postgres]``

Each run adds ``--reports`` snapshots of distinct clusters (``benchmarks/ingest.py``'s
``snapshot()``; no crypto, no HTTP) through ``ReportStore.add`` after a warm-up of 64, from
``--concurrency`` coroutines that each await their report before adding the next (the writer
thread commits what waits together in one transaction, like the ingest route's), to a fresh
SQLite file or a fresh database of a private PostgreSQL cluster that this script starts (on
disk, ``fsync`` off like the tests'). It prints, per report: the CPU of the store's writer
thread (``sqlite3`` or psycopg included; ``/proc/self/task``), on PostgreSQL the CPU of all
the server's processes (``/proc``, as ``ingest.py`` reads it), the wall time, and the mean
batch size, with the 1-minute load average before the run.

Then the receiver's fold (``FoldTask.fold``, default batches) counts every stored snapshot into
``field_days``: its CPU a snapshot (this whole process: the fold counts in a reader thread and
writes in the writer thread, or on PostgreSQL a pooled connection), PostgreSQL's and its wall
time. Then a quarter as many snapshots again are stored and folded while a report is added
every 10 ms: how long those waited for their commit (the median and the most), as a fold's
write transaction can hold the single writer. ``--shape wide`` stores snapshots of 5,000
distinct numbers each instead of ``ingest.py``'s (whose cells repeat from one snapshot to the
next), the worst case of a batch's write.

``--compare REV`` runs the ``src/`` of git revision REV (``git archive``) and this tree's
``src/`` alternately (each first in turn), ``--runs`` times each, every run in its own child
process, and prints the medians side by side with their ratio. Everything runs on this
machine: the store's process and PostgreSQL share its cores with whatever else runs.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from functools import partial
from io import BytesIO
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
WARM_UP = 64
FIGURES = (
    "writer_cpu_ms",
    "postgresql_cpu_ms",
    "wall_ms",
    "fold_cpu_ms",
    "fold_postgresql_cpu_ms",
    "fold_wall_ms",
    "commit_during_fold_median_ms",
    "commit_during_fold_max_ms",
)


def wide(cluster: str, i: int) -> dict[str, Any]:
    """A snapshot of 5,000 numbers that no other snapshot holds."""
    stats = {f"f{k}": i * 100_000 + k for k in range(5000)}
    return {"cluster_uuid": cluster, "timestamp": "2026-03-15T11:00:00.000Z", "version": "8.1.0",
            "stack_stats": stats}  # fmt: skip


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """One run in this (child) process, on the code that PYTHONPATH names."""
    from telemetry_service.common.clock import to_ms, utc_now
    from telemetry_service.receiver.storage import NewReport, open_report_store
    from telemetry_service.receiver.storage.fold import FoldTask
    from telemetry_service.wire import compact_json

    sys.path.insert(1, str(REPO_ROOT))  # after the code under test: ingest.py's helpers only
    from benchmarks.ingest import cpu_seconds, snapshot, tree_cpu

    now = to_ms(utc_now())
    payload_bytes = args.payload_kb * 1024

    def new_report(i: int) -> NewReport:
        cluster = f"cluster-{i:06d}"
        payload = wide(cluster, i) if args.shape == "wide" else snapshot(cluster, payload_bytes)
        text = compact_json(payload).decode()
        return NewReport(
            id=uuid.uuid4().hex, channel="telemetry-service-snapshot", kind="snapshot",
            cluster_uuid=cluster, cluster_name=f"bench {cluster}", version="8.1.0",
            stack_version="8.1.0", received_ms=now, report_ms=now - i, opt_in_status=None,
            payload_text=text, digest=uuid.uuid4().hex, kid="bench", query_text=text,
        )  # fmt: skip

    reports = [new_report(i) for i in range(WARM_UP + args.reports)]
    store = open_report_store(args.url)
    await store.open()
    try:
        writer = next(t for t in threading.enumerate() if t.name == f"{store.backend}-writer")
        stat = Path(f"/proc/self/task/{writer.native_id}/stat")

        async def add_all(todo: list[NewReport]) -> None:
            pending = list(reversed(todo))

            async def one_by_one() -> None:
                while pending:
                    await store.add(pending.pop())

            await asyncio.gather(*(one_by_one() for _ in range(args.concurrency)))

        await add_all(reports[:WARM_UP])
        batches = store._writer.batches
        load = os.getloadavg()[0]
        cpu, server = cpu_seconds(stat), tree_cpu(args.postmaster) if args.postmaster else 0.0
        started = time.perf_counter()
        await add_all(reports[WARM_UP:])
        wall = time.perf_counter() - started
        cpu = cpu_seconds(stat) - cpu
        server = tree_cpu(args.postmaster) - server if args.postmaster else 0.0
        batches = store._writer.batches - batches
        stored = await store.count_reports()
        if stored != len(reports):
            raise RuntimeError(f"the store holds {stored} reports, {len(reports)} were added")

        fold_cpu = time.process_time()
        fold_server = tree_cpu(args.postmaster) if args.postmaster else 0.0
        started = time.perf_counter()
        folded = await FoldTask(store).fold()
        fold_wall = time.perf_counter() - started
        fold_cpu = time.process_time() - fold_cpu
        fold_server = tree_cpu(args.postmaster) - fold_server if args.postmaster else 0.0
        if folded != len(reports):
            raise RuntimeError(f"the fold counted {folded} of {len(reports)} snapshots")

        # Then a commit's wait during a fold: a quarter as many snapshots again, folded while
        # a report is added every 10 ms (as senders do meanwhile).
        more = [new_report(i) for i in range(len(reports), len(reports) + len(reports) // 4)]
        await add_all(more)
        waits: list[float] = []
        folding = True

        async def probe() -> None:
            for i in itertools.count(len(reports) + len(more)):
                if not folding:
                    return
                began = time.perf_counter()
                await store.add(new_report(i))
                waits.append(time.perf_counter() - began)
                await asyncio.sleep(0.01)

        prober = asyncio.create_task(probe())
        try:
            await FoldTask(store).fold()
        finally:
            folding = False
            await prober
    finally:
        await store.close()
    per = 1000 / args.reports
    fold_per = 1000 / folded
    return {
        "writer_cpu_ms": round(cpu * per, 3),
        "postgresql_cpu_ms": round(server * per, 3) if args.postmaster else None,
        "wall_ms": round(wall * per, 3),
        "mean_batch": round(args.reports / batches, 1),
        "fold_cpu_ms": round(fold_cpu * fold_per, 3),
        "fold_postgresql_cpu_ms": round(fold_server * fold_per, 3) if args.postmaster else None,
        "fold_wall_ms": round(fold_wall * fold_per, 3),
        "commit_during_fold_median_ms": round(statistics.median(waits) * 1000, 1),
        "commit_during_fold_max_ms": round(max(waits) * 1000, 1),
        "load_1m": round(load, 2),
    }


def export_src(rev: str, into: Path) -> Path:
    """The ``src/`` of git revision `rev`, extracted under `into`."""
    archive = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", rev, "src"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def child(src: Path, url: str, postmaster: int | None, args: argparse.Namespace) -> Any:
    command = [sys.executable, __file__, "--child", url, "--reports", str(args.reports)]
    command += ["--concurrency", str(args.concurrency), "--payload-kb", str(args.payload_kb)]
    command += ["--shape", args.shape]
    command += ["--postmaster", str(postmaster)] if postmaster else []
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip()[-2000:])
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--payload-kb", type=int, default=20)
    parser.add_argument("--shape", choices=("kibana", "wide"), default="kibana")
    parser.add_argument("--compare", metavar="REV", help="also run git revision REV's src/")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--postmaster", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.url = args.child
        print(json.dumps(asyncio.run(measure(args))))
        return
    sys.path[:0] = [str(REPO_ROOT / "src"), str(REPO_ROOT)]
    from tests.support.postgres import create_database, postmaster_pid, private_cluster

    with tempfile.TemporaryDirectory(prefix="store-writes-") as tmp:
        work = Path(tmp)
        codes = {"this tree": REPO_ROOT / "src"}
        if args.compare:
            codes = {args.compare: export_src(args.compare, work / "before"), **codes}
        results: dict[str, dict[str, list[dict[str, Any]]]] = {}
        fresh = itertools.count()  # a new database each run

        def run_all(backend: str, url: Any, postmaster: int | None) -> None:
            for run in range(args.runs):
                order = list(codes.items())  # each code first in turn: no order effect
                for name, src in order[run % 2 :] + order[: run % 2]:
                    result = child(src, url(f"{backend}_{next(fresh)}"), postmaster, args)
                    results.setdefault(backend, {}).setdefault(name, []).append(result)
                    print(f"{backend} {name} run {run + 1}: {json.dumps(result)}", flush=True)

        run_all("sqlite", lambda name: f"sqlite:///{work / name}.db", None)
        if not args.no_postgres:
            with private_cluster() as base:
                run_all("postgresql", partial(create_database, base), postmaster_pid(base))
    shape = "5,000 distinct numbers" if args.shape == "wide" else f"{args.payload_kb} KiB"
    print(f"\nmedians of {args.runs} run(s), {args.reports} snapshots of {shape}:")
    for backend, by_code in results.items():
        for figure in FIGURES:
            medians = {
                name: statistics.median(r[figure] for r in runs)
                for name, runs in by_code.items()
                if runs[0][figure] is not None
            }
            if medians:
                cells = ", ".join(f"{name} {value:.3f}" for name, value in medians.items())
                ratio = ""
                if len(medians) == 2:
                    before, after = medians.values()
                    ratio = f" (after / before {after / before:.2f})"
                print(f"{backend} {figure}: {cells}{ratio}")
        loads = [r["load_1m"] for runs in by_code.values() for r in runs]
        print(f"{backend} load average (1 min) before the runs: {min(loads)}-{max(loads)}")


if __name__ == "__main__":
    main()
