"""End-to-end snapshot ingest of the receiver next to the crypto limit, in one run.

Usage: ``.venv/bin/python benchmarks/ingest.py [--reports 2000] [--slices 8] [--concurrency 16]
[--payload-kb 20] [--workers 1] [--no-postgres] [--no-sqlite]``

The crypto limit is the work no receiver can avoid (issue 14): per report, one
PBKDF2-HMAC-SHA512 of 10,000 rounds and one RSA-2048 OAEP unwrap of the JWE's encrypted key,
run in one thread per core (``cryptography`` releases the GIL), on the same keys and salts as
the bodies sent. Nothing else: no JWE parsing, no base64, no AES, no inflate, no JSON.

End to end, a real ``receiver serve`` process (SQLite, then PostgreSQL on a private cluster
that this script starts) receives ``--reports`` distinct snapshots (plus a warm-up) from a lean
client in this process: ``--concurrency`` keep-alive connections on raw asyncio streams (on
uvloop when installed, to take as little of the shared cores as it can), each writing
pre-built HTTP/1.1 requests and reading the answers. Every answer must be a 200 and
the store must hold every report afterwards (counted in the database), else the run fails.
The run is cut into ``--slices`` slices (8, of 250 reports), and the crypto limit is measured
(each time on a ninth of the bodies' keys and salts) before the first slice, between each two
and after the last, so that it follows the machine's speed, which drifts on a shared machine.
``ratio`` = all the reports / all the slices' time, over the limit taken the same way: all
its runs' reports / all their time (``ratio_to_mean_of_limit_rates`` divides by the mean of
the runs' rates instead, which a swinging machine lifts: a run at half speed takes twice as
long as one at full speed but weighs the same). A slice's own ratio is over the two limit runs
around it (their median is printed too, as ``ratio_median_of_slices``, but it leaves the
slowest slices out: the figure is ``ratio``).
Each slice opens its connections and ends
with a tail in which fewer reports are in flight than cores, which costs the end-to-end
figure about 1 %. ``cpu_ratio`` = CPU time a report of the crypto limit /
CPU time a report of the receiver process (all its threads; with ``--workers`` > 1 all its
processes; plus PostgreSQL's server processes
on PostgreSQL; ``cpu_ratio_receiver_only`` leaves PostgreSQL out, as with the database on
its own machine): what the throughput ratio would be on idle cores, and less swayed by other
work on the machine (a busy machine gives the receiver's 4+ threads a larger share of the cores
than the limit's 2, which flatters ``ratio``; the client's CPU, printed too, takes from
``ratio`` only). Prints JSON, then one line per backend with the load average.

Everything runs on this machine: the client (this process), the receiver and PostgreSQL share
the cores; the crypto limit runs when the receiver does not.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT / "src"), str(REPO_ROOT)]

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402

from telemetry_service.common import event_loops  # noqa: E402
from telemetry_service.receiver.keyfile import write_key_files  # noqa: E402
from telemetry_service.receiver.storage import open_report_store  # noqa: E402
from telemetry_service.receiver.storage.fold import FoldTask  # noqa: E402
from telemetry_service.wire import Encryptor, compact_json  # noqa: E402
from telemetry_service.wire.aes import SALT_BYTES, derive_key  # noqa: E402
from telemetry_service.wire.envelope import b64url_decode, unpack_body  # noqa: E402
from telemetry_service.wire.keys import load_keys  # noqa: E402

CHANNEL = "telemetry-service-snapshot"
WARM_UP = 40
#: The receiver's config for a run: the fold of the field aggregate waits for the end (every
#: 30 s by default, it would fall in some slices and not others; measured apart afterwards).
DEFERRED_FOLD = {"TELEMETRY_RECEIVER_STORE_FOLDINTERVAL": "86400"}
_OAEP = {
    alg: padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None)
    for alg, digest in (("RSA-OAEP", hashes.SHA1()), ("RSA-OAEP-256", hashes.SHA256()))
}


def snapshot(cluster: str, payload_bytes: int) -> dict[str, Any]:
    """A Kibana-shaped snapshot of about `payload_bytes` of JSON."""
    plugins = {
        f"plugin_{i}": {"count": i, "enabled": i % 2 == 0, "mode": f"m{i % 5}", "ratio": i / 7}
        for i in range(max(1, payload_bytes // 70))
    }
    return {
        "collectionSource": "local",
        "cacheDetails": {"updatedAt": "2026-03-15T11:00:00.000Z"},
        "timestamp": "2026-03-15T11:00:00.000Z",
        "cluster_uuid": cluster,
        "cluster_name": f"bench {cluster}",
        "version": "8.1.0",
        "collection": "local",
        "stack_stats": {"kibana": {"plugins": plugins}},
    }


def make_bodies(encryptor: Encryptor, clusters: list[str], payload_bytes: int) -> list[str]:
    """Real request-crypto bodies: a fresh passphrase, salt and IV each (as senders do)."""
    return [encryptor.encrypt(snapshot(c, payload_bytes)) for c in clusters]


Crypto = tuple[bytes, Any, bytes]


def crypto_inputs(body: str) -> Crypto:
    """(RSA-encrypted key, its OAEP padding, PBKDF2 salt) of a body: what the limit works on."""
    encrypted_key, payload = unpack_body(body)
    header = json.loads(b64url_decode(encrypted_key.split(".")[0]))
    raw = base64.b64decode(payload)
    return b64url_decode(encrypted_key.split(".")[1]), _OAEP[header["alg"]], raw[:SALT_BYTES]


class LimitRun(NamedTuple):
    """One measurement of the crypto limit: how many reports, in how long, for how much CPU."""

    reports: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.reports / self.seconds


def crypto_limit(private_key: Any, inputs: list[Crypto], threads: int) -> LimitRun:
    """One RSA-OAEP unwrap + one PBKDF2 a report, in `threads` threads."""

    def one(item: Crypto) -> None:
        passphrase = private_key.decrypt(item[0], item[1])
        derive_key(passphrase, item[2])

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, inputs))
    return LimitRun(len(inputs), time.perf_counter() - started, time.process_time() - cpu)


def request_bytes(host: str, cluster: str, body: str) -> bytes:
    data = body.encode()
    head = (
        f"POST /v3/send/{CHANNEL} HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/json\r\nX-Elastic-Stack-Version: 8.1.0\r\n"
        f"X-Elastic-Cluster-ID: {cluster}\r\nX-Elastic-Content-Encoding: aes256gcm\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


async def read_answer(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """An HTTP/1.1 answer with a Content-Length: (status line, body)."""
    status = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def post_all(host: str, port: int, requests: list[bytes], concurrency: int) -> float:
    """Send every request on `concurrency` keep-alive connections; every answer must be 200."""
    pending = list(reversed(requests))
    statuses: list[bytes] = []

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while pending:
                writer.write(pending.pop())
                status, _ = await read_answer(reader)
                statuses.append(status.split(b" ", 2)[1])
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    refused = [s for s in statuses if s != b"200"]
    if refused or len(statuses) != len(requests):
        raise RuntimeError(f"{len(refused)} answers were not 200 ({sorted(set(refused))})")
    return seconds


def interpreter() -> dict[str, str]:
    """The Python that runs the client and the receiver: its version, its executable, and
    whether its interpreter is a shared libpython (pyenv's default build, without PGO or LTO:
    the receiver's Python work runs slower on it than on a distribution's static build;
    docs/benchmarks.md, "Ingest")."""
    maps = Path("/proc/self/maps").read_text()
    return {
        "version": platform.python_version(),
        "executable": os.path.realpath(sys.executable),
        "libpython": "shared" if "libpython" in maps else "static (in the executable)",
    }


def proc_stat() -> list[int]:
    """The machine's CPU ticks since boot: user, nice, system, idle, iowait, irq, softirq, steal."""
    return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def busy_fraction(before: list[int], after: list[int]) -> float:
    """The share of the machine's cores busy between two :func:`proc_stat` readings."""
    delta = [a - b for a, b in zip(after, before, strict=True)]
    total = sum(delta)
    return (total - delta[3] - delta[4]) / total if total else 0.0


def cpu_seconds(stat: Path) -> float:
    """User + system CPU seconds in a /proc ``stat`` file."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int) -> float:
    """CPU seconds of process `root` and its children, those that ended too (PostgreSQL's
    postmaster and backends, or a receiver's supervisor and worker processes)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone
            continue
        if stat.parent.name == str(root):  # itself and its reaped children (cutime, cstime)
            total += sum(int(v) for v in fields[11:15])
        elif fields[1] == str(root):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def receiver_cpu(pid: int, workers: int) -> tuple[float, float]:
    """CPU seconds of the receiver: (the event loop's thread, all its other threads); with
    `workers` > 1, (0, all its processes: the supervisor and its worker processes)."""
    if workers > 1:
        return 0.0, tree_cpu(pid)
    total = cpu_seconds(Path(f"/proc/{pid}/stat"))
    loop = cpu_seconds(Path(f"/proc/{pid}/task/{pid}/stat"))
    return loop, total - loop


@contextmanager
def receiver(private: Path, store: str, workdir: Path, workers: int = 1) -> Iterator[str]:
    """A `receiver serve` process; yields its URL."""
    with receiver_process(private, store, workdir, workers) as (host, port, _):
        yield f"http://{host}:{port}"


@contextmanager
def receiver_process(
    private: Path,
    store: str,
    workdir: Path,
    workers: int,
    config: dict[str, str] | None = None,
    src: Path = REPO_ROOT / "src",
) -> Iterator[tuple[str, int, int]]:
    """A `receiver serve` process (`config`: ``TELEMETRY_RECEIVER_*`` variables) of the
    package in `src` (this checkout's by default); yields (host, port, pid)."""
    command = [sys.executable, "-m", "telemetry_service.cli.main", "receiver", "serve"]
    command += ["--keys", str(private), "--store", store, "--port", "0"]
    command += ["--workers", str(workers)] if workers > 1 else []
    env = {**os.environ, "PYTHONPATH": str(src), **(config or {})}
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=workdir
    )
    assert proc.stdout is not None
    match = None
    for _ in range(100):
        line = proc.stdout.readline()
        match = re.search(r"listening on http://([\d.]+):(\d+)", line)
        if match or not line:
            break
    if match is None:
        proc.kill()
        raise RuntimeError("the receiver did not start")
    try:
        yield match.group(1), int(match.group(2)), proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def end_to_end(
    private: Path,
    store: str,
    count_reports: Any,
    requests: list[bytes],
    args: argparse.Namespace,
    workdir: Path,
    limit: Any,
    database_pid: int | None = None,
) -> dict[str, Any]:
    """One backend's run: ``--slices`` slices of the reports, the crypto limit (`limit(k)`)
    measured before the first, between each two and after the last."""
    warm, measured = requests[:WARM_UP], requests[WARM_UP:]
    size = -(-len(measured) // args.slices)
    chunks = [measured[i : i + size] for i in range(0, len(measured), size)]
    limits = [limit(0)]
    slice_seconds: list[float] = []
    busy: list[float] = []
    loop_cpu = other_cpu = client_cpu = database_cpu = 0.0
    # The fold waits for the end (DEFERRED_FOLD), then `measure_fold` measures it.
    with receiver_process(private, store, workdir, args.workers, DEFERRED_FOLD) as server:
        host, port, pid = server
        event_loops.run(post_all(host, port, warm, args.concurrency), "auto")
        load = os.getloadavg()[0]
        # The receiver's and PostgreSQL's CPU from the first slice's start to the last one's
        # end, the limits between slices included (they idle then, but what they do in the
        # background, a fold or autovacuum, counts); the client's in the slices only.
        database_before = tree_cpu(database_pid) if database_pid else 0.0
        cpu_before = receiver_cpu(pid, args.workers)
        for k, chunk in enumerate(chunks):
            client_before = time.process_time()
            stat_before = proc_stat()
            seconds = event_loops.run(post_all(host, port, chunk, args.concurrency), "auto")
            client_cpu += time.process_time() - client_before
            busy.append(busy_fraction(stat_before, proc_stat()))
            slice_seconds.append(seconds)
            if k == len(chunks) - 1:
                cpu_after = receiver_cpu(pid, args.workers)
                loop_cpu, other_cpu = (a - b for a, b in zip(cpu_after, cpu_before, strict=True))
                if database_pid:
                    database_cpu = tree_cpu(database_pid) - database_before
            limits.append(limit(k + 1))

    def per_report(seconds: float) -> float:
        return round(seconds * 1000 / len(measured), 2)

    rates = [len(c) / s for c, s in zip(chunks, slice_seconds, strict=True)]
    limit_rates = [run.rate for run in limits]
    ratios = [rate / aggregate(limits[k : k + 2]) for k, rate in enumerate(rates)]
    # All the limit's reports / all its time, as the end-to-end figure is taken: the mean of
    # the runs' rates would weigh a fast run as much as a slow one, which takes longer.
    crypto = aggregate(limits)
    crypto_cpu = sum(run.cpu_seconds for run in limits) * 1000 / sum(run.reports for run in limits)
    cpu_total = (loop_cpu + other_cpu + database_cpu) * 1000 / len(measured)
    stored = count_reports()
    if stored != len(requests):
        raise RuntimeError(f"the store holds {stored} reports; {len(requests)} were answered 200")
    seconds = sum(slice_seconds)
    fold = measure_fold(store, database_pid)
    # A receiver folds what is pending when it starts: with server.workers > 1, a worker that
    # starts after the warm-up was stored may count it, so the fold here may count only the
    # measured reports.
    fewest = len(requests) if args.workers == 1 else len(measured)
    left = event_loops.run(fold_all(store), "auto")  # nothing may be left pending
    if not fewest <= fold["snapshots"] <= len(requests) or left:
        raise RuntimeError(
            f"the fold counted {fold['snapshots']} of {len(requests)} snapshots "
            f"({left} left pending afterwards)"
        )
    fold_s = fold["seconds"] / fold["snapshots"] * len(measured)
    fold_cpu = fold["cpu_ms_per_snapshot"]
    return {
        "reports": len(measured),
        "seconds": round(seconds, 3),
        "reports_per_s": round(len(measured) / seconds, 1),
        "stored_afterwards": stored,
        "cpu_ms_per_report": {
            "receiver_event_loop_thread": per_report(loop_cpu),
            "receiver_other_threads": per_report(other_cpu),
            "client": per_report(client_cpu),
        }
        if args.workers == 1
        else {"receiver_processes": per_report(other_cpu), "client": per_report(client_cpu)},
        "postgresql_server_cpu_ms_per_report": per_report(database_cpu) if database_pid else None,
        "load_1m_before": round(load, 2),
        "slices": [
            {"reports_per_s": round(rate, 1), "ratio": round(ratio, 3)}
            for rate, ratio in zip(rates, ratios, strict=True)
        ],
        "cores_busy_in_slices": round(statistics.mean(busy), 3),
        "crypto_limits": [round(rate, 1) for rate in limit_rates],
        "crypto_limit": round(crypto, 1),
        "ratio": round(len(measured) / seconds / crypto, 3),
        "ratio_to_mean_of_limit_rates": round(
            len(measured) / seconds / statistics.mean(limit_rates), 3
        ),
        "ratio_median_of_slices": round(statistics.median(ratios), 3),
        "crypto_cpu_ms_per_report": round(crypto_cpu, 2),
        "fold": fold,
        "ratio_with_fold": round(len(measured) / (seconds + fold_s) / crypto, 3),
        "cpu_ratio_with_fold": round(crypto_cpu / (cpu_total + fold_cpu), 3),
        "cpu_ratio": round(crypto_cpu / cpu_total, 3),
        # The receiver's own threads only: as with its database on another machine.
        "cpu_ratio_receiver_only": round(
            crypto_cpu * len(measured) / 1000 / (loop_cpu + other_cpu), 3
        ),
    }


def aggregate(runs: list[LimitRun]) -> float:
    """Reports/s over `runs` together: all their reports / all their time."""
    return sum(run.reports for run in runs) / sum(run.seconds for run in runs)


async def fold_all(url: str) -> int:
    """Fold every pending snapshot as the receiver's fold task does (its default batches)."""
    store = open_report_store(url)
    await store.open()
    try:
        return await FoldTask(store).fold()
    finally:
        await store.close()


def measure_fold(url: str, database_pid: int | None) -> dict[str, Any]:
    """The deferred part of storing snapshots: counting them into the field aggregate, in this
    process, once the receiver has stopped (its wall time, and its CPU with PostgreSQL's)."""
    database_before = tree_cpu(database_pid) if database_pid else 0.0
    started, cpu = time.perf_counter(), time.process_time()
    folded = event_loops.run(fold_all(url), "auto")
    seconds = time.perf_counter() - started
    cpu_s = time.process_time() - cpu
    cpu_s += tree_cpu(database_pid) - database_before if database_pid else 0.0
    return {
        "snapshots": folded,
        "seconds": round(seconds, 3),
        "snapshots_per_s": round(folded / seconds, 1) if seconds else None,
        "cpu_ms_per_snapshot": round(cpu_s * 1000 / folded, 2) if folded else 0.0,
    }


def sqlite_count(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM reports").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--payload-kb", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="receiver server.workers")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument(
        "--slices", type=int, default=8, help="slices of the run, the limit measured around each"
    )
    args = parser.parse_args()
    threads = os.cpu_count() or 2
    payload_bytes = args.payload_kb * 1024

    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        workdir = Path(tmp)
        files = write_key_files(workdir / "keys", "bench")
        encryptor = Encryptor(json.loads(files.public.read_text()), kid="bench")
        private_key = load_keys(json.loads(files.private.read_text()), private=True)["bench"]
        rsa = private_key.key.private_key
        backends = ([] if args.no_sqlite else ["sqlite"]) + (
            [] if args.no_postgres else ["postgresql"]
        )
        if not backends:
            parser.error("--no-sqlite and --no-postgres leave no backend to run")
        total = WARM_UP + args.reports
        clusters = {b: [f"{b}-{i:06d}" for i in range(total)] for b in backends}
        bodies = {b: make_bodies(encryptor, names, payload_bytes) for b, names in clusters.items()}
        requests = {
            b: [
                request_bytes("127.0.0.1", c, body)
                for c, body in zip(clusters[b], bodies[b], strict=True)
            ]
            for b in backends
        }
        inputs = [crypto_inputs(body) for body in bodies[backends[0]][WARM_UP:]]
        load_start = os.getloadavg()
        crypto_one = crypto_limit(rsa, inputs[: max(50, len(inputs) // 4)], 1).rate

        parts = args.slices + 1

        def limit(part: int) -> LimitRun:
            return crypto_limit(rsa, inputs[part::parts], threads)

        results: dict[str, Any] = {}
        db = workdir / "receiver.db"
        if "sqlite" in backends:
            results["sqlite"] = end_to_end(
                files.private, f"sqlite:///{db}", lambda: sqlite_count(db), requests["sqlite"],
                args, workdir, limit,
            )  # fmt: skip
        if "postgresql" in backends:
            import psycopg
            from tests.support.postgres import (
                PostgresUnavailable,
                create_database,
                postmaster_pid,
                private_cluster,
            )

            try:
                with private_cluster() as base_url:
                    pg_url = create_database(base_url, "ingest_bench")
                    postmaster = postmaster_pid(base_url)

                    def pg_count() -> int:
                        with psycopg.connect(pg_url) as conn:
                            row = conn.execute("SELECT count(*) FROM reports").fetchone()
                            return int(row[0]) if row else 0

                    results["postgresql"] = end_to_end(
                        files.private, pg_url, pg_count,
                        requests["postgresql"], args, workdir, limit, postmaster,
                    )  # fmt: skip
            except PostgresUnavailable as exc:
                results["postgresql"] = {"skipped": str(exc)}
        summary = {
            "benchmark": "receiver snapshot ingest end to end vs the crypto limit",
            "where": (
                f"all on this machine ({threads} cores): the client (this process, asyncio "
                f"streams, {args.concurrency} keep-alive connections, pre-built requests), "
                f"one `receiver serve` process with server.workers={args.workers}, and "
                "PostgreSQL's private cluster; the crypto limit runs in this process, "
                f"before, between and after the {args.slices} slices of each backend's run "
                "(ratio: all reports / all the slices' time, over all the limit's runs' reports / "
                "all their time)"
            ),
            "machine": {"cpus": threads, "python": interpreter()},
            "load_average_at_start": [round(x, 2) for x in load_start],
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "payload_bytes": len(compact_json(snapshot("sqlite-000000", payload_bytes))),
            "body_bytes": len(bodies[backends[0]][0]),
            "reports": args.reports,
            "crypto_limit_reports_per_s": {
                "definition": "PBKDF2-HMAC-SHA512 10,000 rounds + RSA-2048 OAEP unwrap",
                "one_thread": round(crypto_one, 1),
                "all_threads": f"{threads}, measured around each slice of each backend's run",
            },
            "end_to_end": results,
        }
        print(json.dumps(summary, indent=2))
        for backend, result in results.items():
            if "ratio" in result:
                print(
                    f"{backend}: {result['reports_per_s']}/s vs limit {result['crypto_limit']}/s "
                    f"= {result['ratio']:.3f}; CPU a report, crypto / receiver"
                    f"{' + PostgreSQL' if backend == 'postgresql' else ''}: "
                    f"{result['cpu_ratio']} (load {result['load_1m_before']}; slices "
                    f"{', '.join(str(x['ratio']) for x in result['slices'])})"
                )
                print(
                    f"  with the fold of its field aggregate (deferred, then "
                    f"{result['fold']['snapshots_per_s']}/s, "
                    f"{result['fold']['cpu_ms_per_snapshot']} ms CPU a snapshot): "
                    f"{result['ratio_with_fold']:.3f}; CPU {result['cpu_ratio_with_fold']}"
                )


if __name__ == "__main__":
    main()
