"""The deferred upkeep of ``field_days`` (``field_days.py``): a stored snapshot only adds a
row to ``field_days_pending`` (:func:`add_pending`, in its insert's transaction); the fold
(:func:`fold`) counts up to a batch of pending snapshots, oldest day first, writes their
summed cells in key order and removes their rows, in one transaction; the reads count the
pending snapshots of their days themselves (:func:`pending_per_day`,
:func:`pending_payloads`), so that every answer stays exact.

One fold at a time: SQLite's write lock, and on PostgreSQL the advisory lock :data:`LOCK`,
which the deletions take too (:func:`lock`), so that a deletion never races a fold (a folded
snapshot is uncounted, a pending one only loses its row; a row can still be orphaned by a
snapshot stored during a deletion, see ``sql.PENDING_STORED``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from telemetry_service.common.db.base import Cursor

from ..sql import PENDING_STORED, Dialect
from .field_days import MAX_CELLS, WIDE, Counts, snapshot_cells, sql_day, write_counts

__all__ = [
    "LOCK",
    "Budget",
    "add_pending",
    "execute_rows",
    "fold",
    "lock",
    "pending_count",
    "pending_payloads",
    "pending_per_day",
]

#: PostgreSQL advisory lock id of the fold and the deletions (migrations: 0x7E1E_0001,
#: partitions: 0x7E1E_0002).
LOCK = 0x7E1E_0003
#: Payloads read at once by :func:`pending_payloads`.
_PAGE = 500


def add_pending(cur: Cursor, d: Dialect, snapshots: Sequence[tuple[int, str]]) -> None:
    """Mark newly stored snapshots, (report_ms, report id), as pending (in their insert's
    transaction)."""
    execute_rows(
        cur,
        d.sql(
            "INSERT INTO field_days_pending (day, report_id) VALUES (?, ?) "
            "ON CONFLICT (day, report_id) DO NOTHING"  # an orphan: sql.PENDING_STORED
        ),
        [(sql_day(report_ms), report_id) for report_ms, report_id in snapshots],
    )


def execute_rows(cur: Cursor, sql: str, rows: Sequence[Sequence[object]]) -> None:
    """`sql` once for each of `rows`, as one prepared statement (psycopg pipelines the rows);
    a single row is a plain execute (psycopg's pipeline costs more than it saves for one)."""
    if len(rows) == 1:
        cur.execute(sql, rows[0])
    else:
        cur.executemany(sql, rows)


def lock(cur: Cursor, d: Dialect, *, wait: bool = True) -> bool:
    """Take the fold's lock for the transaction (PostgreSQL; SQLite's write lock is held
    already); without `wait`, answer False when another transaction holds it."""
    if d.name != "postgresql":
        return True
    if wait:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
        return True
    cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (LOCK,))
    return bool(cur.fetchone()[0])


@dataclass(frozen=True)
class Budget:
    """What one fold batch may count (``store.foldBatch``, ``store.foldBatchBytes``,
    ``store.foldBatchCells``): it stops once the snapshots, their payload characters or their
    cells reach the bound (the writer commits the reports between two batches); it counts at
    least one snapshot, so that a backlog always shrinks."""

    snapshots: int = 500
    chars: int = 4 * 1024 * 1024
    cells: int = 10_000


def fold(cur: Cursor, d: Dialect, budget: Budget) -> int | None:
    """Count pending snapshots (oldest day first, within `budget`) into ``field_days`` and
    remove their rows (in a write transaction). Answers how many rows it removed (0: none
    pending), or None when another receiver is folding. The payloads are read one at a time."""
    if not lock(cur, d, wait=False):
        return None
    cur.execute(
        d.sql("SELECT day, report_id FROM field_days_pending ORDER BY day, report_id LIMIT ?"),
        (budget.snapshots,),
    )
    keys = [(int(day), str(report_id)) for day, report_id in cur.fetchall()]
    counts: Counts = {}
    chars = cells = done = 0
    for _, report_id in keys:
        if chars >= budget.chars or cells >= budget.cells:
            break
        done += 1
        cur.execute(
            d.sql("SELECT report_ms, payload FROM reports WHERE id = ? AND kind = 'snapshot'"),
            (report_id,),
        )
        row = cur.fetchone()
        if row is None:  # orphaned: see ``sql.PENDING_STORED``
            continue
        found = snapshot_cells(report_id, str(row[1]))
        chars += len(row[1])
        cells += len(found) if len(found) > 2 or found[-1][0] != WIDE else MAX_CELLS
        counts.setdefault(sql_day(int(row[0])), Counter()).update(found)
    write_counts(cur, d, counts)
    cur.executemany(
        d.sql("DELETE FROM field_days_pending WHERE day = ? AND report_id = ?"), keys[:done]
    )
    return done


def pending_count(cur: Cursor, d: Dialect) -> int:
    """Snapshots still to be folded."""
    cur.execute("SELECT COUNT(*) FROM field_days_pending")
    return int(cur.fetchone()[0])


def pending_per_day(cur: Cursor, d: Dialect, days: tuple[int, int]) -> dict[int, int]:
    """Pending snapshots per day number of ``[first, end)``."""
    cur.execute(
        d.sql(
            "SELECT day, COUNT(*) FROM field_days_pending p WHERE day >= ? AND day < ? "
            f"AND {PENDING_STORED} GROUP BY day"
        ),
        days,
    )
    return {int(day): int(count) for day, count in cur.fetchall()}


def pending_payloads(cur: Cursor, d: Dialect, days: tuple[int, int]) -> Iterator[tuple[int, str]]:
    """(day, payload text) of the pending snapshots of ``[first, end)``, read a page at a time
    (a backlog after a migration may be large)."""
    cur.execute(
        d.sql("SELECT day, report_id FROM field_days_pending WHERE day >= ? AND day < ?"), days
    )
    keys = [(int(day), str(report_id)) for day, report_id in cur.fetchall()]
    for start in range(0, len(keys), _PAGE):
        page = {report_id: day for day, report_id in keys[start : start + _PAGE]}
        marks = ", ".join("?" * len(page))
        cur.execute(d.sql(f"SELECT id, payload FROM reports WHERE id IN ({marks})"), list(page))
        for report_id, payload in cur.fetchall():
            yield page[str(report_id)], str(payload)
