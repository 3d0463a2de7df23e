"""The chaos suite's long form: ``tests/chaos`` over ``--days`` simulated days.

Usage: ``python benchmarks/chaos.py [--days 30] [--keep]``

The same run as ``tests/chaos/test_chaos.py`` (three hosts on one PostgreSQL store, two
receivers on one PostgreSQL database behind a fault proxy, events flowing), on a private
PostgreSQL cluster of its own, with every fault once in each 10 days: a receiver SIGKILLed
and restarted, 500 and 429 outages, PostgreSQL stopped and started, a host killed while it
holds the send lease. Prints each day as it ends, then the invariants; exits 1 if one fails.
``--keep`` keeps the work folder (logs, configs) and prints where it is.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT / "src"), str(REPO_ROOT)]

from tests.chaos.checks import check_run  # noqa: E402
from tests.chaos.harness import ChaosRun, DayResult  # noqa: E402
from tests.support.postgres import private_cluster  # noqa: E402


def show(day: DayResult) -> None:
    rounds = " | ".join(", ".join(r) for r in day.rounds)
    print(f"day {day.day:3d} {day.date} {day.fault or '-':16s} {day.seconds:5.1f} s  {rounds}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30, help="simulated days (at least 10)")
    parser.add_argument("--keep", action="store_true", help="keep the logs and configs")
    args = parser.parse_args()
    if args.days < 10:
        parser.error("--days must be at least 10 (every fault happens once in 10 days)")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)])
    work = Path(tempfile.mkdtemp(prefix="chaos-"))
    began = time.monotonic()
    try:
        with private_cluster() as base_url:
            run = ChaosRun(base_url, work, args.days)
            run.run(on_day=show)
            checks = check_run(run)
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"chaos long form: {args.days} simulated days in {time.monotonic() - began:.0f} s")
    for name, passed, detail in checks:
        print(f"  [{'ok' if passed else 'FAILED'}] {name}: {detail}")
    return 0 if all(passed for _, passed, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
