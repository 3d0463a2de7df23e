"""One suite for both saved-object store backends."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from telemetry_service.core import (
    CounterIncrement,
    SavedObjectConflictError,
    SavedObjectNotFoundError,
    SavedObjectStore,
    StoreUnavailableError,
    open_store,
)
from telemetry_service.testing import FakeClock
from tests.support.stores import BACKENDS, store_url

pytestmark = pytest.mark.anyio


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url(request, request.param, tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


@pytest.fixture
async def store(url: str, tmp_path: Path, clock: FakeClock):  # type: ignore[no-untyped-def]
    s = open_store(url, tmp_path, clock=clock)
    await s.open()
    yield s
    await s.close()


async def test_get_missing_raises_not_found(store: SavedObjectStore) -> None:
    with pytest.raises(SavedObjectNotFoundError, match=r"\[telemetry/telemetry\] not found"):
        await store.get("telemetry", "telemetry")


async def test_create_get_and_conflict(store: SavedObjectStore, clock: FakeClock) -> None:
    created = await store.create("t", {"a": 1, "nested": {"x": "ü"}}, id_="one")
    assert created.version == 1
    assert created.created_at == clock.now
    got = await store.get("t", "one")
    assert got.attributes == {"a": 1, "nested": {"x": "ü"}}
    with pytest.raises(SavedObjectConflictError):
        await store.create("t", {"a": 2}, id_="one")
    assert (await store.get("t", "one")).attributes == {"a": 1, "nested": {"x": "ü"}}
    clock.advance(seconds=5)
    replaced = await store.create("t", {"b": 2}, id_="one", overwrite=True)
    assert replaced.attributes == {"b": 2}
    assert replaced.version == 2
    assert (await store.get("t", "one")).updated_at == clock.now


async def test_create_without_id_generates_one(store: SavedObjectStore) -> None:
    a = await store.create("t", {})
    b = await store.create("t", {})
    assert a.id != b.id
    assert len(a.id) == 36


async def test_update_is_partial_and_upserts(store: SavedObjectStore) -> None:
    with pytest.raises(SavedObjectNotFoundError):
        await store.update("telemetry", "telemetry", {"enabled": True})
    upserted = await store.update(
        "telemetry",
        "telemetry",
        {"enabled": True},
        upsert={"enabled": True, "lastVersionChecked": "8.0.0"},
    )
    assert upserted.attributes == {"enabled": True, "lastVersionChecked": "8.0.0"}
    updated = await store.update("telemetry", "telemetry", {"enabled": False})
    assert updated.attributes == {"enabled": False, "lastVersionChecked": "8.0.0"}
    assert updated.version == 2


async def test_namespaces_are_separate(store: SavedObjectStore) -> None:
    await store.create("c", {"n": 1}, id_="x")
    await store.create("c", {"n": 2}, id_="x", namespace="space")
    assert (await store.get("c", "x")).attributes == {"n": 1}
    other = await store.get("c", "x", namespace="space")
    assert other.attributes == {"n": 2}
    assert other.namespace == "space"
    found = await store.find("c")
    assert found.total == 2
    assert (await store.find("c", namespace=None)).total == 1
    with pytest.raises(ValueError, match="only valid in find"):
        await store.get("c", "x", namespace="*")


async def test_increment_counter_creates_and_adds(store: SavedObjectStore) -> None:
    first = await store.increment_counter(
        "usage-counter",
        "d:n:count:server:20260101",
        {"count": 3},
        upsert_attributes={"domainId": "d"},
    )
    assert first.attributes == {"domainId": "d", "count": 3}
    second = await store.increment_counter(
        "usage-counter", "d:n:count:server:20260101", {"count": 2}
    )
    assert second.attributes["count"] == 5
    assert (await store.get("usage-counter", "d:n:count:server:20260101")).attributes["count"] == 5


async def test_increment_counters_adds_to_many_objects(store: SavedObjectStore) -> None:
    await store.increment_counter("usage-counter", "b", {"count": 10})
    changes = [
        CounterIncrement("c", {"count": 1}, {"domainId": "c"}),
        CounterIncrement("b", {"count": 2, "other": 1}),
        CounterIncrement("a", {"count": 3}, namespace="space"),
        CounterIncrement("c", {"count": 4}),  # twice in one batch: both count
    ]
    assert await store.increment_counters("usage-counter", changes) == 4
    assert (await store.get("usage-counter", "c")).attributes == {"domainId": "c", "count": 5}
    assert (await store.get("usage-counter", "b")).attributes == {"count": 12, "other": 1}
    assert (await store.get("usage-counter", "a", namespace="space")).attributes["count"] == 3
    assert await store.increment_counters("usage-counter", []) == 0


async def test_increment_counters_is_all_or_nothing(store: SavedObjectStore) -> None:
    unstorable = {"domainId": object()}  # fails inside the transaction, after "a" was written
    changes = [CounterIncrement("a", {"count": 1}), CounterIncrement("z", {"count": 1}, unstorable)]
    with pytest.raises(TypeError):
        await store.increment_counters("usage-counter", changes)
    with pytest.raises(SavedObjectNotFoundError):
        await store.get("usage-counter", "a")


async def test_delete(store: SavedObjectStore) -> None:
    await store.create("t", {}, id_="gone")
    await store.delete("t", "gone")
    with pytest.raises(SavedObjectNotFoundError):
        await store.get("t", "gone")
    with pytest.raises(SavedObjectNotFoundError):
        await store.delete("t", "gone")


async def test_find_pages_sorts_and_filters_by_age(
    store: SavedObjectStore, clock: FakeClock
) -> None:
    for i in range(25):
        await store.create("f", {"i": i}, id_=f"id{i:02d}")
        clock.advance(minutes=1)
    page = await store.find("f", page=2, per_page=10)
    assert page.total == 25
    assert [o.attributes["i"] for o in page.saved_objects] == list(range(10, 20))
    desc = await store.find("f", per_page=3, sort_order="desc")
    assert [o.id for o in desc.saved_objects] == ["id24", "id23", "id22"]
    old = await store.find("f", updated_before=dt.datetime(2026, 1, 1, 0, 5, tzinfo=dt.UTC))
    assert [o.id for o in old.saved_objects] == ["id00", "id01", "id02", "id03", "id04"]
    with pytest.raises(ValueError):
        await store.find("f", per_page=0)


async def test_lease_is_exclusive_until_it_expires(
    store: SavedObjectStore, clock: FakeClock
) -> None:
    assert await store.acquire_lease("send", "a", ttl_s=60)
    assert not await store.acquire_lease("send", "b", ttl_s=60)
    assert await store.acquire_lease("send", "a", ttl_s=60)  # renew
    clock.advance(seconds=61)
    assert await store.acquire_lease("send", "b", ttl_s=60)
    await store.release_lease("send", "a")  # not the holder: no effect
    assert not await store.acquire_lease("send", "a", ttl_s=60)
    await store.release_lease("send", "b")
    assert await store.acquire_lease("send", "a", ttl_s=60)


async def test_reopen_keeps_data_and_migrations_are_idempotent(url: str, tmp_path: Path) -> None:
    first = open_store(url, tmp_path)
    await first.open()
    await first.create("t", {"kept": True}, id_="k")
    await first.close()
    second = open_store(url, tmp_path)
    await second.open()
    assert (await second.get("t", "k")).attributes == {"kept": True}
    await second.close()


async def test_closed_store_is_unavailable(store: SavedObjectStore) -> None:
    await store.close()
    with pytest.raises(StoreUnavailableError):
        await store.get("t", "x")
    assert not await store.ping()


def _increment_many(url: str, data: str, times: int) -> None:
    import asyncio

    async def run() -> None:
        store = open_store(url, Path(data))
        await store.open()
        for _ in range(times):
            await store.increment_counter("usage-counter", "shared", {"count": 1})
        await store.close()

    asyncio.run(run())


def _increment_batches(url: str, data: str, times: int, reverse: bool) -> None:
    import asyncio

    ids = [f"key{i}" for i in range(20)]
    changes = [CounterIncrement(id_, {"count": 1}) for id_ in (ids[::-1] if reverse else ids)]

    async def run() -> None:
        store = open_store(url, Path(data))
        await store.open()
        for _ in range(times):
            await store.increment_counters("usage-counter", changes)
        await store.close()

    asyncio.run(run())


def _run_four(target: Any, *args_of: tuple[Any, ...]) -> None:
    """Run `target` in four spawned processes, with the given arguments, and wait for them."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=target, args=args) for args in args_of]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=300)
        assert proc.exitcode == 0


async def test_four_processes_increment_batches_exactly(url: str, tmp_path: Path) -> None:
    """Batches of the same keys given in opposite orders neither deadlock nor lose a count."""
    _run_four(_increment_batches, *((url, str(tmp_path), 100, i % 2 == 1) for i in range(4)))
    store = open_store(url, tmp_path)
    await store.open()
    found = await store.find("usage-counter", per_page=100)
    assert {o.id: o.attributes["count"] for o in found.saved_objects} == {
        f"key{i}": 400 for i in range(20)
    }
    await store.close()


async def test_four_processes_increment_exactly(url: str, tmp_path: Path) -> None:
    _run_four(_increment_many, *((url, str(tmp_path), 1000) for _ in range(4)))
    store = open_store(url, tmp_path)
    await store.open()
    assert (await store.get("usage-counter", "shared")).attributes["count"] == 4000
    await store.close()
