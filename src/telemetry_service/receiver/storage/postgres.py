"""The PostgreSQL backend: jsonb paths and monthly partitions, over ``common.db``'s pool.

``reports`` is partitioned by month of ``received_ms`` (``partitions.py``): a partition
``reports_pYYYYMM`` is created before the first report of its month, and retention drops whole
expired partitions before deleting the remaining rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from telemetry_service.common.db.base import Cursor, Database

from .migrations import POSTGRES
from .partitions import MonthlyPartitions, month_bounds
from .records import NewReport
from .store import ReportStore

T = TypeVar("T")

__all__ = ["PostgresReportStore", "month_bounds", "partition_name"]

_PARTITION_LOCK = 0x7E1E_0002  # advisory lock id of partition changes (migrations: 0x7E1E_0001)
_REPORTS = MonthlyPartitions("reports", _PARTITION_LOCK)


def partition_name(ms: int) -> str:
    """The partition of the month holding `ms`: ``reports_pYYYYMM``."""
    return _REPORTS.name(ms)


class PostgresReportStore(ReportStore):
    _json_param = "CAST(? AS jsonb)"
    _migrations = POSTGRES

    def __init__(self, db: Database, **kwargs: Any) -> None:
        super().__init__(db, **kwargs)
        self._partitions = MonthlyPartitions("reports", _PARTITION_LOCK)

    def _before_write(self, reports: Sequence[NewReport]) -> None:
        self._partitions.ensure(self._db, (r.received_ms for r in reports))

    def _drop_expired(self, cur: Cursor, cutoff_ms: int) -> int:
        return self._partitions.drop_before(cur, cutoff_ms)

    async def _fold_write(self, fn: Callable[[Cursor], T]) -> T:
        """On a pooled connection of its own, beside the writer thread: the reports commit
        while a fold batch writes its cells and the latest snapshots' jsonb (which takes the
        server a while). Both lock the rows of ``clusters`` in key order, so neither can
        deadlock the other; a report of a cluster the batch updates waits for its commit."""
        return await self._db.run(True, fn)

    def _field_select(self, path: Sequence[str]) -> tuple[str, list[Any]]:
        segments = list(path)
        return (
            "jsonb_typeof(payload #> CAST(? AS text[])), "
            "CASE WHEN jsonb_typeof(payload #> CAST(? AS text[])) IN ('object', 'array') "
            "THEN NULL ELSE payload #>> CAST(? AS text[]) END",
            [segments, segments, segments],
        )
