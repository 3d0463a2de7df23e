"""A fold batch is bounded by its snapshots, payload characters and cells (security review:
a batch holds the store's single writer, so an unbounded one stalls ingest): it stops at the
bound, always counts at least one snapshot, the next batches count the rest, and the
aggregate stays exact."""

from __future__ import annotations

from typing import Any

import pytest

from telemetry_service.receiver import load_config
from telemetry_service.receiver.storage import ReportStore
from telemetry_service.receiver.storage.fold import FoldTask
from telemetry_service.receiver.storage.queries.field_days import snapshot_cells
from telemetry_service.receiver.storage.queries.field_fold import Budget

from .test_field_days import assert_exact, fill

pytestmark = pytest.mark.anyio


def test_the_budget_keys_and_their_defaults() -> None:
    store = load_config({}, env={}).store
    assert (store.fold_batch_bytes, store.fold_batch_cells) == (4 << 20, 10_000)
    env = {"TELEMETRY_RECEIVER_STORE_FOLDBATCHCELLS": "50"}
    store = load_config({"store": {"foldBatchBytes": 1000}}, env=env).store
    assert (store.fold_batch_bytes, store.fold_batch_cells) == (1000, 50)


async def pending(store: ReportStore) -> list[tuple[str, str]]:
    """(report id, payload text) of the pending snapshots, in the fold's order."""

    def read(cur: Any) -> list[tuple[str, str]]:
        cur.execute(
            "SELECT p.report_id, r.payload FROM field_days_pending p JOIN reports r "
            "ON r.id = p.report_id ORDER BY p.day, p.report_id"
        )
        return [(str(i), str(text)) for i, text in cur.fetchall()]

    return await store._db.run(False, read)


async def test_a_batch_stops_at_its_bound_and_the_rest_fold_later(store: ReportStore) -> None:
    await fill(store)
    queue = await pending(store)
    assert len(queue) == 90
    cells = [len(snapshot_cells(*item)) for item in queue]
    # cells: the bound is reached after the first two snapshots
    assert await store.fold_field_days(Budget(1000, 1 << 30, cells[0] + cells[1])) == 2
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
    assert await FoldTask(store, batch=1000, batch_cells=cells[0] * 5).fold() == 84
    assert await pending(store) == []
    assert await assert_exact(store) >= 12
