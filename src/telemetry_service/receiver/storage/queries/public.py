"""Reads and writes of the public statistics (``receiver/public/``): opt-in status counts
and the published document."""

from __future__ import annotations

from telemetry_service.common.db.base import Cursor

from ..sql import Dialect

__all__ = ["load_public_stats", "opt_in_counts", "save_public_stats"]


def opt_in_counts(cur: Cursor, d: Dialect) -> tuple[int, int]:
    """Clusters whose latest opt-in status report says opted in, and opted out."""
    cur.execute(
        d.sql(
            "SELECT opt_in_status, COUNT(*) FROM clusters WHERE opt_in_status IS NOT NULL "
            "GROUP BY opt_in_status"
        )
    )
    counts = {bool(status): int(n) for status, n in cur.fetchall()}
    return counts.get(True, 0), counts.get(False, 0)


def load_public_stats(cur: Cursor, d: Dialect, name: str) -> tuple[int, str] | None:
    """The stored document `name`: (computed_ms, JSON text), or None."""
    cur.execute(d.sql("SELECT computed_ms, body FROM public_stats WHERE name = ?"), (name,))
    row = cur.fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def save_public_stats(cur: Cursor, d: Dialect, name: str, computed_ms: int, body: str) -> None:
    """Store document `name` unless a newer one is stored (another receiver's)."""
    cur.execute(
        d.sql(
            "INSERT INTO public_stats (name, computed_ms, body) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET computed_ms = excluded.computed_ms, "
            "body = excluded.body WHERE excluded.computed_ms >= public_stats.computed_ms"
        ),
        (name, computed_ms, body),
    )
