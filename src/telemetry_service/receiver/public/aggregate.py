"""The public statistics document, computed from the store with the rules of :mod:`.privacy`.

Every figure goes through one of those rules: counts of deployments through ``count``, values
through ``fold``, numbers through ``quantiles``, the opt-in split through ``share``. Nothing of a
cluster but these aggregates is read into the document.

"Active" deployments are those whose latest snapshot is less than :data:`ACTIVE_DAYS` days old;
the history covers the :data:`HISTORY_DAYS` whole UTC days before today (today is partial).
Events come from the event store's daily aggregates (``store.events``), never raw events.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson

from telemetry_service.common.clock import DAY_MS, iso_date, iso_ms

from ..analysis import parse_field_path
from ..config import PublicConfig, PublicFieldConfig
from ..storage import ReportStore
from .privacy import count, fold, is_version, over, quantiles, share

__all__ = ["ACTIVE_DAYS", "FORMAT", "HISTORY_DAYS", "compute", "settings_key"]

FORMAT = "telemetry-service-public-stats/1"
ACTIVE_DAYS = 30
HISTORY_DAYS = 90


def settings_key(settings: PublicConfig) -> str:
    """What of ``public.*`` shapes the document: a stored one made otherwise is not served."""
    shape = settings.model_dump(mode="json", include={"fields", "events", "min_clusters"})
    return hashlib.sha256(orjson.dumps([FORMAT, shape])).hexdigest()[:16]


async def compute(store: ReportStore, settings: PublicConfig, now_ms: int) -> dict[str, Any]:
    """The document published at `now_ms` (epoch ms): see ``docs/receiver.md``."""
    k = settings.min_clusters
    since_ms = now_ms - ACTIVE_DAYS * DAY_MS
    today = now_ms // DAY_MS
    first = today - HISTORY_DAYS
    per_day = await store.active_per_day(first * DAY_MS, today * DAY_MS)
    versions = await store.version_counts(since_ms=since_ms)
    opted_in, opted_out = await store.opt_in_counts()
    split = share(opted_in, opted_out, k)
    return {
        "format": FORMAT,
        "settings": settings_key(settings),
        "generated_at": iso_ms(now_ms),
        "min_clusters": k,
        "active_days": ACTIVE_DAYS,
        "active_deployments": count(sum(n for _, n in versions), k),
        "active_per_day": [
            {"date": iso_date(day), "deployments": count(per_day.get(day, 0), k)}
            for day in range(first, today)
        ],
        "opt_in": {"opted_in": split["yes"], "opted_out": split["no"], "share": split["share"]},
        "versions": fold(versions, k, named=is_version),
        "fields": [await _field(store, field, since_ms, k) for field in settings.fields],
        "events": await _events(store, settings.events, first, today, k),
    }


async def _events(
    store: ReportStore, event_types: Sequence[str], first: int, today: int, k: int
) -> list[dict[str, Any]]:
    """Each of ``public.events``: the deployments that sent it in the last :data:`ACTIVE_DAYS`
    days, and per day of the history the deployments that sent it and its events (both None
    on a day of fewer than k deployments). Deployments are told apart by cluster id (events
    of unknown clusters count as one)."""
    if not event_types:
        return []
    summaries = {s.event_type: s for s in await store.events.types(today - ACTIVE_DAYS, today)}
    published = []
    for event_type in event_types:
        days = await store.events.days(event_type, first, today)
        summary = summaries.get(event_type)
        per_day = []
        for day in range(first, today):
            events, deployments = days.get(day, (0, 0))
            per_day.append(
                {
                    "date": iso_date(day),
                    "deployments": count(deployments, k),
                    "events": over(deployments, events, k),
                }
            )
        active = count(summary.clusters, k) if summary else None
        published.append({"event_type": event_type, "deployments": active, "days": per_day})
    return published


async def _field(
    store: ReportStore, field: PublicFieldConfig, since_ms: int, k: int
) -> dict[str, Any]:
    """One of ``public.fields`` over the latest snapshots of the active deployments."""
    values = await store.field_values(parse_field_path(field.path), since_ms=since_ms)
    head = {"path": field.path, "title": field.title or field.path, "kind": field.kind}
    if field.kind == "number":
        numbers = (float(v.value) for v in values if v.kind == "number" and v.value is not None)
        return {**head, "numbers": quantiles(numbers, k)}
    wanted = "string" if field.kind == "keyword" else "boolean"
    counts = Counter(str(v.value).lower() if wanted == "boolean" else str(v.value)
                     for v in values if v.kind == wanted)  # fmt: skip
    allowed = set(field.values) if field.kind == "keyword" else {"true", "false"}
    return {**head, **fold(counts.items(), k, named=allowed.__contains__)}
