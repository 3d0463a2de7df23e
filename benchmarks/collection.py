"""Benchmark `CollectorSet.bulk_fetch`; prints one JSON object.

- wall time for 100 async collectors (each awaits 50 ms) plus 10 sync collectors (each blocks
  its thread with `time.sleep(0.05)`), median of `--runs` runs, against its floor and against
  the serial sum of their fetches;
- the delay one hanging collector adds, with a 0.5 s fetch timeout.

The floor is what the limits allow: the async fetches run in waves of
`max_collector_concurrency` (100 / 50: two waves of 50 ms), the sync ones beside them in waves of
`max_threads` worker threads (10 / 16: one wave), so 0.10 s with the defaults.

Run: ``.venv/bin/python benchmarks/collection.py [--runs 9]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import platform
import statistics
import sys
import time

from telemetry_service.plugins.usage_collection.blocking import DEFAULT_MAX_THREADS
from telemetry_service.plugins.usage_collection.bulk_fetch import DEFAULT_MAX_COLLECTOR_CONCURRENCY
from telemetry_service.plugins.usage_collection.collector import (
    CollectorFetchContext,
    make_usage_collector,
)
from telemetry_service.plugins.usage_collection.collector_set import CollectorSet

N_ASYNC = 100
N_SYNC = 10
DELAY_S = 0.05
RUNS = 9
HANG_TIMEOUT_S = 0.5
SCHEMA = {"n": {"type": "long"}}


async def async_fetch(context: CollectorFetchContext) -> dict[str, int]:
    await asyncio.sleep(DELAY_S)
    return {"n": 1}


def blocking_fetch(context: CollectorFetchContext) -> dict[str, int]:
    time.sleep(DELAY_S)
    return {"n": 2}


async def hanging_fetch(context: CollectorFetchContext) -> dict[str, int]:
    await asyncio.sleep(3600)
    return {"n": 0}


def build(fetch_timeout_s: float = 10.0) -> CollectorSet:
    collectors = CollectorSet(fetch_timeout_s=fetch_timeout_s)
    for i in range(N_ASYNC):
        collectors.register_collector(
            make_usage_collector(type=f"async_{i}", fetch=async_fetch, schema=SCHEMA)
        )
    for i in range(N_SYNC):
        collectors.register_collector(
            make_usage_collector(type=f"sync_{i}", fetch=blocking_fetch, schema=SCHEMA)
        )
    return collectors


async def timed(collectors: CollectorSet) -> tuple[float, dict[str, object]]:
    start = time.perf_counter()
    results = await collectors.bulk_fetch()
    elapsed = time.perf_counter() - start
    stats = results[-1]["result"]
    assert isinstance(stats, dict)
    return elapsed, stats


def floor_s() -> float:
    """The wall time the concurrency limit and the thread limit allow at best."""
    async_waves = math.ceil(N_ASYNC / DEFAULT_MAX_COLLECTOR_CONCURRENCY)
    sync_waves = math.ceil(N_SYNC / DEFAULT_MAX_THREADS)
    return max(async_waves, sync_waves) * DELAY_S


async def main(runs: int) -> dict[str, object]:
    collectors = build()
    await timed(collectors)  # warm-up: imports, thread start-up
    walls: list[float] = []
    serial_sums: list[float] = []
    for _ in range(runs):
        wall, stats = await timed(collectors)
        succeeded = stats["succeeded"]
        assert isinstance(succeeded, dict)
        assert succeeded["count"] == N_ASYNC + N_SYNC
        walls.append(wall)
        total_fetch_ms = stats["total_fetch_duration"]
        assert isinstance(total_fetch_ms, float)
        serial_sums.append(total_fetch_ms / 1000)

    baseline_set = build(fetch_timeout_s=HANG_TIMEOUT_S)
    await timed(baseline_set)
    baseline = statistics.median([(await timed(baseline_set))[0] for _ in range(3)])
    hang_set = build(fetch_timeout_s=HANG_TIMEOUT_S)
    hang_set.register_collector(
        make_usage_collector(type="hangs", fetch=hanging_fetch, schema=SCHEMA)
    )
    with_hang, hang_stats = await timed(hang_set)
    failed = hang_stats["failed"]
    assert isinstance(failed, dict)
    assert failed["names"] == ["hangs"]

    wall = statistics.median(walls)
    serial = statistics.median(serial_sums)
    floor = floor_s()
    return {
        "benchmark": "usage_collection.bulk_fetch",
        "python": platform.python_version(),
        "collectors": {"async": N_ASYNC, "sync_blocking": N_SYNC, "each_s": DELAY_S},
        "max_collector_concurrency": DEFAULT_MAX_COLLECTOR_CONCURRENCY,
        "max_threads": DEFAULT_MAX_THREADS,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "runs": runs,
        "wall_s_median": round(wall, 4),
        "floor_s": round(floor, 4),
        "ratio_to_floor": round(wall / floor, 2),
        "wall_s_runs": [round(w, 4) for w in walls],
        "serial_sum_s": round(serial, 4),
        "serial_sum_nominal_s": round((N_ASYNC + N_SYNC) * DELAY_S, 4),
        "speedup_vs_serial": round(serial / wall, 1),
        "hang": {
            "fetch_timeout_s": HANG_TIMEOUT_S,
            "baseline_wall_s": round(baseline, 4),
            "with_hanging_collector_wall_s": round(with_hang, 4),
            "added_delay_s": round(with_hang - baseline, 4),
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs (the median is shown)")
    logging.getLogger("telemetry_service").addHandler(logging.NullHandler())  # JSON only
    json.dump(asyncio.run(main(parser.parse_args().runs)), sys.stdout, indent=2)
    sys.stdout.write("\n")
