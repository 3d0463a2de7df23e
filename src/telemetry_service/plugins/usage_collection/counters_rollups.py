"""Usage-counter retention ("rollups", spec 7.6): delete the documents nobody reports any more.

Every hour, starting 5 minutes after start, each registered counter domain loses its
``usage-counter`` documents last updated more than ``1 + (retention_period_days or 5)`` days
ago, in every namespace. Documents of domains that no running code registered are kept (their
owner decides their retention when it registers again).

`rollup_cutoff` is the pure decision; `roll_usage_counters` does the I/O. Several instances may
run it at once on one store: a document another instance deleted first is simply skipped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from telemetry_service.core import SavedObjectNotFoundError, SavedObjectStore

from .counters_keys import USAGE_COUNTER_SAVED_OBJECT_TYPE, iter_counter_documents

__all__ = [
    "DEFAULT_RETENTION_PERIOD_DAYS",
    "ROLLUP_INITIAL_DELAY_S",
    "ROLLUP_INTERVAL_S",
    "ROLLUP_PAGE_SIZE",
    "roll_usage_counters",
    "rollup_cutoff",
]

ROLLUP_INTERVAL_S = 3600.0
"""Kibana's ``ROLL_INDICES_INTERVAL``: one hour."""
ROLLUP_INITIAL_DELAY_S = 300.0
"""Kibana's ``ROLL_INDICES_START``: the first rollup runs 5 minutes after start."""
DEFAULT_RETENTION_PERIOD_DAYS = 5
"""Kibana's ``USAGE_COUNTERS_KEEP_DOCS_FOR_DAYS``."""
ROLLUP_PAGE_SIZE = 1000


def rollup_cutoff(now: dt.datetime, retention_period_days: int | None) -> dt.datetime:
    """Documents last updated before this instant are deleted (``1 + retention`` days ago)."""
    days = DEFAULT_RETENTION_PERIOD_DAYS if retention_period_days is None else retention_period_days
    return now - dt.timedelta(days=1 + days)


async def roll_usage_counters(
    store: SavedObjectStore,
    retention_by_domain: Mapping[str, int | None],
    *,
    now: dt.datetime,
    page_size: int = ROLLUP_PAGE_SIZE,
) -> int:
    """Delete the expired documents of the given domains; returns how many were deleted.

    Store errors propagate (the caller logs them); documents already deleted are skipped.
    """
    if not retention_by_domain:
        return 0
    cutoffs = {domain: rollup_cutoff(now, days) for domain, days in retention_by_domain.items()}
    # One pass over everything older than the latest cutoff, oldest first; each document is
    # then checked against its own domain's cutoff (the store cannot filter by attribute).
    latest = max(cutoffs.values())
    expired: list[tuple[str | None, str]] = []
    documents = iter_counter_documents(
        store, page_size=page_size, updated_before=latest, sort_field="updated_at"
    )
    async for obj in documents:
        domain = obj.attributes.get("domainId")
        cutoff = cutoffs.get(domain) if isinstance(domain, str) else None
        if cutoff is not None and obj.updated_at < cutoff:
            expired.append((obj.namespace, obj.id))
    # Deleting only after the listing keeps the pages stable while they are read.
    deleted = 0
    for namespace, id_ in expired:
        try:
            await store.delete(USAGE_COUNTER_SAVED_OBJECT_TYPE, id_, namespace=namespace)
        except SavedObjectNotFoundError:
            continue
        deleted += 1
    return deleted
