"""The chaos suite's short form (issue 16): 10 simulated days with every fault once, on real
processes; the long form is ``benchmarks/chaos.py --days N``.

:mod:`tests.chaos.harness` runs the days, :mod:`tests.chaos.checks` the invariants, which
the session summary prints (``chaos invariants``).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .checks import check_run
from .conftest import record
from .harness import FAULTS, ChaosRun

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.mark.timeout(290)
def test_ten_days_of_faults_keep_one_snapshot_a_day_and_lose_nothing(
    chaos_postgres: str, tmp_path: Path
) -> None:
    began = time.monotonic()
    run = ChaosRun(chaos_postgres, tmp_path, days=10)
    run.run()
    checks = check_run(run)
    elapsed = time.monotonic() - began
    days = ", ".join(f"{r.seconds:.0f}" for r in run.results)
    record(
        f"chaos short form: 10 simulated days, 3 hosts, 2 receivers, {elapsed:.0f} s "
        f"(seconds per day: {days})",
        checks,
    )
    assert {r.fault for r in run.results} >= set(FAULTS)
    failed = [f"{name}: {detail}" for name, passed, detail in checks if not passed]
    assert not failed, (
        "\n".join(failed)
        + f"\nlogs: {run.logs}\n"
        + "\n".join(
            f"day {r.day} {r.date} {r.fault} ({r.seconds:.0f} s): {r.rounds}" for r in run.results
        )
    )
