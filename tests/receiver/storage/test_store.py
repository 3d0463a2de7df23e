"""One suite for both report store backends (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import stat
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from telemetry_service.common.clock import DAY_MS, to_ms
from telemetry_service.receiver.storage import (
    NewReport,
    ReportStore,
    StoreUnavailableError,
    open_report_store,
)
from telemetry_service.testing import FakeClock

pytestmark = pytest.mark.anyio

T0 = to_ms(FakeClock().now)


def report(
    cluster: str = "c-1",
    *,
    kind: str = "snapshot",
    received_ms: int = T0,
    report_ms: int | None = None,
    digest: str | None = None,
    opt_in: bool | None = None,
    payload: dict[str, Any] | None = None,
    version: str = "8.1.0",
) -> NewReport:
    body = payload if payload is not None else {"cluster_uuid": cluster, "version": version}
    text = orjson.dumps(body).decode()
    return NewReport(
        id=uuid.uuid4().hex,
        digest=digest or uuid.uuid4().hex,
        channel="telemetry-service-" + ("snapshot" if kind == "snapshot" else "opt-in-reports"),
        kind=kind,  # type: ignore[arg-type]
        cluster_uuid=cluster,
        cluster_name=f"name-{cluster}" if kind == "snapshot" else None,
        version=version if kind == "snapshot" else None,
        stack_version="8.1.0",
        kid="k1",
        received_ms=received_ms,
        report_ms=received_ms if report_ms is None else report_ms,
        opt_in_status=opt_in,
        payload_text=text,
        query_text=text,
    )


async def test_add_and_read_back(store: ReportStore) -> None:
    r = report(payload={"cluster_uuid": "c-1", "note": "ü 日本"})
    result = await store.add(r)
    assert (result.id, result.duplicate) == (r.id, False)
    assert await store.count_reports() == 1
    history = await store.cluster_history("c-1", from_ms=0, to_ms=T0 + 1, limit=10)
    assert [h.id for h in history] == [r.id]
    assert orjson.loads(history[0].payload_text) == {"cluster_uuid": "c-1", "note": "ü 日本"}
    cluster = await store.get_cluster("c-1")
    assert cluster is not None
    assert (cluster.report_id, cluster.version, cluster.cluster_name) == (r.id, "8.1.0", "name-c-1")
    assert await store.get_cluster("nope") is None


async def test_same_digest_is_stored_once(store: ReportStore) -> None:
    first = await store.add(report(digest="same"))
    again = await store.add(report(digest="same"))
    assert again.duplicate
    assert again.id == first.id
    assert await store.count_reports() == 1


async def test_concurrent_duplicates_in_one_batch_are_stored_once(store: ReportStore) -> None:
    results = await asyncio.gather(*(store.add(report(digest="d")) for _ in range(20)))
    assert sum(not r.duplicate for r in results) == 1
    assert len({r.id for r in results}) == 1
    assert await store.count_reports() == 1


async def test_many_concurrent_adds_are_all_committed(store: ReportStore) -> None:
    reports = [report(f"c-{i}") for i in range(300)]
    results = await asyncio.gather(*(store.add(r) for r in reports))
    assert not any(r.duplicate for r in results)
    assert await store.count_reports() == 300
    page = await store.list_clusters(limit=1000, offset=0)
    assert page.total == 300


async def test_latest_snapshot_follows_report_time_not_arrival(store: ReportStore) -> None:
    newer = report(received_ms=T0, report_ms=T0, version="8.2.0")
    older = report(received_ms=T0 + 1000, report_ms=T0 - DAY_MS, version="8.1.0")
    await store.add(newer)
    await store.add(older)
    cluster = await store.get_cluster("c-1")
    assert cluster is not None
    assert (cluster.report_id, cluster.version) == (newer.id, "8.2.0")
    assert (cluster.first_seen_ms, cluster.last_seen_ms) == (T0 - DAY_MS, T0)
    total, latest = await store.latest_reports(since_ms=0, limit=10, offset=0)
    assert total == 1
    assert [r.id for r in latest] == [newer.id]


async def test_list_clusters_pages_most_recent_first(store: ReportStore) -> None:
    for i in range(5):
        await store.add(report(f"c-{i}", report_ms=T0 + i))
    page = await store.list_clusters(limit=2, offset=1)
    assert page.total == 5
    assert [c.cluster_uuid for c in page.clusters] == ["c-3", "c-2"]


async def test_active_per_day_counts_distinct_clusters(store: ReportStore) -> None:
    day0 = T0 - T0 % DAY_MS
    await store.add(report("a", report_ms=day0 + 1))
    await store.add(report("a", report_ms=day0 + 2))
    await store.add(report("b", report_ms=day0 + 3))
    await store.add(report("a", report_ms=day0 + DAY_MS + 1))
    await store.add(report("c", kind="opt-in", opt_in=True, report_ms=day0 + 5))
    days = await store.active_per_day(day0, day0 + 2 * DAY_MS)
    assert days == {day0 // DAY_MS: 2, day0 // DAY_MS + 1: 1}
    assert await store.active_per_day(day0 + 2 * DAY_MS, day0 + 3 * DAY_MS) == {}


async def test_field_values_of_active_clusters(store: ReportStore) -> None:
    payloads = {
        "a": {"stack_stats": {"n": 3, "flag": True, "name": "x", "obj": {"k": 1}}},
        "b": {"stack_stats": {"n": 4.5, "flag": False, "name": "y", "obj": [1]}},
        "c": {"stack_stats": {"n": None}},
        "old": {"stack_stats": {"n": 1000}},
    }
    for cluster, payload in payloads.items():
        when = T0 - 90 * DAY_MS if cluster == "old" else T0
        await store.add(report(cluster, report_ms=when, payload=payload))
    since = T0 - 30 * DAY_MS

    async def values(path: str) -> list[tuple[str, Any]]:
        found = await store.field_values(path.split("."), since_ms=since)
        return sorted((v.kind, v.value) for v in found)

    assert await values("stack_stats.n") == [("null", None), ("number", 3.0), ("number", 4.5)]
    assert await values("stack_stats.flag") == [
        ("boolean", False),
        ("boolean", True),
        ("missing", None),
    ]
    assert await values("stack_stats.name") == [
        ("missing", None),
        ("string", "x"),
        ("string", "y"),
    ]
    assert await values("stack_stats.obj") == [("array", None), ("missing", None), ("object", None)]
    assert await values("no.such.field") == [("missing", None)] * 3


async def test_opt_in_changes_skip_repeats(store: ReportStore) -> None:
    day = DAY_MS
    for offset, status in [(0, True), (1, True), (2, False), (3, False), (4, True)]:
        await store.add(report("a", kind="opt-in", opt_in=status, report_ms=T0 + offset * day))
    await store.add(report("b", kind="opt-in", opt_in=False, report_ms=T0 + 1 * day))
    changes = await store.opt_in_changes(T0, T0 + 10 * day, limit=100)
    assert [
        (c.cluster_uuid, (c.report_ms - T0) // day, c.opt_in_status, c.previous) for c in changes
    ] == [
        ("a", 0, True, None),
        ("b", 1, False, None),
        ("a", 2, False, True),
        ("a", 4, True, False),
    ]
    # The first change in a range knows the status from before the range.
    later = await store.opt_in_changes(T0 + 2 * day, T0 + 10 * day, limit=100, cluster_uuid="a")
    assert [(c.opt_in_status, c.previous) for c in later] == [(False, True), (True, False)]
    per_day = await store.opt_in_changes_per_day(T0, T0 + 10 * day)
    first = T0 // day
    assert per_day == {first: (1, 0), first + 1: (0, 1), first + 2: (0, 1), first + 4: (1, 0)}
    only_b = await store.opt_in_changes_per_day(T0, T0 + 10 * day, cluster_uuid="b")
    assert only_b == {first + 1: (0, 1)}
    cluster = await store.get_cluster("a")
    assert cluster is not None
    assert cluster.opt_in_status is True
    assert cluster.report_id is None  # no snapshot yet


async def test_iter_reports_pages_through_a_range(store: ReportStore) -> None:
    ids = []
    for i in range(23):
        r = report(f"c-{i % 4}", report_ms=T0 + i // 2)  # ties on report_ms
        ids.append(r.id)
        await store.add(r)
    got = [r.id async for r in store.iter_reports(T0, T0 + 100, page=5)]
    assert sorted(got) == sorted(ids)
    assert len(got) == 23
    assert [r.id async for r in store.iter_reports(T0 + 5, T0 + 6, page=5)] != []
    assert [r async for r in store.iter_reports(T0, T0 + 100, kind="opt-in")] == []


async def test_delete_cluster_removes_every_record(store: ReportStore) -> None:
    await store.add(report("a", digest="d-a"))
    await store.add(report("a", kind="opt-in", opt_in=False))
    await store.add(report("b"))
    counts = await store.delete_cluster("a")
    assert (counts.reports, counts.clusters) == (2, 1)
    assert await store.count_reports("a") == 0
    assert await store.get_cluster("a") is None
    assert await store.count_reports() == 1
    # The digest went too: the same report posted again is stored again.
    assert not (await store.add(report("a", digest="d-a"))).duplicate
    assert (await store.delete_cluster("nobody")).clusters == 0


async def test_retention_deletes_old_reports_and_empty_clusters(store: ReportStore) -> None:
    old = T0 - 500 * DAY_MS
    await store.add(report("gone", received_ms=old, digest="old-digest"))
    await store.add(report("mixed", received_ms=old))
    mixed_new = report("mixed", kind="opt-in", opt_in=True, received_ms=T0)
    await store.add(mixed_new)
    await store.add(report("fresh", received_ms=T0))
    deleted = await store.delete_older_than(T0 - 400 * DAY_MS)
    assert deleted == 2
    assert await store.count_reports() == 2
    assert await store.get_cluster("gone") is None
    mixed = await store.get_cluster("mixed")
    assert mixed is not None
    assert mixed.report_id is None  # its snapshot expired
    assert mixed.opt_in_status is True
    assert (await store.latest_reports(since_ms=0, limit=10, offset=0))[0] == 1
    assert await store.delete_older_than(T0 - 400 * DAY_MS) == 0


async def test_reports_of_many_months(store: ReportStore) -> None:
    """PostgreSQL partitions by month: reports across months, then retention across them."""
    months = [T0 - m * 31 * DAY_MS for m in range(6)]
    for i, when in enumerate(months):
        await store.add(report(f"m-{i}", received_ms=when))
    assert await store.count_reports() == 6
    assert await store.delete_older_than(T0 - 100 * DAY_MS) == 2  # 124 and 155 days old
    assert await store.count_reports() == 4


async def test_reopen_keeps_data_and_migrations_are_idempotent(backend_url: str) -> None:
    first = open_report_store(backend_url)
    await first.open()
    await first.add(report("keep"))
    await first.close()
    second = open_report_store(backend_url)
    await second.open()
    try:
        assert await second.count_reports() == 1
        assert await second.ping()
    finally:
        await second.close()


async def test_closed_store_raises_unavailable(backend_url: str) -> None:
    s = open_report_store(backend_url)
    await s.open()
    await s.close()
    with pytest.raises(StoreUnavailableError):
        await s.add(report())
    with pytest.raises(StoreUnavailableError):
        await s.count_reports()
    assert not await s.ping()


async def test_the_sqlite_store_is_private_to_its_owner(tmp_path: Path) -> None:
    """Security review finding 11: the decrypted reports are created 0600 (their -wal and
    -shm too) in a folder created 0700, whatever the umask; an existing 0644 store is
    narrowed to 0600. Before, they were 0644 in a 0755 folder."""
    old = os.umask(0o022)
    try:
        fresh = tmp_path / "data" / "receiver.db"
        earlier = tmp_path / "earlier.db"
        earlier.write_bytes(b"")
        earlier.chmod(0o644)
        for path in (fresh, earlier):
            store = open_report_store(f"sqlite:///{path}")
            await store.open()
            await store.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    for path in (fresh, earlier):
        files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
        assert path in files
        assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
