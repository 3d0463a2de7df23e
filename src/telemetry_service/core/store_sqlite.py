"""The SQLite backend of the saved-object store (WAL; safe for several processes on one file)."""

from __future__ import annotations

import queue
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from telemetry_service.common.clock import Clock

from .store import MIGRATIONS, SavedObjectStore, StoreError, StoreUnavailableError, _Cursor

__all__ = ["SqliteStore"]

T = TypeVar("T")
_BUSY_TIMEOUT_MS = 30_000


class SqliteStore(SavedObjectStore):
    backend = "sqlite"

    def __init__(self, path: Path, *, clock: Clock | None = None, pool_size: int = 4) -> None:
        super().__init__(clock)
        self.path = path
        self._pool: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._pool_size = pool_size
        self._all: list[sqlite3.Connection] = []

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            check_same_thread=False,
            timeout=_BUSY_TIMEOUT_MS / 1000,
        )
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for _ in range(self._pool_size):
                conn = self._connect()
                self._all.append(conn)
                self._pool.put(conn)
        except (OSError, sqlite3.Error) as exc:
            self._close()
            raise StoreUnavailableError(f"cannot open SQLite store {self.path}: {exc}") from exc
        self._transaction(True, self._migrate)

    @staticmethod
    def _migrate(cur: _Cursor) -> None:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        applied = {
            row[0] for row in cur.execute("SELECT version FROM schema_migrations").fetchall()
        }
        for version, script in enumerate(MIGRATIONS, start=1):
            if version in applied:
                continue
            for statement in filter(str.strip, script.split(";")):
                cur.execute(statement)
            cur.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, datetime('now'))",
                (version,),
            )

    def _close(self) -> None:
        """Close every connection, waiting for operations still running in worker threads."""
        connections, self._all = self._all, []
        for _ in connections:
            try:
                self._pool.get(timeout=_BUSY_TIMEOUT_MS / 1000)
            except queue.Empty:  # pragma: no cover - an operation outlived the busy timeout
                break
        for conn in connections:
            conn.close()

    def _transaction(self, write: bool, fn: Callable[[_Cursor], T]) -> T:
        if not self._all:
            raise StoreUnavailableError("the store is closed")
        try:
            conn = self._pool.get(timeout=_BUSY_TIMEOUT_MS / 1000)
        except queue.Empty:
            raise StoreUnavailableError("the store is closed or overloaded") from None
        if not self._all:  # closed while we waited: give the connection back to close()
            self._pool.put(conn)
            raise StoreUnavailableError("the store is closed")
        try:
            deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
            while True:
                try:
                    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
            try:
                result = fn(conn.cursor())
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result
        except StoreError:
            raise
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"SQLite store {self.path}: {exc}") from exc
        finally:
            self._pool.put(conn)
