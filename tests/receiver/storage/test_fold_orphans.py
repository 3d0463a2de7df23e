"""A pending row whose report is gone (security review: on PostgreSQL a snapshot stored
between a deletion's removal of the pending rows and its ``DELETE FROM reports`` loses its
report but keeps its row) is not counted by the reads, is removed by the fold, and does not
stop the same snapshot from being stored again."""

from __future__ import annotations

import dataclasses

import pytest

from telemetry_service.common.clock import DAY_MS
from telemetry_service.common.db.base import Cursor
from telemetry_service.receiver.storage import ReportStore

from .test_field_days import DAY0, assert_exact, fill, fold_all, snapshot

pytestmark = pytest.mark.anyio


async def test_an_orphaned_pending_row_is_not_counted(store: ReportStore) -> None:
    await fill(store, seed=3)
    await store.fold_field_days(40)
    late = snapshot("late", DAY0 - 2 * DAY_MS + 5, {"n": 4, "word": "w"})
    await store.add(late)

    def orphan(cur: Cursor) -> None:  # what the race leaves: the report gone, its row kept
        cur.execute(store.dialect.sql("DELETE FROM reports WHERE id = ?"), (late.id,))

    await store._db.run(True, orphan)
    pending = await store.pending_field_days()
    await assert_exact(store)  # the daily counts and every trend ignore the orphan
    # the same snapshot sent again reuses its row and counts once
    await store.add(dataclasses.replace(late, digest="again"))
    assert await store.pending_field_days() == pending
    await assert_exact(store)
    await store._db.run(True, orphan)
    await fold_all(store)  # removes the orphan
    await assert_exact(store)
