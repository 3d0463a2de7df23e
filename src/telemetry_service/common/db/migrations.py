"""Versioned schema migrations: script N runs once, in order, and is recorded in a table.

One migrator at a time: SQLite's write lock already ensures it; on PostgreSQL the transaction
first takes the advisory lock `lock_id`. The table's columns and the lock ids are what data
written by earlier versions holds: they do not change.
"""

from __future__ import annotations

from collections.abc import Sequence

from .base import Cursor, Database

__all__ = ["apply_migrations", "statements"]

#: Per dialect: the migration table's columns, the statement that records a version, and
#: the one that takes the lock (none on SQLite).
_DIALECTS = {
    "sqlite": (
        "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
        "INSERT INTO {table} (version, applied_at) VALUES (?, datetime('now'))",
        "",
    ),
    "postgresql": (
        "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        "INSERT INTO {table} (version) VALUES (%s)",
        "SELECT pg_advisory_xact_lock(%s)",
    ),
}


def statements(script: str) -> list[str]:
    """The statements of a migration script (no statement holds a semicolon in a literal)."""
    return [part.strip() for part in script.split(";") if part.strip()]


def apply_migrations(
    db: Database, table: str, scripts: Sequence[str], *, lock_id: int | None = None
) -> None:
    """Apply, in one write transaction, the `scripts` that `table` does not list yet."""
    columns, record, lock = _DIALECTS[db.backend]

    def apply(cur: Cursor) -> None:
        if lock and lock_id is not None:
            cur.execute(lock, (lock_id,))
        cur.execute(f"CREATE TABLE IF NOT EXISTS {table} {columns}")
        cur.execute(f"SELECT version FROM {table}")
        applied = {row[0] for row in cur.fetchall()}
        for version, script in enumerate(scripts, start=1):
            if version not in applied:
                for statement in statements(script):
                    cur.execute(statement)
                cur.execute(record.format(table=table), (version,))

    db.transaction(True, apply)
