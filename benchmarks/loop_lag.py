"""How long the host's event loop is blocked while it does its heaviest work; prints JSON.

A probe task sleeps 5 ms in a loop and records how late each wake-up is (its overshoot); the
worst overshoot is the longest the loop was blocked (goal: under 50 ms). Three cases, each in a
real platform (SQLite store in a temporary folder, the telemetry plugins, no background loops):

- ``snapshot``: ``send_now(force=True)`` builds a ~5 MB snapshot (one usage collector returns
  it: schema pruning, the collection manager's shaping), encrypts it and sends it to a local
  ``CaptureServer``;
- ``counters_flush``: ``flush()`` writes 10,000 buffered usage counters (the buffer's limit) to
  the store;
- ``fetcher``: the fetcher's ticks (connectivity check, the due snapshot, its bookkeeping) until
  the first snapshot is sent, with a simulated clock.

Each case runs `--runs` times (default 3); the JSON holds every run's worst overshoot, their
median and their worst (``worst_ms_max``: the goal is about that one), with the machine's load
average (the machine is shared). Right before every run the probe also runs alone for
`IDLE_S` (its ``idle_ms``): the overshoot that the machine's other work causes at that moment,
seen beside the run's; and an ``idle`` case of one second comes first.

Diagnosis: ``--watchdog`` adds, per case, the stacks a sampling thread saw while the loop was
late (`loop_watchdog.py`); ``--debug`` runs the loop in asyncio's debug mode, which logs every
callback or task step over 20 ms to stderr. Both slow the host down: never record figures with
them.

Run: ``.venv/bin/python benchmarks/loop_lag.py [--runs 3] [--watchdog] [--debug]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT / "src"), str(REPO_ROOT)]

from benchmarks.loop_watchdog import Watchdog  # noqa: E402
from tests.plugins.telemetry.sim import (  # noqa: E402
    Instance,
    SimClock,
    simulate,
    telemetry_config,
)

from telemetry_service.core import CoreSetup, Platform, Plugin, PluginContracts  # noqa: E402
from telemetry_service.plugins.telemetry import TelemetryPlugin  # noqa: E402
from telemetry_service.plugins.telemetry_collection_manager import (  # noqa: E402
    TelemetryCollectionManagerPlugin,
)
from telemetry_service.plugins.usage_collection import UsageCollectionPlugin  # noqa: E402
from telemetry_service.plugins.usage_collection.collector import (  # noqa: E402
    CollectorFetchContext,
)
from telemetry_service.plugins.usage_collection.contracts import (  # noqa: E402
    UsageCollectionSetup,
)
from telemetry_service.testing import CaptureServer, FakeSleep  # noqa: E402
from telemetry_service.wire import Decryptor, generate_key_pair  # noqa: E402

PROBE_S = 0.005
IDLE_S = 0.5
GOAL_MS = 50.0
SNAPSHOT_BYTES = 5_000_000
COUNTERS = 10_000
ITEM_SCHEMA = {
    "type": {"type": "keyword"},
    "enabled": {"type": "boolean"},
    "count": {"type": "long"},
    "avg_duration_ms": {"type": "float"},
    "saved_objects": {
        "dashboard": {"type": "long"},
        "lens": {"type": "long"},
        "map": {"type": "long"},
    },
    "labels": {"type": "array", "items": {"type": "keyword"}},
}
SCHEMA = {"plugins": {"type": "array", "items": ITEM_SCHEMA}}


WATCHDOG: Watchdog | None = None
"""With ``--watchdog``: the current case's, which every probe of the case (not idle) runs."""


class LagProbe:
    """Sleeps `PROBE_S` in a loop while running; `worst_ms` is the largest overshoot."""

    def __init__(self) -> None:
        self.worst_ms = 0.0
        self.wakeups = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(PROBE_S)
            overshoot = (time.perf_counter() - started - PROBE_S) * 1000
            self.worst_ms = max(self.worst_ms, overshoot)
            self.wakeups += 1

    async def during(self, work: Awaitable[object]) -> float:
        """Await `work` with the probe running; return the worst overshoot in ms."""
        self._task = asyncio.create_task(self._run())
        if WATCHDOG is not None:
            WATCHDOG.start()
        await asyncio.sleep(0)  # the probe is waiting before the work starts
        try:
            await work
        finally:
            self._task.cancel()
            if WATCHDOG is not None:
                WATCHDOG.stop()
        return round(self.worst_ms, 1)


def big_usage(target_bytes: int) -> dict[str, Any]:
    """A collector output of about `target_bytes` of JSON (seeded: the same every run)."""
    rng = random.Random(7)
    item_bytes = 190
    return {
        "plugins": [
            {
                "type": f"plugin_{i % 97}",
                "enabled": rng.random() < 0.8,
                "count": rng.randint(0, 10**6),
                "avg_duration_ms": round(rng.uniform(0, 500), 3),
                "saved_objects": {n: rng.randint(0, 5000) for n in ("dashboard", "lens", "map")},
                "labels": [rng.choice(["alpha", "beta", "ga", "naïve ☃"]) for _ in range(3)],
            }
            for i in range(target_bytes // item_bytes)
        ]
    }


class BigCollectorPlugin(Plugin):
    """Registers one usage collector whose output is a ~5 MB object."""

    id = "bench_big_collector"
    required_plugins = ("usage_collection",)

    def __init__(self, target_bytes: int) -> None:
        self.usage = big_usage(target_bytes)

    async def setup(self, core: CoreSetup, plugins: PluginContracts) -> None:
        usage = plugins["usage_collection"]
        assert isinstance(usage, UsageCollectionSetup)

        async def fetch(context: CollectorFetchContext) -> dict[str, Any]:
            return self.usage

        usage.register_collector(
            usage.make_usage_collector(type="bench_big", fetch=fetch, schema=SCHEMA)
        )


@asynccontextmanager
async def host(
    folder: Path, capture: CaptureServer, big: bool
) -> AsyncIterator[tuple[Platform, TelemetryPlugin, UsageCollectionPlugin, SimClock]]:
    keys = generate_key_pair("vendor")
    clock = SimClock()
    telemetry = TelemetryPlugin(send_deadline_s=120.0, sleep=FakeSleep(clock))
    usage = UsageCollectionPlugin()
    plugins: list[Plugin] = [usage, TelemetryCollectionManagerPlugin(), telemetry]
    if big:
        plugins.append(BigCollectorPlugin(SNAPSHOT_BYTES))
    config = {
        "store": {"url": f"sqlite:///{folder / 'store.db'}"},
        "telemetry": telemetry_config(capture.url, keys),
    }
    async with Platform(
        config=config, plugins=plugins, version="8.0.0", env={}, clock=clock, background=False
    ) as host_platform:
        yield host_platform, telemetry, usage, clock
    last = capture.posts("-snapshot")[-1:] if big else []
    for post in last:  # the snapshot that left is the big one
        assert len(Decryptor(keys.private_jwks).decrypt(post.body)) > SNAPSHOT_BYTES * 0.8


async def snapshot_case(folder: Path, capture: CaptureServer) -> dict[str, Any]:
    async with host(folder, capture, big=True) as (_, telemetry, _, _):
        await telemetry.admin.state.set_opt_in(True)
        started = time.perf_counter()
        worst = await LagProbe().during(telemetry.send_now(force=True))
        elapsed = time.perf_counter() - started
        body_bytes = len(capture.posts("-snapshot")[-1].body)
    return {"worst_ms": worst, "wall_s": round(elapsed, 2), "body_bytes": body_bytes}


async def counters_case(folder: Path, capture: CaptureServer) -> dict[str, Any]:
    async with host(folder, capture, big=False) as (_, _, usage, _):
        assert usage.counters is not None
        counter = usage.counters.create_usage_counter("bench")
        for i in range(COUNTERS):
            counter.increment_counter(f"event_{i}", increment_by=i % 7 + 1)
        started = time.perf_counter()
        worst = await LagProbe().during(usage.counters.flush())
        elapsed = time.perf_counter() - started
    return {"worst_ms": worst, "wall_s": round(elapsed, 2), "counters": COUNTERS}


async def fetcher_case(folder: Path, capture: CaptureServer) -> dict[str, Any]:
    async with host(folder, capture, big=True) as (host_platform, telemetry, _, clock):
        await telemetry.admin.state.set_opt_in(True)
        member = Instance(host_platform, telemetry)
        started = time.perf_counter()
        worst = await LagProbe().during(simulate([member], clock, clock.ms + 10 * 60_000))
        elapsed = time.perf_counter() - started
        sent = len(capture.posts("-snapshot"))
    return {"worst_ms": worst, "wall_s": round(elapsed, 2), "snapshots_sent": sent}


async def idle_case(folder: Path, capture: CaptureServer) -> dict[str, Any]:
    """The probe alone for one second: what the machine's other work costs it (the baseline)."""
    worst = await LagProbe().during(asyncio.sleep(1.0))
    return {"worst_ms": worst, "wall_s": 1.0}


CASES: dict[str, Callable[[Path, CaptureServer], Awaitable[dict[str, Any]]]] = {
    "idle": idle_case,
    "snapshot": snapshot_case,
    "counters_flush": counters_case,
    "fetcher": fetcher_case,
}


async def main(
    runs: int, watch: bool = False, debug: bool = False, only: list[str] | None = None
) -> dict[str, Any]:
    global WATCHDOG
    if debug:
        asyncio.get_running_loop().slow_callback_duration = 0.02
    results: dict[str, Any] = {}
    for name, case in CASES.items():
        if only and name not in only:
            continue
        outcomes = []
        watchdog = Watchdog() if watch else None
        for _ in range(runs):
            with tempfile.TemporaryDirectory(prefix="loop-lag-") as tmp, CaptureServer() as capture:
                WATCHDOG = None
                idle_ms = await LagProbe().during(asyncio.sleep(IDLE_S))
                WATCHDOG = watchdog
                outcomes.append({**await case(Path(tmp), capture), "idle_ms": idle_ms})
        WATCHDOG = None
        worst = [o["worst_ms"] for o in outcomes]
        results[name] = {
            "worst_ms_median": statistics.median(worst),
            "worst_ms_max": max(worst),
            "worst_ms_runs": worst,
            "idle_ms_runs": [o["idle_ms"] for o in outcomes],
            "under_goal": max(worst) < GOAL_MS,
            "runs": outcomes,
            **({"watchdog": watchdog.report()} if watchdog is not None else {}),
        }
    return {
        "benchmark": "event-loop lag of the host",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "probe_sleep_ms": PROBE_S * 1000,
        "summary": {
            name: {key: result[key] for key in ("worst_ms_median", "worst_ms_max", "idle_ms_runs")}
            for name, result in results.items()
        },
        "goal_ms": GOAL_MS,
        "results": results,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each case")
    parser.add_argument("--watchdog", action="store_true", help="sample stacks when late")
    parser.add_argument("--debug", action="store_true", help="asyncio debug mode (stderr)")
    parser.add_argument("--case", action="append", choices=list(CASES), help="only these")
    args = parser.parse_args()
    if args.debug:
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    outcome = asyncio.run(main(args.runs, args.watchdog, args.debug, args.case), debug=args.debug)
    print(json.dumps(outcome, indent=2))
