"""The PostgreSQL backend (psycopg 3, pooled): several receivers can share one database.

``reports`` is partitioned by month of ``received_ms``: a partition ``reports_pYYYYMM`` is
created before the first report of its month (under an advisory lock, so that receivers do
not race), and retention drops whole expired partitions before deleting the remaining rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from telemetry_service.common.clock import from_ms, to_ms

from .base import Cursor, ReportStore
from .errors import StoreError, StoreUnavailableError
from .migrations import MIGRATION_TABLE, POSTGRES, statements
from .records import NewReport

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

__all__ = ["PostgresReportStore", "month_bounds", "partition_name"]

T = TypeVar("T")
_MIGRATION_LOCK = 0x7E1E_0001  # advisory lock ids, distinct from the host store's
_PARTITION_LOCK = 0x7E1E_0002
_PARTITION = re.compile(r"^reports_p(\d{4})(\d{2})$")


def month_bounds(ms: int) -> tuple[int, int]:
    """The epoch-ms range ``[start, end)`` of the UTC month holding `ms`."""
    day = from_ms(ms)
    start = dt.datetime(day.year, day.month, 1, tzinfo=dt.UTC)
    end = dt.datetime(day.year + day.month // 12, day.month % 12 + 1, 1, tzinfo=dt.UTC)
    return to_ms(start), to_ms(end)


def partition_name(ms: int) -> str:
    """The partition of the month holding `ms`: ``reports_pYYYYMM``."""
    day = from_ms(ms)
    return f"reports_p{day.year:04d}{day.month:02d}"


class PostgresReportStore(ReportStore):
    backend = "postgresql"
    _json_param = "CAST(? AS jsonb)"

    def __init__(self, url: str, *, pool_size: int = 8, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.url = url
        self._pool_size = pool_size
        self._pool: ConnectionPool[Any] | None = None
        self._partitions: set[str] = set()

    def __repr__(self) -> str:
        return "PostgresReportStore(<url hidden>)"

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def _open(self) -> None:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:  # pragma: no cover - depends on the install
            raise StoreUnavailableError(
                "store.url is PostgreSQL but psycopg is not installed: "
                "pip install 'telemetry-service[postgres]'"
            ) from None
        try:  # one direct attempt first: a clear error instead of the pool's retries
            psycopg.connect(self.url, connect_timeout=10).close()
        except psycopg.Error as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise StoreUnavailableError(
                f"cannot connect to the PostgreSQL store: {reason}"
            ) from None
        pool: ConnectionPool[Any] = ConnectionPool(
            self.url, min_size=1, max_size=self._pool_size, open=False, timeout=10
        )
        try:
            pool.open(wait=True, timeout=10)
        except Exception as exc:
            pool.close()
            raise StoreUnavailableError(
                f"cannot connect to the PostgreSQL store: {type(exc).__name__}"
            ) from None
        self._pool = pool
        self._transaction(True, self._migrate)

    @staticmethod
    def _migrate(cur: Cursor) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {MIGRATION_TABLE} "
            "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        cur.execute(f"SELECT version FROM {MIGRATION_TABLE}")
        applied = {row[0] for row in cur.fetchall()}
        for version, script in enumerate(POSTGRES, start=1):
            if version in applied:
                continue
            for statement in statements(script):
                cur.execute(statement)
            cur.execute(f"INSERT INTO {MIGRATION_TABLE} (version) VALUES (%s)", (version,))

    def _close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _transaction(self, write: bool, fn: Callable[[Cursor], T]) -> T:
        import psycopg

        if self._pool is None:
            raise StoreUnavailableError("the store is closed")
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                return fn(cur)
        except StoreError:
            raise
        except (psycopg.Error, OSError) as exc:
            raise StoreUnavailableError(f"PostgreSQL store: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg_pool"):
                raise StoreUnavailableError(f"PostgreSQL store: {exc}") from exc
            raise

    def _before_write(self, reports: Sequence[NewReport]) -> None:
        for ms in {month_bounds(r.received_ms)[0] for r in reports}:
            if partition_name(ms) not in self._partitions:
                self._transaction(True, functools.partial(self._create_partition, ms=ms))

    def _create_partition(self, cur: Cursor, ms: int) -> None:
        name = partition_name(ms)
        start, end = month_bounds(ms)
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_PARTITION_LOCK,))
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF reports "
            f"FOR VALUES FROM ({int(start)}) TO ({int(end)})"
        )
        self._partitions.add(name)

    def _drop_expired(self, cur: Cursor, cutoff_ms: int) -> int:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_PARTITION_LOCK,))
        cur.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'reports'::regclass"
        )
        dropped = 0
        for (name,) in cur.fetchall():
            match = _PARTITION.match(name)
            if match is None:
                continue
            start = to_ms(dt.datetime(int(match[1]), int(match[2]), 1, tzinfo=dt.UTC))
            if month_bounds(start)[1] > cutoff_ms:
                continue
            cur.execute(f"SELECT COUNT(*) FROM {name}")
            dropped += int(cur.fetchone()[0])
            cur.execute(f"DROP TABLE {name}")
            self._partitions.discard(name)
        return dropped

    def _field_select(self, path: Sequence[str]) -> tuple[str, list[Any]]:
        segments = list(path)
        return (
            "jsonb_typeof(payload #> CAST(? AS text[])), "
            "CASE WHEN jsonb_typeof(payload #> CAST(? AS text[])) IN ('object', 'array') "
            "THEN NULL ELSE payload #>> CAST(? AS text[]) END",
            [segments, segments, segments],
        )
