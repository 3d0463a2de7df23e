"""A field trend reads at most ``limits.trendWideSnapshots`` wide snapshots (security review:
it parsed every wide snapshot of its range on every request): above the bound it counts
exactly the bound's snapshots and says so (``sampled`` < ``reports`` on the days cut), at or
below it the answer is exact (``sampled`` == ``reports``)."""

from __future__ import annotations

import pytest

from telemetry_service.common.clock import DAY_MS
from telemetry_service.receiver import load_config
from telemetry_service.receiver.analysis import field_trend
from telemetry_service.receiver.storage import ReportStore

from .test_field_days import DAY0, FROM_MS, TO_MS, add_wide, fold_all

pytestmark = pytest.mark.anyio


def test_the_key_and_its_default() -> None:
    assert load_config({}, env={}).limits.trend_wide_snapshots == 2000
    env = {"TELEMETRY_RECEIVER_LIMITS_TRENDWIDESNAPSHOTS": "5"}
    assert load_config({}, env=env).limits.trend_wide_snapshots == 5


async def test_wide_snapshots_over_the_bound_are_sampled(store: ReportStore) -> None:
    await add_wide(store)
    await fold_all(store)
    days = list(range(FROM_MS // DAY_MS, TO_MS // DAY_MS))
    cut = {DAY0 // DAY_MS - 3, DAY0 // DAY_MS - 2}
    for limit, read in ((6, 3), (1000, 3), (4, 2)):  # 4 of 6: an even spread, 2 a day
        parts = await store.field_trend_parts(
            ("wide", "f5"), from_ms=FROM_MS, to_ms=TO_MS, size=5, wide_limit=limit
        )
        trend = field_trend(days, parts)
        for day, row in zip(days, trend["days"], strict=True):
            wide = read if day in cut else 0
            assert row["kinds"]["number"] == wide
            assert row["number"] == (
                {
                    "count": wide,
                    "min": 5.0,
                    "max": 5.0,
                    "avg": 5.0,
                    "percentiles": {"50": 5.0, "90": 5.0},
                }
                if wide
                else None
            )
            skipped = 3 - read if day in cut else 0
            assert row["sampled"] == row["reports"] - skipped
            assert row["kinds"]["missing"] == row["sampled"] - wide
