"""The background fold of the ``field_days`` aggregate (``queries/field_fold.py``): every
``store.foldInterval`` seconds, the snapshots stored since are counted in batches of at most
``store.foldBatch`` snapshots, ``store.foldBatchBytes`` of payload and ``store.foldBatchCells``
cells (one short write transaction each, the reports' batches commit between them), until the
snapshots pending at the start are counted. A large backlog (a store migrated from version 4
or 5 makes every stored snapshot pending) logs its progress about every 10 %.
"""

from __future__ import annotations

import asyncio
import logging

from telemetry_service.common.periodic import PeriodicTask, Sleep

from .queries.field_fold import Budget
from .store import ReportStore

__all__ = ["FoldTask"]

log = logging.getLogger("telemetry_service.receiver.storage")
#: A backlog of at least this many batches logs its progress.
_LOGGED_BATCHES = 10


class FoldTask(PeriodicTask):
    """Folds pending snapshots at start and then every `interval_s` seconds (a failed run is
    logged as ``field fold failed: ...`` and tried again at the next one); ``start`` and
    ``stop`` are :class:`PeriodicTask`'s."""

    def __init__(
        self,
        store: ReportStore,
        *,
        interval_s: float = 30.0,
        batch: int = 500,
        batch_bytes: int = Budget.chars,
        batch_cells: int = Budget.cells,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__("field fold", self._fold, sleep=sleep, log=log, retry_delay=interval_s)
        self.store = store
        self.interval_s = interval_s
        self.batch = batch
        self.budget = Budget(batch, batch_bytes, batch_cells)

    async def fold(self) -> int:
        """Fold until nothing is pending (or another receiver folds); the snapshots folded."""
        total = await self.store.pending_field_days()
        if not total:
            return 0
        logged = total >= _LOGGED_BATCHES * self.batch
        if logged:
            log.info("field aggregates: %d stored snapshots to count", total)
        done, mark = 0, 0
        while True:
            folded = await self.store.fold_field_days(self.budget)
            done += folded or 0
            if logged and min(done * 10 // total, 10) > mark:
                mark = min(done * 10 // total, 10)
                log.info("field aggregates: %d of %d stored snapshots counted", done, total)
            if not folded or done >= total:  # the backlog of the start is done
                break
            await asyncio.sleep(0)  # the reports queued meanwhile commit first anyway
        return done

    async def _fold(self) -> float:
        await self.fold()
        return self.interval_s
