"""The event store on both backends: batches and their aggregates, idempotency (also two
stores on one PostgreSQL), deletions, retention and partitions."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest

from telemetry_service.common.clock import DAY_MS, to_ms
from telemetry_service.receiver.storage import (
    EventBatch,
    NewEvent,
    ReportStore,
    open_report_store,
)
from telemetry_service.testing import FakeClock

pytestmark = pytest.mark.anyio

T0 = to_ms(FakeClock().now)  # 2026-03-15T12:00Z
DAY0 = T0 // DAY_MS


def event(
    event_type: str = "click", cluster: str = "c-1", day: int = 0, **props: object
) -> NewEvent:
    """An event at 12:00 UTC `day` days from 2026-03-15."""
    return NewEvent(
        T0 + day * DAY_MS,
        event_type,
        cluster,
        orjson.dumps({"cluster_uuid": cluster}).decode(),
        orjson.dumps(props).decode(),
    )


def batch(*events: NewEvent, key: str | None = None, cluster: str = "c-1") -> EventBatch:
    return EventBatch(
        key or uuid.uuid4().hex, "telemetry-service-server", cluster, T0, list(events)
    )


async def test_a_batch_is_stored_with_its_aggregates(store: ReportStore) -> None:
    result = await store.events.add(
        batch(
            event("click", "a", -1, n=1),
            event("click", "a", 0, n=2),
            event("click", "b", 0, n=3),
            event("view", "a", 0),
        )
    )
    assert (result.stored, result.duplicate) == (4, False)
    types = {t.event_type: t for t in await store.events.types(DAY0 - 1, DAY0 + 1)}
    assert types["click"].per_day == {DAY0 - 1: 1, DAY0: 2}
    assert types["click"].clusters == 2
    assert (types["click"].first_ms, types["click"].last_ms) == (T0 - DAY_MS, T0)
    assert types["view"].per_day == {DAY0: 1}
    # A window that starts today counts only the clusters seen since.
    assert {t.event_type: t.clusters for t in await store.events.types(DAY0, DAY0 + 1)} == {
        "click": 2,
        "view": 1,
    }
    assert await store.events.days("click", DAY0 - 1, DAY0 + 1) == {
        DAY0 - 1: (1, 1),
        DAY0: (2, 2),
    }
    recent = await store.events.recent(event_type="click", cluster_uuid=None, limit=10)
    # Newest first; of one millisecond, the last stored first.
    assert [orjson.loads(e.properties)["n"] for e in recent] == [3, 2, 1]
    assert [e.timestamp_ms for e in recent] == [T0, T0, T0 - DAY_MS]
    mine = await store.events.recent(event_type="click", cluster_uuid="a", limit=1)
    assert [(e.cluster_uuid, e.timestamp_ms) for e in mine] == [("a", T0)]
    props = await store.events.recent_properties("click", T0 - DAY_MS, T0 + 1, 2)
    assert len(props) == 2
    assert all(orjson.loads(p)["n"] in (2, 3) for p in props)
    assert await store.events.known("click")
    assert not await store.events.known("nope")
    exported = [e async for e in store.events.iter_events(T0 - 2 * DAY_MS, T0 + 1, page=2)]
    assert [e.timestamp_ms for e in exported] == sorted(e.timestamp_ms for e in exported)
    assert len(exported) == 4


async def test_aggregates_of_a_group_keep_any_text_and_the_span_of_each_pair(
    store: ReportStore,
) -> None:
    """The aggregate rows travel to PostgreSQL as one JSON text: names that JSON escapes
    come back as they were, and a group's counts and first/last times are exact."""
    odd = ['say "hi"', "back\\slash", "ünï \u2028 ✓", "tab-less/slash"]
    events = [event(t, f"c-{i % 3}", day) for i, t in enumerate(odd * 5) for day in (-2, 0, -1)]
    results = await asyncio.gather(
        *(store.events.add(batch(*events[i::4])) for i in range(4))  # one group, or a few
    )
    assert sum(r.stored for r in results) == len(events) == 60
    types = {t.event_type: t for t in await store.events.types(DAY0 - 2, DAY0 + 1)}
    assert set(types) == set(odd)
    for t in odd:
        assert types[t].per_day == {DAY0 - 2: 5, DAY0 - 1: 5, DAY0: 5}
        assert (types[t].first_ms, types[t].last_ms) == (T0 - 2 * DAY_MS, T0)
        assert types[t].clusters == 3
        days = await store.events.days(t, DAY0 - 2, DAY0 + 1)
        assert days == {DAY0 - 2: (5, 3), DAY0 - 1: (5, 3), DAY0: (5, 3)}


async def test_the_same_batch_key_is_stored_once(store: ReportStore) -> None:
    first = await store.events.add(batch(event(), event(), key="k-1"))
    again = await store.events.add(batch(event(), event(), key="k-1"))
    assert (first.stored, first.duplicate) == (2, False)
    assert (again.stored, again.duplicate) == (0, True)
    together = await asyncio.gather(
        *(store.events.add(batch(event(), key="k-2")) for _ in range(8))
    )
    assert sorted(r.duplicate for r in together) == [False] + [True] * 7
    assert len(await store.events.recent(event_type=None, cluster_uuid=None, limit=50)) == 3
    assert (await store.events.types(DAY0, DAY0 + 1))[0].per_day == {DAY0: 3}


@pytest.mark.postgres
async def test_two_stores_on_one_postgres_store_a_batch_once(postgres_url: str) -> None:
    stores = [open_report_store(postgres_url) for _ in range(2)]
    for s in stores:
        await s.open()
    try:
        results = await asyncio.gather(
            *(
                s.events.add(batch(event(), event(), key=f"k-{i}"))
                for s in stores
                for i in (1, 2, 3)
            )
        )
        assert sum(r.stored for r in results) == 6
        assert sum(r.duplicate for r in results) == 3
        rows = await stores[1].events.recent(event_type=None, cluster_uuid=None, limit=50)
        assert len(rows) == 6
        assert await stores[0].events.days("click", DAY0, DAY0 + 1) == {DAY0: (6, 1)}
    finally:
        for s in stores:
            await s.close()


async def test_forgetting_a_cluster_removes_its_events_and_counts(store: ReportStore) -> None:
    await store.events.add(batch(event("click", "a"), event("click", "b"), event("view", "a")))
    counts = await store.delete_cluster("a")
    assert (counts.events, counts.reports, counts.clusters) == (2, 0, 0)
    types = await store.events.types(DAY0, DAY0 + 1)
    assert [(t.event_type, t.per_day, t.clusters) for t in types] == [("click", {DAY0: 1}, 1)]
    assert await store.events.days("click", DAY0, DAY0 + 1) == {DAY0: (1, 1)}
    assert not await store.events.known("view")
    assert await store.events.recent(event_type=None, cluster_uuid="a", limit=5) == []


async def test_retention_deletes_the_days_before_the_cutoff(store: ReportStore) -> None:
    # Days 40 and 10 before today, in two months (and two partitions on PostgreSQL).
    await store.events.add(batch(event("old", day=-40), event("click", day=-10), event()))
    deleted = await store.delete_events_before(T0 - 12 * DAY_MS)
    assert deleted == 1
    assert not await store.events.known("old")
    kept = await store.events.types(DAY0 - 100, DAY0 + 1)
    assert {t.event_type: t.per_day for t in kept} == {"click": {DAY0 - 10: 1, DAY0: 1}}
    assert len(await store.events.recent(event_type=None, cluster_uuid=None, limit=9)) == 2
    if store.backend == "postgresql":
        tables = await store._db.run(
            False,
            lambda cur: sorted(
                row[0]
                for row in cur.execute(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c "
                    "ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass"
                ).fetchall()
            ),
        )
        assert tables == ["events_p202603"]  # February's partition was dropped whole
