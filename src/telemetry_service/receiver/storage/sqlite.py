"""The SQLite backend: one file in WAL mode, one writer connection, pooled readers.

``synchronous = FULL`` makes each commit durable before the writer resolves its futures.
Several processes may share the file (``--workers``): writers then take turns on SQLite's
write lock (``BEGIN IMMEDIATE`` with a busy timeout).
"""

from __future__ import annotations

import queue
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .base import Cursor, ReportStore
from .errors import StoreError, StoreUnavailableError
from .migrations import MIGRATION_TABLE, SQLITE, statements

__all__ = ["SqliteReportStore", "sqlite_json_path"]

T = TypeVar("T")
_BUSY_TIMEOUT_MS = 30_000
_READERS = 4


def sqlite_json_path(path: Sequence[str]) -> str:
    """The SQLite JSON path of object keys: ``$."a"."b"`` (keys hold no ``"`` or ``\\``)."""
    return "$" + "".join(f'."{segment}"' for segment in path)


class SqliteReportStore(ReportStore):
    backend = "sqlite"

    def __init__(self, path: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self._writer_conn: sqlite3.Connection | None = None
        self._readers: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._all: list[sqlite3.Connection] = []

    def __repr__(self) -> str:
        return f"SqliteReportStore({str(self.path)!r})"

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
        self._all.append(conn)
        return conn

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer_conn = self._connect()
            for _ in range(_READERS):
                self._readers.put(self._connect())
        except (OSError, sqlite3.Error) as exc:
            self._close()
            raise StoreUnavailableError(
                f"cannot open the SQLite store {self.path}: {exc}"
            ) from None
        self._transaction(True, self._migrate)

    @staticmethod
    def _migrate(cur: Cursor) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {MIGRATION_TABLE} "
            "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        cur.execute(f"SELECT version FROM {MIGRATION_TABLE}")
        applied = {row[0] for row in cur.fetchall()}
        for version, script in enumerate(SQLITE, start=1):
            if version in applied:
                continue
            for statement in statements(script):
                cur.execute(statement)
            cur.execute(
                f"INSERT INTO {MIGRATION_TABLE} (version, applied_at) VALUES (?, datetime('now'))",
                (version,),
            )

    def _close(self) -> None:
        for conn in self._all:
            conn.close()
        self._all.clear()
        self._writer_conn = None
        while not self._readers.empty():
            self._readers.get_nowait()

    def _transaction(self, write: bool, fn: Callable[[Cursor], T]) -> T:
        if not self._all:
            raise StoreUnavailableError("the store is closed")
        if write:
            assert self._writer_conn is not None
            return self._run(self._writer_conn, "BEGIN IMMEDIATE", fn)
        conn = self._readers.get()
        try:
            return self._run(conn, "BEGIN", fn)
        finally:
            self._readers.put(conn)

    def _run(self, conn: sqlite3.Connection, begin: str, fn: Callable[[Cursor], T]) -> T:
        try:
            deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
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

    def _field_select(self, path: Sequence[str]) -> tuple[str, list[Any]]:
        json_path = sqlite_json_path(path)
        return (
            "json_type(payload, ?), CASE WHEN json_type(payload, ?) IN ('object', 'array') "
            "THEN NULL ELSE json_extract(payload, ?) END",
            [json_path, json_path, json_path],
        )
