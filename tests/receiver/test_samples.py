"""The one report simulator: the dashboard's sample month and the demo's data."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from telemetry_service.receiver.samples import sample_reports, seed_store
from telemetry_service.receiver.storage import ReportStore
from telemetry_service.wire.protocol import DEFAULT_PRODUCT, channel_name


def test_sample_reports_are_realistic_and_repeatable() -> None:
    now = dt.datetime(2026, 3, 15, 23, 59, tzinfo=dt.UTC)
    reports = list(sample_reports(clusters=40, days=10, now=now))
    assert reports == list(sample_reports(clusters=40, days=10, now=now))
    snapshots = [r for r in reports if r.kind == "snapshot"]
    assert 300 < len(snapshots) <= 400
    assert len({r.digest for r in reports}) == len(reports)
    assert all(900 < len(r.payload_text) < 2000 for r in snapshots)
    days = range(20518, 20528)  # 2026-03-06 to 2026-03-15
    assert {r.report_ms // 86_400_000 for r in snapshots} == set(days)
    opt_ins = [r for r in reports if r.kind == "opt-in"]
    # Every cluster has an opt-in status; those of the first day got it within the year before.
    assert {r.cluster_uuid for r in opt_ins} == {r.cluster_uuid for r in reports}
    assert all(days[0] - 366 < r.report_ms // 86_400_000 <= days[-1] for r in opt_ins)
    steady = list(sample_reports(clusters=40, days=10, now=now, steady=True))
    assert sum(r.kind == "snapshot" for r in steady) == 400
    first = orjson.loads(snapshots[0].payload_text)
    assert first["cluster_uuid"] == snapshots[0].cluster_uuid
    assert first["stack_stats"]["kibana"]["plugins"]["telemetry"]["opt_in_status"] is True


def test_the_seed_decides_the_reports() -> None:
    now = dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC)
    one = [r.digest for r in sample_reports(clusters=5, days=3, now=now, seed=1)]
    assert one == [r.digest for r in sample_reports(clusters=5, days=3, now=now, seed=1)]
    assert one != [r.digest for r in sample_reports(clusters=5, days=3, now=now, seed=2)]


@pytest.mark.parametrize("hour", [0, 7, 13, 23])
def test_nothing_is_later_than_now(hour: int) -> None:
    now = dt.datetime(2026, 3, 15, hour, 30, tzinfo=dt.UTC)
    reports = list(sample_reports(clusters=50, days=5, now=now))
    limit = int(now.timestamp() * 1000)
    assert reports
    assert max(r.report_ms for r in reports) <= limit
    assert max(r.received_ms for r in reports if r.kind == "opt-in") <= limit


def test_the_demo_gets_about_a_month_from_its_clusters() -> None:
    """What ``telemetry-service demo`` seeds by default: 60 clusters over 28 days."""
    now = dt.datetime(2026, 3, 15, 23, 59, tzinfo=dt.UTC)
    reports = list(sample_reports(clusters=60, days=28, now=now))
    assert 1000 < len(reports) < 2000
    assert len({r.cluster_uuid for r in reports}) == 60
    snapshots = [r for r in reports if r.kind == "snapshot"]
    days = {r.report_ms // 86_400_000 for r in snapshots}
    assert len(days) == 28
    assert max(days) == 20527
    channels = {r.channel for r in reports}
    assert channels == {
        channel_name(DEFAULT_PRODUCT, "snapshot"),
        channel_name(DEFAULT_PRODUCT, "opt-in-reports"),
    }
    versions = {orjson.loads(r.payload_text)["version"] for r in snapshots}
    assert len(versions) >= 4  # upgrades roll through the versions
    assert any(r.opt_in_status is False for r in reports)  # some opt out


@pytest.mark.anyio
async def test_seed_store_adds_every_report_in_chunks(store: ReportStore) -> None:
    now = dt.datetime(2026, 3, 15, 23, 59, tzinfo=dt.UTC)
    reports = list(sample_reports(clusters=10, days=3, now=now))
    seen: list[int] = []
    assert await seed_store(store, reports, chunk=7, progress=seen.append) == len(reports)
    assert seen[-1] == len(reports)
    assert seen[0] == 7
    assert await store.count_reports() == len(reports)
