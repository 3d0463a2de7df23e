"""Two receivers' snapshot ingest side by side, in one run: did a change make it faster?

Usage: ``.venv/bin/python benchmarks/ingest_ab.py OTHER [--backend sqlite|postgresql]
[--reports 2000] [--slices 8] [--concurrency 16] [--payload-kb 20] [--env-a NAME=VALUE ...]
[--env-b NAME=VALUE ...]``

A is this checkout's receiver; B is the receiver in the checkout OTHER (its ``src`` runs: a
worktree of the commit to compare with, ``git worktree add /tmp/base <commit>``), or this one
again with OTHER ``.`` (then ``--env-b`` compares a setting, a ``TELEMETRY_RECEIVER_*``
variable; with neither, the run measures the method's own noise). Both are ``receiver
serve`` processes, on SQLite (a file each) or on one private PostgreSQL cluster that the
script starts (a database each; the cluster's CPU is not counted), started together on the
same keys, and sent the same pre-built bodies (distinct snapshots) by :mod:`ingest`'s lean
client on ``--concurrency`` keep-alive connections. The run is cut into ``--slices`` slices,
each sent to A then B, or B then A (alternately): the machine's drift, which moves two runs
of ``ingest.py`` minutes apart by more than a change of a few per cent, falls on both alike.

Prints JSON: for each side, reports/s over its slices, the receiver's CPU milliseconds a
report (all its threads) and its context switches a report (voluntary: a thread waited, for
the GIL, a queue or the network; involuntary: it was preempted), then B / A of the rate and
of the CPU. Everything runs on this machine; the two receivers are idle in turn.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ingest import (
    DEFERRED_FOLD,
    REPO_ROOT,
    WARM_UP,
    Encryptor,
    event_loops,
    interpreter,
    make_bodies,
    post_all,
    receiver_cpu,
    receiver_process,
    request_bytes,
    write_key_files,
)

_SWITCHES = re.compile(rb"^(voluntary|nonvoluntary)_ctxt_switches:\s+(\d+)$", re.MULTILINE)


def context_switches(pid: int) -> tuple[int, int]:
    """(voluntary, involuntary) context switches of the threads of `pid` alive now."""
    counts = {b"voluntary": 0, b"nonvoluntary": 0}
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            text = status.read_bytes()
        except OSError:  # the thread ended
            continue
        for kind, count in _SWITCHES.findall(text):
            counts[kind] += int(count)
    return counts[b"voluntary"], counts[b"nonvoluntary"]


def settings(pairs: list[str], flag: str, parser: argparse.ArgumentParser) -> dict[str, str]:
    for pair in pairs:
        if "=" not in pair:
            parser.error(f"{flag} takes NAME=VALUE, not {pair!r}")
    return dict(pair.split("=", 1) for pair in pairs)


def postgres_stores(stack: ExitStack) -> Callable[[str], str]:
    """Start a private PostgreSQL cluster for the run; answer a function that creates a
    database and gives its URL."""
    from tests.support.postgres import create_database, private_cluster  # on sys.path: ingest

    base_url = stack.enter_context(private_cluster())
    return lambda name: create_database(base_url, f"ingest_ab_{name.lower()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("other", type=Path, help="the checkout of receiver B ('.': this one)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--slices", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--payload-kb", type=int, default=20)
    parser.add_argument("--env-a", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--env-b", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    other_src = (args.other if args.other.is_absolute() else Path.cwd() / args.other) / "src"
    if not (other_src / "telemetry_service").is_dir():
        parser.error(f"{args.other} holds no src/telemetry_service")
    if args.reports < args.slices or args.slices < 2:
        parser.error("--slices must be 2 or more, and at most --reports")
    sides = {
        "A": (REPO_ROOT / "src", {**DEFERRED_FOLD, **settings(args.env_a, "--env-a", parser)}),
        "B": (other_src.resolve(), {**DEFERRED_FOLD, **settings(args.env_b, "--env-b", parser)}),
    }

    with tempfile.TemporaryDirectory(prefix="ingest-ab-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        files = write_key_files(workdir / "keys", "bench")
        encryptor = Encryptor(json.loads(files.public.read_text()), kid="bench")
        clusters = [f"ab-{i:06d}" for i in range(WARM_UP + args.reports)]
        bodies = make_bodies(encryptor, clusters, args.payload_kb * 1024)
        requests = [request_bytes("127.0.0.1", c, b) for c, b in zip(clusters, bodies, strict=True)]
        warm, measured = requests[:WARM_UP], requests[WARM_UP:]
        size = len(measured) // args.slices
        postgres = postgres_stores(stack) if args.backend == "postgresql" else None
        servers: dict[str, tuple[str, int, int]] = {}
        for name, (src, config) in sides.items():
            side_dir = workdir / name
            side_dir.mkdir()
            store = postgres(name) if postgres else f"sqlite:///{side_dir / 'receiver.db'}"
            server = stack.enter_context(
                receiver_process(files.private, store, side_dir, 1, config, src)
            )
            event_loops.run(post_all(server[0], server[1], warm, args.concurrency), "auto")
            servers[name] = server
        totals = {
            name: {"seconds": 0.0, "cpu": 0.0, "voluntary": 0, "involuntary": 0} for name in sides
        }
        for k in range(args.slices):
            chunk = measured[k * size : (k + 1) * size]
            for name in ("A", "B") if k % 2 == 0 else ("B", "A"):
                host, port, pid = servers[name]
                cpu_before, switches_before = sum(receiver_cpu(pid, 1)), context_switches(pid)
                seconds = event_loops.run(post_all(host, port, chunk, args.concurrency), "auto")
                cpu_after, switches_after = sum(receiver_cpu(pid, 1)), context_switches(pid)
                total = totals[name]
                total["seconds"] += seconds
                total["cpu"] += cpu_after - cpu_before
                total["voluntary"] += switches_after[0] - switches_before[0]
                total["involuntary"] += switches_after[1] - switches_before[1]

    reports = size * args.slices
    result: dict[str, Any] = {
        "benchmark": "two receivers' snapshot ingest, slices alternating between them",
        "backend": args.backend,
        "machine": {"cpus": os.cpu_count(), "python": interpreter()},
        "reports_each": reports,
        "slices": args.slices,
    }
    for name, (src, config) in sides.items():
        total = totals[name]
        result[name] = {
            "src": str(src),
            "settings": {k: v for k, v in config.items() if k not in DEFERRED_FOLD},
            "reports_per_s": round(reports / total["seconds"], 1),
            "cpu_ms_per_report": round(total["cpu"] * 1000 / reports, 3),
            "context_switches_per_report": {
                "voluntary": round(total["voluntary"] / reports, 2),
                "involuntary": round(total["involuntary"] / reports, 2),
            },
        }
    a, b = totals["A"], totals["B"]
    result["b_over_a"] = {
        "reports_per_s": round(a["seconds"] / b["seconds"], 3),
        "cpu_per_report": round(b["cpu"] / a["cpu"], 3),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
