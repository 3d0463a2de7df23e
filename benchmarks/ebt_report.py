"""Event-loop blocking caused by reporting events, as a request handler would.

Usage: ``.venv/bin/python benchmarks/ebt_report.py [--events 10000] [--rounds 5]``

An opted-in ``AnalyticsClient`` with an ``ElasticV3ServerShipper`` (answering through an
in-process ``httpx.MockTransport``) and two context providers; inside the running loop a handler
reports ``--events`` events with a four-field schema, 100 at a time between yields (as a real
handler between requests would). Printed as JSON, per round and the median: ``blocking_ms``, the
wall time the ``report_event`` calls held the loop thread in total (timed around each run of 100
calls, the properties built beforehand), ``blocking_cpu_ms``, the same as CPU time of the loop
thread (what our code costs, without the time other processes of a loaded machine took), and
``max_loop_lag_ms``, the largest lateness of a 1 ms probe that ran alongside. The issue's goal is
``blocking_ms`` under 50 for 10,000 events. ``calibration_ms`` times a fixed pure-Python loop,
so that figures from a loaded or slow machine can be compared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "src")]

import httpx  # noqa: E402

from telemetry_service.ebt import AnalyticsClient  # noqa: E402
from telemetry_service.ebt.shippers import (  # noqa: E402
    ElasticV3ServerShipper,
    ElasticV3ServerShipperConfig,
)

SCHEMA = {
    "dashboard_id": {"type": "keyword", "_meta": {"description": "Hashed id."}},
    "panels": {"type": "long", "_meta": {"description": "Panel count."}},
    "took_ms": {"type": "double", "_meta": {"description": "Load time."}},
    "cached": {"type": "boolean", "_meta": {"description": "Served from cache.", "optional": True}},
}


async def probe(lags: list[float], stop: asyncio.Event) -> None:
    """Sleep 1 ms at a time and record how late each wake-up is."""
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append(time.perf_counter() - start - 0.001)


async def one_round(events: int) -> dict[str, float]:
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    client = AnalyticsClient()
    client.register_event_type("dashboard_opened", SCHEMA)
    client.register_context_provider("cluster", {"cluster_uuid": "c-1", "cluster_name": "bench"})
    client.register_context_provider("host", {"version": "8.1.0", "os": platform.system()})
    client.register_shipper(
        ElasticV3ServerShipper,
        ElasticV3ServerShipperConfig(
            base_url="http://bench/", version="8.1.0", transport=transport
        ),
    )
    client.opt_in({"global": {"enabled": True}})
    lags: list[float] = []
    stop = asyncio.Event()
    prober = asyncio.create_task(probe(lags, stop))
    await asyncio.sleep(0.01)
    blocking = cpu = 0.0
    report = client.report_event
    for chunk in range(0, events, 100):
        batch = [
            {"dashboard_id": f"d{i % 50}", "panels": i % 12, "took_ms": 1.5}
            for i in range(chunk, min(chunk + 100, events))
        ]
        start, start_cpu = time.perf_counter(), time.thread_time()
        for properties in batch:
            report("dashboard_opened", properties)
        blocking += time.perf_counter() - start
        cpu += time.thread_time() - start_cpu
        await asyncio.sleep(0)
    stop.set()
    await prober
    await client.shutdown()
    return {
        "blocking_ms": blocking * 1000,
        "blocking_cpu_ms": cpu * 1000,
        "max_loop_lag_ms": max(lags, default=0.0) * 1000,
    }


def calibration_ms() -> float:
    """A fixed pure-Python workload (10,000 small dicts and f-strings), to compare machines."""
    start = time.perf_counter()
    for i in range(10_000):
        _ = {"a": f"x{i}", "b": i, "c": 1.5, "d": True}
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rounds = [asyncio.run(one_round(args.events)) for _ in range(args.rounds)]
    print(
        json.dumps(
            {
                "events": args.events,
                "python": platform.python_version(),
                "rounds": [{k: round(v, 2) for k, v in r.items()} for r in rounds],
                "median_blocking_ms": round(statistics.median(r["blocking_ms"] for r in rounds), 2),
                "median_blocking_cpu_ms": round(
                    statistics.median(r["blocking_cpu_ms"] for r in rounds), 2
                ),
                "min_blocking_ms": round(min(r["blocking_ms"] for r in rounds), 2),
                "median_max_loop_lag_ms": round(
                    statistics.median(r["max_loop_lag_ms"] for r in rounds), 2
                ),
                "goal_blocking_ms": 50,
                "calibration_ms": round(calibration_ms(), 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
