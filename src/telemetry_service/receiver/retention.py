"""Retention (a daily deletion of old reports and events) and deletion requests (forget a
cluster, its events too).

Both log one audit line on ``telemetry_service.receiver.audit``; neither logs payloads. That
logger logs from ``info`` up whatever ``logging.level`` says (and the CLI's own ``warning``), so
that every deletion reaches the log.
"""

from __future__ import annotations

import asyncio
import logging

from telemetry_service.common.clock import DAY_MS, Clock, to_ms, utc_now
from telemetry_service.common.periodic import PeriodicTask, Sleep

from .metrics import Metrics
from .storage import DeleteCounts, ReportStore

__all__ = ["RetentionTask", "forget_cluster", "retention_cutoff"]

audit = logging.getLogger("telemetry_service.receiver.audit")
audit.setLevel(logging.INFO)
log = logging.getLogger("telemetry_service.receiver.retention")


def retention_cutoff(now_ms: int, days: int) -> int:
    """Reports received before this epoch ms are expired."""
    return now_ms - days * DAY_MS


async def forget_cluster(
    store: ReportStore, cluster_uuid: str, *, actor: str, metrics: Metrics | None = None
) -> DeleteCounts:
    """Remove every record of a cluster and write the audit line."""
    counts = await store.delete_cluster(cluster_uuid)
    audit.info(
        "deletion request by %s: cluster %r forgotten (%d reports, %d cluster records, %d events)",
        actor,
        cluster_uuid,
        counts.reports,
        counts.clusters,
        counts.events,
    )
    if metrics is not None and counts.clusters + counts.reports + counts.events:
        metrics.deletions.inc()
    return counts


class RetentionTask:
    """Deletes expired reports at start and then every `interval_s` seconds (a failed run is
    logged as ``retention failed: ...`` and tried again at the next one)."""

    def __init__(
        self,
        store: ReportStore,
        *,
        days: int,
        metrics: Metrics,
        clock: Clock = utc_now,
        interval_s: float = 86_400.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.store = store
        self.days = days
        self.metrics = metrics
        self.clock = clock
        self.interval_s = interval_s
        self._loop = PeriodicTask(
            "retention", self._step, sleep=sleep, log=log, retry_delay=interval_s
        )

    async def run_once(self) -> int:
        """Delete what is older than ``retention.days``; return the number of reports.

        Events go by their own time, whole UTC days: those of the days before the cutoff's.
        """
        cutoff = retention_cutoff(to_ms(self.clock()), self.days)
        deleted = await self.store.delete_older_than(cutoff)
        self.metrics.retention_deleted.inc(by=deleted)
        if deleted:
            audit.info("retention: deleted %d reports older than %d days", deleted, self.days)
        events = await self.store.delete_events_before(cutoff)
        self.metrics.retention_deleted_events.inc(by=events)
        if events:
            audit.info("retention: deleted %d events older than %d days", events, self.days)
        return deleted

    async def _step(self) -> float:
        await self.run_once()
        return self.interval_s

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
