"""SQLite: one file in WAL mode, pooled connections, optionally one dedicated writer.

``synchronous = FULL`` makes each commit durable before it returns. Several processes may share
the file: writers take turns on SQLite's write lock (``BEGIN IMMEDIATE``, retried until the
30 s busy timeout). :meth:`SqliteDatabase.close` waits, up to that timeout, for connections
still lent to running transactions.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .base import Cursor, Database, StoreError, StoreUnavailableError

__all__ = ["BUSY_TIMEOUT_S", "SqliteDatabase"]

T = TypeVar("T")
BUSY_TIMEOUT_S = 30.0
_Pool = queue.LifoQueue[sqlite3.Connection]


class SqliteDatabase(Database):
    """`readers` pooled connections; with `dedicated_writer`, one more that alone writes."""

    backend = "sqlite"

    def __init__(self, path: Path, *, readers: int = 4, dedicated_writer: bool = False) -> None:
        super().__init__()
        self.path = path
        self._readers: _Pool = queue.LifoQueue()
        self._writers: _Pool = queue.LifoQueue() if dedicated_writer else self._readers
        self._sizes = [(self._readers, readers)] + [(self._writers, 1)] * dedicated_writer
        self._all: list[sqlite3.Connection] = []
        self._lent = 0
        self._returned = threading.Condition()

    def __repr__(self) -> str:
        return f"SqliteDatabase({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S
        )
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for pool, size in self._sizes:
                for _ in range(size):
                    conn = self._connect()
                    self._all.append(conn)
                    pool.put(conn)
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise StoreUnavailableError(
                f"cannot open the SQLite store {self.path}: {exc}"
            ) from None

    def close(self) -> None:
        with self._returned:
            connections, self._all = self._all, []
            self._returned.wait_for(lambda: self._lent == 0, timeout=BUSY_TIMEOUT_S)
        for conn in connections:
            conn.close()
        for pool, _ in self._sizes:
            while not pool.empty():
                pool.get_nowait()

    def transaction(self, write: bool, fn: Callable[[Cursor], T]) -> T:
        pool = self._writers if write else self._readers
        if not self._all:
            raise StoreUnavailableError("the store is closed")
        try:
            conn = pool.get(timeout=BUSY_TIMEOUT_S)
        except queue.Empty:
            raise StoreUnavailableError("the store is closed or overloaded") from None
        with self._returned:
            if not self._all:  # closed while we waited: close() closes it
                raise StoreUnavailableError("the store is closed")
            self._lent += 1
        try:
            return self._run(conn, "BEGIN IMMEDIATE" if write else "BEGIN", fn)
        finally:
            with self._returned:
                if self._all:
                    pool.put(conn)
                self._lent -= 1
                self._returned.notify_all()

    def _run(self, conn: sqlite3.Connection, begin: str, fn: Callable[[Cursor], T]) -> T:
        try:
            deadline = time.monotonic() + BUSY_TIMEOUT_S
            while True:
                try:
                    conn.execute(begin)
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
            try:
                result = fn(conn.cursor())
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result
        except StoreError:
            raise
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"SQLite store {self.path}: {exc}") from exc
