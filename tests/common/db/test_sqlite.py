"""SQLite under both stores: pragmas, pool shapes, the write lock, and B6 (close waits)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from telemetry_service.common.db import sqlite
from telemetry_service.common.db.base import Cursor, StoreUnavailableError, count_and_page
from telemetry_service.common.db.sqlite import SqliteDatabase
from telemetry_service.core import open_store
from telemetry_service.receiver.storage import open_report_store

pytestmark = pytest.mark.anyio

SIDES = ["host", "receiver"]


def opener(side: str, path: Path) -> Any:
    url = f"sqlite:{path}"
    return open_store(url, path.parent) if side == "host" else open_report_store(url)


@pytest.mark.parametrize(("side", "connections"), [("host", 4), ("receiver", 5)])
async def test_pragmas_and_pool_shape(side: str, connections: int, tmp_path: Path) -> None:
    """The host pools 4 connections; the receiver has 4 readers and 1 writer."""
    store = opener(side, tmp_path / "s.db")
    await store.open()
    db = store._db
    try:
        assert len(db._all) == connections
        for conn in db._all:
            pragmas = [
                conn.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("journal_mode", "synchronous", "busy_timeout")
            ]
            assert pragmas == ["wal", 2, 30_000]  # 2 is FULL
    finally:
        await store.close()


@pytest.mark.parametrize("side", SIDES)
async def test_a_file_that_cannot_be_opened_is_unavailable(side: str, tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    store = opener(side, tmp_path / "dir.db")
    with pytest.raises(StoreUnavailableError, match=r"^cannot open the SQLite store .*dir\.db"):
        await store.open()


@pytest.mark.parametrize("side", SIDES)
async def test_close_waits_for_connections_still_lent(side: str, tmp_path: Path) -> None:
    """B6: a read that holds a connection finishes before close() closes it."""
    store = opener(side, tmp_path / "s.db")
    await store.open()
    entered, release = threading.Event(), threading.Event()

    def slow_read(cur: Cursor) -> int:
        entered.set()
        release.wait(10)
        return int(cur.execute("SELECT 1").fetchone()[0])

    results: list[int] = []
    closed = anyio.Event()

    async def read() -> None:
        results.append(await store._db.run(False, slow_read))

    async def close() -> None:
        await store.close()
        closed.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(read)
        await anyio.to_thread.run_sync(entered.wait)
        tg.start_soon(close)
        await anyio.sleep(0.3)
        assert not closed.is_set()
        release.set()
    assert results == [1]
    with pytest.raises(StoreUnavailableError, match="closed"):
        await store._db.run(False, slow_read)
    assert not await store.ping()


def test_close_waits_no_longer_than_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "BUSY_TIMEOUT_S", 0.2)
    db = SqliteDatabase(tmp_path / "s.db")
    db.open()
    entered, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold(cur: Cursor) -> None:
        entered.set()
        release.wait(10)
        cur.execute("SELECT 1")

    def run() -> None:
        try:
            db.transaction(False, hold)
        except StoreUnavailableError as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    entered.wait(10)
    started = time.monotonic()
    db.close()
    assert 0.15 < time.monotonic() - started < 5
    release.set()
    thread.join(10)
    assert len(errors) == 1  # its connection was closed under it: one clear error


def test_writers_of_two_processes_take_turns(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE waits for the other holder of the write lock, then succeeds."""
    first, second = SqliteDatabase(tmp_path / "s.db"), SqliteDatabase(tmp_path / "s.db")
    first.open()
    second.open()
    first.transaction(True, lambda cur: cur.execute("CREATE TABLE t (v INTEGER)"))
    holding, release = threading.Event(), threading.Event()

    def hold(cur: Cursor) -> None:
        cur.execute("INSERT INTO t VALUES (1)")
        holding.set()
        release.wait(10)

    thread = threading.Thread(target=first.transaction, args=(True, hold))
    thread.start()
    holding.wait(10)
    threading.Timer(0.3, release.set).start()
    second.transaction(True, lambda cur: cur.execute("INSERT INTO t VALUES (2)"))
    thread.join(10)
    rows = second.transaction(False, lambda cur: cur.execute("SELECT v FROM t").fetchall())
    assert sorted(row[0] for row in rows) == [1, 2]
    first.close()
    second.close()


def test_a_failed_transaction_rolls_back(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "s.db", dedicated_writer=True)
    db.open()
    db.transaction(True, lambda cur: cur.execute("CREATE TABLE t (v INTEGER)"))

    def fail(cur: Cursor) -> None:
        cur.execute("INSERT INTO t VALUES (1)")
        cur.execute("INSERT INTO nowhere VALUES (1)")

    with pytest.raises(StoreUnavailableError, match="no such table: nowhere"):
        db.transaction(True, fail)
    assert db.transaction(False, lambda cur: cur.execute("SELECT COUNT(*) FROM t").fetchone()) == (
        0,
    )
    db.close()


def test_count_and_page_counts_every_row_and_returns_one_page(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "page.db")
    db.open()
    try:

        def fill(cur: Cursor) -> None:
            cur.execute("CREATE TABLE t (n INTEGER, odd INTEGER)")
            for n in range(10):
                cur.execute("INSERT INTO t VALUES (?, ?)", [n, n % 2])

        db.transaction(True, fill)
        total, rows = db.transaction(
            False,
            lambda cur: count_and_page(
                cur, db.sql, "n", "t WHERE odd = ?", "n DESC", [1], limit=2, offset=1
            ),
        )
        assert total == 5
        assert [row[0] for row in rows] == [7, 5]
    finally:
        db.close()


async def test_ping_answers_false_once_closed(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "ping.db")
    db.open()
    assert await db.ping() is True
    db.close()
    assert await db.ping() is False
