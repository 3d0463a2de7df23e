"""A fold batch is bounded by its snapshots, payload characters and distinct cells (security
review: its write transaction holds the store's single writer, so an unbounded one stalls
ingest): it stops at the bound, always counts at least one snapshot, the next batches count
the rest, and the aggregate stays exact. A batch is counted in a read transaction and written
in a write transaction; when a deletion changes it in between, the write counts what is left
of it again."""

from __future__ import annotations

from typing import Any

import pytest

from telemetry_service.common.db.base import Cursor
from telemetry_service.receiver import load_config
from telemetry_service.receiver.storage import ReportStore
from telemetry_service.receiver.storage.fold import FoldTask
from telemetry_service.receiver.storage.queries import field_fold
from telemetry_service.receiver.storage.queries.field_days import snapshot_cells
from telemetry_service.receiver.storage.queries.field_fold import Budget

from .test_field_days import assert_exact, fill, fold_all

pytestmark = pytest.mark.anyio


def test_the_budget_keys_and_their_defaults() -> None:
    store = load_config({}, env={}).store
    assert (store.fold_batch_bytes, store.fold_batch_cells) == (4 << 20, 10_000)
    env = {"TELEMETRY_RECEIVER_STORE_FOLDBATCHCELLS": "50"}
    store = load_config({"store": {"foldBatchBytes": 1000}}, env=env).store
    assert (store.fold_batch_bytes, store.fold_batch_cells) == (1000, 50)


async def pending(store: ReportStore) -> list[tuple[str, str, int]]:
    """(report id, payload text, day) of the pending snapshots, in the fold's order."""

    def read(cur: Any) -> list[tuple[str, str, int]]:
        cur.execute(
            "SELECT p.report_id, r.payload, p.day FROM field_days_pending p JOIN reports r "
            "ON r.id = p.report_id ORDER BY p.day, p.report_id"
        )
        return [(str(i), str(text), int(day)) for i, text, day in cur.fetchall()]

    return await store._db.run(False, read)


def distinct(items: list[tuple[str, str, int]]) -> int:
    """The rows a batch of `items` writes: its distinct (day, cell) pairs."""
    return len({(day, cell) for i, text, day in items for cell in snapshot_cells(i, text)})


async def test_a_batch_stops_at_its_bound_and_the_rest_fold_later(store: ReportStore) -> None:
    await fill(store)
    queue = await pending(store)
    assert len(queue) == 90
    # distinct cells: the bound is reached after the first two snapshots
    assert distinct(queue[:1]) < distinct(queue[:2])
    assert await store.fold_field_days(Budget(1000, 1 << 30, distinct(queue[:2]))) == 2
    assert await pending(store) == queue[2:]
    # characters: after three more (the third passes the bound)
    chars = len(queue[2][1]) + len(queue[3][1]) + 1
    assert await store.fold_field_days(Budget(1000, chars, 1 << 30)) == 3
    assert await pending(store) == queue[5:]
    # a bound below one snapshot still counts one, so that the backlog shrinks
    assert await store.fold_field_days(Budget(1000, 1, 1)) == 1
    assert await pending(store) == queue[6:]
    assert await assert_exact(store) >= 12  # folded and pending ones
    # the background fold goes on past the batches cut short, until the backlog is counted
    cells = len(snapshot_cells(*queue[0][:2]))
    assert await FoldTask(store, batch=1000, batch_cells=cells * 2).fold() == 84
    assert await pending(store) == []
    assert await assert_exact(store) >= 12


async def test_a_batch_changed_after_its_count_is_counted_again(store: ReportStore) -> None:
    """A deletion between the count and the write: the snapshots it took are not counted, an
    orphaned row (its report gone) is removed uncounted, the others are counted once."""
    await fill(store, seed=5)
    queue = await pending(store)
    d = store.dialect
    counted = await store._db.run(False, lambda cur: field_fold.count_pending(cur, d, Budget(40)))
    assert len(counted.keys) == 40
    assert all(counted.keys.values())
    orphan = queue[3][0]

    def make_orphan(cur: Cursor) -> None:  # the race of ``sql.PENDING_STORED``
        cur.execute(d.sql("DELETE FROM reports WHERE id = ?"), (orphan,))

    await store._db.run(True, make_orphan)
    deleted = await store.delete_cluster("c2")
    assert deleted.reports > 0
    left = {key for key in counted.keys if key[1] in {i for i, _, _ in await pending(store)}}
    assert 0 < len(left) < 40
    folded = await store._write(lambda cur: field_fold.fold(cur, d, counted))
    assert folded == len(left) + 1  # the orphan's row goes too
    remaining = await pending(store)
    assert not {i for i, _, _ in remaining} & {key[1] for key in counted.keys}
    await assert_exact(store)
    await fold_all(store)
    await assert_exact(store)


async def test_a_batch_folded_by_another_fold_meanwhile_is_not_counted_twice(
    store: ReportStore,
) -> None:
    await fill(store, seed=8)
    d = store.dialect
    counted = await store._db.run(False, lambda cur: field_fold.count_pending(cur, d, Budget(30)))
    assert await store.fold_field_days(Budget(30)) == 30  # the same batch, first
    assert await store._write(lambda cur: field_fold.fold(cur, d, counted)) == 0
    await fold_all(store)
    await assert_exact(store)
