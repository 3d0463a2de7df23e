"""The deferred upkeep of ``field_days`` (``field_days.py``): a stored snapshot only adds a
row to ``field_days_pending`` (:func:`add_pending`, in its insert's transaction); the fold
counts up to a batch of pending snapshots, oldest day first, in a read transaction
(:func:`count_pending`: the parsing, off the single writer), then writes their summed cells
in key order and removes their rows in one write transaction (:func:`fold`), after checking
that the batch is still as it was counted (else it counts what is left of it there); the
reads count the pending snapshots of their days themselves (:func:`pending_per_day`,
:func:`pending_payloads`), so that every answer stays exact.

One fold at a time: SQLite's write lock, and on PostgreSQL the advisory lock :data:`LOCK`,
which the deletions take too (:func:`lock`), so that a deletion never races a fold (a folded
snapshot is uncounted, a pending one only loses its row; a row can still be orphaned by a
snapshot stored during a deletion, see ``sql.PENDING_STORED``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from telemetry_service.common.db.base import Cursor

from .. import jsonb
from ..sql import PENDING_STORED, Dialect, execute_rows
from .field_days import Counts, snapshot_cells, sql_day, write_counts

__all__ = [
    "LOCK",
    "Budget",
    "Counted",
    "add_pending",
    "count_pending",
    "fold",
    "lock",
    "pending_count",
    "pending_payloads",
    "pending_per_day",
]

log = logging.getLogger("telemetry_service.receiver.storage")

#: PostgreSQL advisory lock id of the fold and the deletions (migrations: 0x7E1E_0001,
#: partitions: 0x7E1E_0002).
LOCK = 0x7E1E_0003
#: Payloads read at once by :func:`pending_payloads`.
_PAGE = 500
#: Clusters whose unwritten latest jsonb a fold batch writes besides its own (PostgreSQL).
_UNFILLED = 200


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
    ``store.foldBatchCells``): it stops once the snapshots, their payload characters or its
    distinct cells (the rows its write transaction adds to) reach the bound; it counts at
    least one snapshot, so that a backlog always shrinks."""

    snapshots: int = 500
    chars: int = 4 * 1024 * 1024
    cells: int = 10_000


#: A pending snapshot: (day number, report id).
Key = tuple[int, str]


@dataclass(frozen=True)
class Counted:
    """A batch counted by :func:`count_pending`: each key with whether its report was there
    (a pending row without its report is an orphan: removed, not counted), and the cells."""

    keys: dict[Key, bool]
    counts: Counts
    #: PostgreSQL: (cluster, report id, jsonb-safe payload text) of each snapshot counted, for
    #: the clusters whose latest snapshot it is (``clusters.payload`` waits for the fold).
    latest: list[tuple[str, str, str]]


def count_pending(cur: Cursor, d: Dialect, budget: Budget) -> Counted:
    """Count the oldest pending snapshots within `budget` (in a read transaction; nothing is
    written). The payloads are read one at a time."""
    cur.execute(
        d.sql("SELECT day, report_id FROM field_days_pending ORDER BY day, report_id LIMIT ?"),
        (budget.snapshots,),
    )
    keys: dict[Key, bool] = {}
    counted = Counted(keys, {}, [])
    chars = 0
    for day, report_id in cur.fetchall():
        if chars >= budget.chars or sum(map(len, counted.counts.values())) >= budget.cells:
            break
        key = (int(day), str(report_id))
        row = _snapshot(cur, d, key[1])
        keys[key] = row is not None
        if row is not None:
            chars += len(row[2])
            _count(d, counted, key[1], row)
    if d.name == "postgresql":
        _add_unfilled(cur, d, counted, budget.chars // 2)
    return counted


def _add_unfilled(cur: Cursor, d: Dialect, counted: Counted, chars: int) -> None:
    """Add the latest snapshots of up to :data:`_UNFILLED` other clusters whose jsonb is still
    NULL, within `chars` of payload (PostgreSQL): after a backlog (an import, a receiver that
    was down) the fold, oldest day first, reaches the newest snapshots last, and until their
    jsonb is written the reads parse each of them at every call."""
    cur.execute(
        d.sql(
            "SELECT cluster_uuid, report_id, received_ms FROM clusters "
            "WHERE payload IS NULL AND report_id IS NOT NULL LIMIT ?"
        ),
        (_UNFILLED,),
    )
    have = {(cluster, report_id) for cluster, report_id, _ in counted.latest}
    for cluster, report_id, received_ms in cur.fetchall():
        if chars <= 0:
            break
        if (str(cluster), str(report_id)) in have:
            continue
        cur.execute(
            d.sql("SELECT payload FROM reports WHERE id = ? AND received_ms = ?"),
            (report_id, received_ms),
        )
        row = cur.fetchone()
        if row is not None:
            chars -= len(row[0])
            counted.latest.append((str(cluster), str(report_id), jsonb.safe_text(str(row[0]))))


def _snapshot(cur: Cursor, d: Dialect, report_id: str) -> tuple[int, str, str] | None:
    """(report time, cluster, payload) of a stored snapshot."""
    cur.execute(
        d.sql(
            "SELECT report_ms, cluster_uuid, payload FROM reports "
            "WHERE id = ? AND kind = 'snapshot'"
        ),
        (report_id,),
    )
    row = cur.fetchone()
    return None if row is None else (int(row[0]), str(row[1]), str(row[2]))


def _count(d: Dialect, counted: Counted, report_id: str, row: tuple[int, str, str]) -> None:
    cells = snapshot_cells(report_id, row[2])
    counted.counts.setdefault(sql_day(row[0]), Counter()).update(cells)
    if d.name == "postgresql":
        counted.latest.append((row[1], report_id, jsonb.safe_text(row[2])))


def _fill_latest(cur: Cursor, d: Dialect, latest: list[tuple[str, str, str]]) -> None:
    """Give the clusters whose latest snapshot was counted its payload (PostgreSQL), in
    cluster order (as ingest's upserts lock them). A payload the server still refuses is
    left NULL (the reads take it from its report) rather than stop the fold for good."""
    current: set[tuple[str, str]] = set()
    clusters = sorted({cluster for cluster, _, _ in latest})
    for start in range(0, len(clusters), _PAGE):
        page = clusters[start : start + _PAGE]
        cur.execute(
            d.sql(
                "SELECT cluster_uuid, report_id FROM clusters WHERE payload IS NULL "
                f"AND cluster_uuid IN ({', '.join('?' * len(page))})"
            ),
            page,
        )
        current.update((str(cluster), str(report_id)) for cluster, report_id in cur.fetchall())
    rows = [(text, c, r) for c, r, text in sorted(latest) if (c, r) in current]
    if not rows:
        return
    sql = d.sql(
        "UPDATE clusters SET payload = CAST(? AS jsonb) "
        "WHERE cluster_uuid = ? AND report_id = ? AND payload IS NULL"
    )
    cur.execute("SAVEPOINT fill_latest")
    try:
        execute_rows(cur, sql, rows)
    except Exception as exc:  # psycopg's DataError: jsonb refused a payload
        cur.execute("ROLLBACK TO SAVEPOINT fill_latest")
        log.warning("the latest snapshots of %d clusters stay unparsed: %s", len(rows), exc)
    cur.execute("RELEASE SAVEPOINT fill_latest")


def _now(cur: Cursor, d: Dialect, keys: Sequence[Key]) -> dict[Key, bool]:
    """Which of `keys` are still pending, each with whether its report is stored (one
    lookup a key, by the pending rows' primary key)."""
    found: dict[Key, bool] = {}
    sql = d.sql(
        f"SELECT {PENDING_STORED} FROM field_days_pending p WHERE p.day = ? AND p.report_id = ?"
    )
    for key in keys:
        cur.execute(sql, key)
        row = cur.fetchone()
        if row is not None:
            found[key] = bool(row[0])
    return found


def fold(cur: Cursor, d: Dialect, counted: Counted) -> int | None:
    """Write a batch counted by :func:`count_pending` into ``field_days`` and remove its
    pending rows (in a write transaction). When the batch changed since it was counted (a
    deletion or another receiver's fold went first), what is left of it is counted again
    here. Answers how many rows it removed (0: none of the batch is left), or None when
    another receiver is folding."""
    if not lock(cur, d, wait=False):
        return None
    keys = list(counted.keys)
    now = _now(cur, d, keys)
    if now != counted.keys:
        keys = [key for key in keys if key in now]
        counted = Counted({}, {}, [])
        for key in keys:
            row = _snapshot(cur, d, key[1]) if now[key] else None
            if row is not None:
                _count(d, counted, key[1], row)
    if not keys:
        return 0
    write_counts(cur, d, counted.counts)
    _fill_latest(cur, d, counted.latest)
    cur.executemany(d.sql("DELETE FROM field_days_pending WHERE day = ? AND report_id = ?"), keys)
    return len(keys)


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
