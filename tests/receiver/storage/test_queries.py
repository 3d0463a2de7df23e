"""The dashboard's reads on both report store backends (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from telemetry_service.common.clock import DAY_MS
from telemetry_service.receiver.storage import NewReport, ReportStore, open_report_store
from telemetry_service.receiver.storage.migrations import POSTGRES, SQLITE

from .test_store import T0, report

pytestmark = pytest.mark.anyio

DAY0 = T0 - T0 % DAY_MS  # 2026-03-15 00:00 UTC


def snap(cluster: str, day: int, version: str = "8.1.0", **payload: object) -> NewReport:
    """A snapshot of `cluster` at 01:00 UTC of `day` (0 is 2026-03-15)."""
    body = {"cluster_uuid": cluster, "version": version, **payload}
    at = DAY0 + day * DAY_MS + 3_600_000
    return report(cluster, received_ms=at, payload=body, version=version)


async def test_migration_2_adds_the_dashboard_indexes(backend_url: str) -> None:
    # 3: events (test_events.py), 4: public_stats,
    # 5: field_days, 6: field_days_pending (test_field_days.py), 7: lz4 (test_batch_writes.py)
    assert len(SQLITE) == len(POSTGRES) == 7
    store = open_report_store(backend_url)
    await store.open()
    try:
        if store.backend == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'index'"
        else:
            sql = "SELECT indexname FROM pg_indexes WHERE tablename IN ('reports', 'clusters')"
        names = await store._db.run(
            False, lambda cur: {row[0] for row in cur.execute(sql).fetchall()}
        )
        assert {"reports_kind_day", "clusters_active_version"} <= names
        versions = await store._db.run(
            False,
            lambda cur: [
                row[0]
                for row in cur.execute(
                    "SELECT version FROM receiver_migrations ORDER BY version"
                ).fetchall()
            ],
        )
        assert versions == [1, 2, 3, 4, 5, 6, 7]
    finally:
        await store.close()


async def test_reports_per_day_counts_both_kinds(store: ReportStore) -> None:
    for cluster in ("a", "b"):
        await store.add(snap(cluster, -2))
        await store.add(snap(cluster, -1))
    await store.add(report("a", kind="opt-in", opt_in=False, received_ms=DAY0 - DAY_MS + 5))
    days = await store.reports_per_day(DAY0 - 3 * DAY_MS, DAY0 + DAY_MS)
    first = (DAY0 - 2 * DAY_MS) // DAY_MS
    assert days == {first: (2, 0), first + 1: (2, 1)}
    assert await store.reports_per_day(DAY0, DAY0 + DAY_MS) == {}


async def test_active_per_day_reads_whole_days(store: ReportStore) -> None:
    await store.add(snap("a", -1))
    await store.add(snap("a", -1, note="twice"))
    await store.add(snap("b", -1))
    day = (DAY0 - DAY_MS) // DAY_MS
    assert await store.active_per_day(DAY0 - DAY_MS, DAY0) == {day: 2}


async def test_version_counts_of_active_clusters(store: ReportStore) -> None:
    await store.add(snap("a", -1, "8.2.0"))
    await store.add(snap("b", -1, "8.1.0"))
    await store.add(snap("c", -2, "8.2.0"))
    await store.add(snap("old", -90, "7.17.0"))
    assert await store.version_counts(since_ms=DAY0 - 30 * DAY_MS) == [
        ("8.2.0", 2),
        ("8.1.0", 1),
    ]
    everything = await store.version_counts(since_ms=0)
    assert ("7.17.0", 1) in everything


async def test_latest_payloads_newest_first(store: ReportStore) -> None:
    await store.add(snap("a", -3, n=1))
    await store.add(snap("b", -1, n=2))
    await store.add(snap("old", -90, n=3))
    payloads = await store.latest_payloads(since_ms=DAY0 - 30 * DAY_MS, limit=10)
    assert [p["n"] for p in payloads] == [2, 1]
    assert len(await store.latest_payloads(since_ms=0, limit=1)) == 1


async def test_search_clusters(store: ReportStore) -> None:
    await store.add(snap("prod-1", -1, "8.2.0"))
    await store.add(snap("Prod_2", -2, "8.1.0"))
    await store.add(snap("dev-100%", -1, "8.2.0"))
    await store.add(snap("old", -90, "8.2.0"))

    async def ids(**kwargs: object) -> list[str]:
        args: dict[str, object] = {"text": None, "version": None, "since_ms": None}
        page = await store.search_clusters(**{**args, **kwargs}, limit=10, offset=0)
        return [c.cluster_uuid for c in page.clusters]

    assert await ids(text="prod") == ["prod-1", "Prod_2"]  # any case, newest first
    assert await ids(text="d_") == ["Prod_2"]  # LIKE wildcards are literal
    assert await ids(text="100%") == ["dev-100%"]
    assert await ids(text="name-old") == ["old"]  # the name matches too
    # The most recently seen first, then by id.
    assert await ids(version="8.2.0") == ["dev-100%", "prod-1", "old"]
    assert await ids(version="8.2.0", since_ms=DAY0 - 30 * DAY_MS) == ["dev-100%", "prod-1"]
    page = await store.search_clusters(text=None, version=None, since_ms=None, limit=1, offset=1)
    assert page.total == 4
    assert [c.cluster_uuid for c in page.clusters] == ["prod-1"]


async def test_latest_snapshot_of_a_cluster(store: ReportStore) -> None:
    await store.add(snap("a", -2, n=1))
    await store.add(snap("a", -1, n=2))
    await store.add(report("a", kind="opt-in", opt_in=True, received_ms=DAY0))
    await store.add(report("only-opt-in", kind="opt-in", opt_in=True, received_ms=DAY0))
    latest = await store.latest_snapshot("a")
    assert latest is not None
    assert latest.kind == "snapshot"
    assert '"n":2' in latest.payload_text
    assert await store.latest_snapshot("only-opt-in") is None
    assert await store.latest_snapshot("nobody") is None


async def test_migrating_a_version_1_sqlite_store_keeps_its_reports(tmp_path: Path) -> None:
    """A store made before the dashboard gains the indexes on its next start."""
    import sqlite3

    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE receiver_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
    conn.executescript(SQLITE[0])
    conn.execute("INSERT INTO receiver_migrations VALUES (1, 'then')")
    conn.commit()
    conn.close()
    store = open_report_store(f"sqlite:///{path}")
    await store.open()
    try:
        await store.add(snap("a", -1))
        assert await store.active_per_day(DAY0 - DAY_MS, DAY0) == {(DAY0 - DAY_MS) // DAY_MS: 1}
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    versions = {r[0] for r in conn.execute("SELECT version FROM receiver_migrations")}
    assert versions == set(range(1, len(SQLITE) + 1))
    conn.close()
