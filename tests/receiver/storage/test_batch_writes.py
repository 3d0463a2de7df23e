"""A group-commit batch of reports stores exactly what adding them one by one stores, on both
backends: the same answers in the same order, the same rows of ``reports``,
``report_digests``, ``clusters`` and ``field_days_pending``. Covers duplicates inside a batch
and of earlier reports, several reports of one cluster (both orders, equal report times),
an opt-in and a snapshot of one cluster, new and known clusters together, and a batch that
fails (it leaves nothing behind: the writer then retries its reports one by one)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import anyio.to_thread
import pytest

from telemetry_service.common.clock import DAY_MS
from telemetry_service.common.db.base import Cursor
from telemetry_service.receiver.storage import (
    AddResult,
    FieldValue,
    NewReport,
    ReportStore,
    StoreBusyError,
    StoreUnavailableError,
)
from telemetry_service.receiver.storage.queries import writes

from .test_store import T0, report

pytestmark = pytest.mark.anyio

TABLES = {
    "reports": "id",
    "report_digests": "digest",
    "clusters": "cluster_uuid",
    "field_days_pending": "report_id",
}


def _plain(value: Any) -> Any:
    """A JSON column's value as SQLite's text or PostgreSQL's decoded jsonb: decoded."""
    return json.loads(value) if isinstance(value, str) and value[:1] == "{" else value


async def dump(store: ReportStore) -> dict[str, list[tuple[Any, ...]]]:
    def read(cur: Cursor) -> dict[str, list[tuple[Any, ...]]]:
        rows = {}
        for table, key in TABLES.items():
            cur.execute(f"SELECT * FROM {table} ORDER BY {key}")
            rows[table] = [tuple(_plain(v) for v in row) for row in cur.fetchall()]
        return rows

    return await store._db.run(False, read)


async def wipe(store: ReportStore) -> None:
    def delete(cur: Cursor) -> None:
        for table in TABLES:
            cur.execute(f"DELETE FROM {table}")

    await store._db.run(True, delete)


async def write(store: ReportStore, batch: Sequence[NewReport]) -> list[AddResult]:
    """One group-commit transaction of `batch`, as the writer thread runs it."""
    return await anyio.to_thread.run_sync(store._write_reports, list(batch))


async def both_ways(
    store: ReportStore, batch: Sequence[NewReport], before: Sequence[NewReport] = ()
) -> tuple[list[AddResult], dict[str, list[tuple[Any, ...]]]]:
    """Store `before` then `batch` one report a transaction, then (on an emptied store) the
    same `before` then `batch` in one transaction; assert both give the same answers and
    rows, and return them."""
    answers = []
    for r in [*before, *batch]:
        answers += await write(store, [r])
    one_by_one = await dump(store)
    await wipe(store)
    for r in before:
        await write(store, [r])
    batched = await write(store, batch)
    assert batched == answers[len(before) :]
    assert await dump(store) == one_by_one
    return batched, one_by_one


def latest_copy(cur: Cursor) -> Any:
    """``clusters.payload`` of cluster "c"."""
    cur.execute("SELECT payload FROM clusters WHERE cluster_uuid = 'c'")
    row = cur.fetchone()
    assert row is not None
    return row[0]


async def cluster_row(store: ReportStore, uuid: str) -> tuple[Any, ...]:
    cluster = await store.get_cluster(uuid)
    assert cluster is not None
    return (
        cluster.report_id, cluster.report_ms, cluster.first_seen_ms, cluster.last_seen_ms,
        cluster.opt_in_status, cluster.opt_in_ms,
    )  # fmt: skip


async def test_duplicates_inside_a_batch_and_of_earlier_reports(store: ReportStore) -> None:
    known = report("k", digest="known")
    first, second = report("a", digest="d1"), report("a", digest="d2", report_ms=T0 + 1)
    again, known_again = report("a", digest="d1", report_ms=T0 + 2), report("k", digest="known")
    batch = [first, known_again, second, again, report("b", digest="known")]
    answers, rows = await both_ways(store, batch, before=[known])
    assert answers == [
        AddResult(first.id, False),
        AddResult(known.id, True),
        AddResult(second.id, False),
        AddResult(first.id, True),  # the first one's id, from earlier in the batch
        AddResult(known.id, True),
    ]
    assert {row[0] for row in rows["reports"]} == {known.id, first.id, second.id}
    assert await cluster_row(store, "a") == (second.id, T0 + 1, T0, T0 + 1, None, None)


@pytest.mark.parametrize("order", ["older first", "newer first"])
async def test_two_snapshots_of_one_cluster(store: ReportStore, order: str) -> None:
    older = report("c", report_ms=T0 - DAY_MS, version="8.0.0")
    newer = report("c", report_ms=T0, version="8.2.0")
    batch = [older, newer] if order == "older first" else [newer, older]
    await both_ways(store, batch)
    assert await cluster_row(store, "c") == (newer.id, T0, T0 - DAY_MS, T0, None, None)
    cluster = await store.get_cluster("c")
    assert cluster is not None
    assert cluster.version == "8.2.0"
    snapshot = await store.latest_snapshot("c")
    assert snapshot is not None
    assert snapshot.id == newer.id


async def test_equal_report_times_the_later_in_the_batch_wins(store: ReportStore) -> None:
    one = report("c", payload={"cluster_uuid": "c", "n": 1})
    two = report("c", payload={"cluster_uuid": "c", "n": 2})
    opt_out, opt_in = (report("c", kind="opt-in", opt_in=flag) for flag in (False, True))
    _, rows = await both_ways(store, [one, opt_out, two, opt_in])
    assert await cluster_row(store, "c") == (two.id, T0, T0, T0, True, T0)
    (cluster,) = rows["clusters"]
    # Neither copies the latest payload at ingest (PostgreSQL leaves it to the fold, SQLite
    # keeps one copy): the reads take it from the report
    assert await store._db.run(False, latest_copy) is None
    assert await store.field_values(("n",), since_ms=0) == [FieldValue("number", 2.0)]
    await store.fold_field_days(10)
    assert await store.field_values(("n",), since_ms=0) == [FieldValue("number", 2.0)]
    # the fold writes PostgreSQL's jsonb; SQLite's reads go on taking the report's text
    copy = await store._db.run(False, latest_copy)
    assert copy == ({"cluster_uuid": "c", "n": 2} if store.backend == "postgresql" else None)


@pytest.mark.parametrize("order", ["snapshot first", "opt-in first"])
async def test_an_opt_in_and_a_snapshot_of_one_cluster(store: ReportStore, order: str) -> None:
    snap = report("c", report_ms=T0 - 5)
    opt_in = report("c", kind="opt-in", opt_in=False, report_ms=T0 - 9)
    batch = [snap, opt_in] if order == "snapshot first" else [opt_in, snap]
    _, rows = await both_ways(store, batch)
    assert await cluster_row(store, "c") == (snap.id, T0 - 5, T0 - 9, T0 - 5, False, T0 - 9)
    assert [row[1] for row in rows["field_days_pending"]] == [snap.id]


async def test_new_and_known_clusters_in_one_batch(store: ReportStore) -> None:
    before = [
        report("newer-known", report_ms=T0),
        report("older-known", report_ms=T0 - 2 * DAY_MS),
        report("opted", kind="opt-in", opt_in=True, report_ms=T0),
        report("nameless", kind="opt-in", opt_in=True, report_ms=T0),
    ]
    batch = [
        report("fresh", report_ms=T0 - 3),
        report("newer-known", report_ms=T0 - DAY_MS),  # older than the stored one: kept
        report("older-known", report_ms=T0 - DAY_MS),  # newer: replaces it
        report("opted", kind="opt-in", opt_in=False, report_ms=T0 - 1),  # older: ignored
        report("opted", report_ms=T0 - 1),
        report("fresh-opt-in", kind="opt-in", opt_in=False, report_ms=T0 - 4),
        report("nameless", kind="opt-in", opt_in=False, report_ms=T0 + 1),
    ]
    await both_ways(store, batch, before)
    assert await cluster_row(store, "fresh") == (batch[0].id, T0 - 3, T0 - 3, T0 - 3, None, None)
    assert await cluster_row(store, "newer-known") == (
        before[0].id, T0, T0 - DAY_MS, T0, None, None,
    )  # fmt: skip
    assert await cluster_row(store, "older-known") == (
        batch[2].id, T0 - DAY_MS, T0 - 2 * DAY_MS, T0 - DAY_MS, None, None,
    )  # fmt: skip
    assert await cluster_row(store, "opted") == (batch[4].id, T0 - 1, T0 - 1, T0, True, T0)
    assert await cluster_row(store, "fresh-opt-in") == (None, None, T0 - 4, T0 - 4, False, T0 - 4)
    assert await cluster_row(store, "nameless") == (None, None, T0, T0 + 1, False, T0 + 1)
    nameless = await store.get_cluster("nameless")
    assert nameless is not None
    assert nameless.cluster_name is None


async def test_an_orphaned_pending_row_is_reused_in_a_batch(store: ReportStore) -> None:
    late = report("c", report_ms=T0 - 7)
    await write(store, [late])

    def orphan(cur: Cursor) -> None:
        cur.execute(store.dialect.sql("DELETE FROM reports WHERE id = ?"), (late.id,))

    await store._db.run(True, orphan)
    again = dataclasses.replace(late, digest="again")
    answers = await write(store, [report("d"), again])
    assert answers[1] == AddResult(late.id, False)
    rows = await dump(store)
    assert [row[1] for row in rows["field_days_pending"]].count(late.id) == 1
    assert late.id in {row[0] for row in rows["reports"]}


async def test_a_failing_batch_leaves_nothing_behind(store: ReportStore) -> None:
    stored = report("a")
    await write(store, [stored])
    rows = await dump(store)
    clash = dataclasses.replace(stored, digest="other")  # the same id again: refused
    with pytest.raises(StoreUnavailableError):  # the backend's integrity error
        await write(store, [report("b"), report("a", report_ms=T0 + 1), clash])
    assert await dump(store) == rows


async def test_a_batch_larger_than_a_statement_takes(store: ReportStore) -> None:
    batch = [report(f"c{i % 700}", report_ms=T0 - i) for i in range(2100)]
    batch.append(dataclasses.replace(batch[5], id="dup"))
    answers = await write(store, batch)
    assert answers[-1] == AddResult(batch[5].id, True)
    assert await store.count_reports() == 2100
    assert await cluster_row(store, "c3") == (batch[3].id, T0 - 3, T0 - 1403, T0 - 3, None, None)


class _DeletingAfterDigests:
    """A cursor that deletes `digest`'s row right after the batch's digest insert: what a
    deletion committed by another receiver between that insert and its lookup looks like."""

    def __init__(self, cur: Cursor, digest: str) -> None:
        self._cur = cur
        self._digest = digest
        self._returned: list[Any] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)

    def execute(self, sql: str, params: Any = None) -> Any:
        result = self._cur.execute(sql, params)
        if sql.startswith("INSERT INTO report_digests"):
            self._returned = self._cur.fetchall()  # the insert's RETURNING rows
            mark = "%s" if "%s" in sql else "?"
            self._cur.execute(f"DELETE FROM report_digests WHERE digest = {mark}", (self._digest,))
        return result

    def fetchall(self) -> list[Any]:
        returned, self._returned = self._returned, None
        return returned if returned is not None else list(self._cur.fetchall())


async def test_a_known_report_deleted_meanwhile_is_retried_not_called_a_duplicate(
    store: ReportStore,
) -> None:
    """Before, the report was answered as a duplicate of a report no longer stored, and
    itself never stored; now the batch fails (503 store_busy for a batch of one; the writer
    retries a larger batch report by report) and nothing of it is left."""
    known = report("a")
    await write(store, [known])
    again = dataclasses.replace(known, id="again")  # the same digest

    def insert(cur: Cursor) -> list[AddResult]:
        return writes.insert_reports(
            _DeletingAfterDigests(cur, known.digest), store.dialect, [report("b"), again]
        )

    with pytest.raises(StoreBusyError, match="deleted while"):
        await store._db.run(True, insert)
    assert await store.count_reports() == 1
    answers = await write(store, [again])
    assert answers == [AddResult(known.id, duplicate=True)]  # still known: nothing was lost
