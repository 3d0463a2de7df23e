"""Usage-counter keys and the counters' store operations: reading and retention (spec 7.6).

A counter is stored as one ``usage-counter`` saved object per day and key. Kibana's key is
``[namespace:]domainId:counterName:counterType:source:YYYYMMDD``; the namespace prefix is left
out for the default namespace, and the saved object's id is the key *without* the namespace
(the namespace is the saved object's own namespace). The day is the UTC day of the increment.

Names may contain ``:`` (Kibana does not forbid it), but its docs ask app names not to. They may
not contain NUL or a lone surrogate, which no store can keep (`check_name`): such a key would fail
its whole write batch at every flush.

Retention ("rollups"): every hour, starting 5 minutes after start, each registered counter
domain loses its ``usage-counter`` documents last updated more than
``1 + (retention_period_days or 5)`` days ago, in every namespace. Documents of domains that no
running code registered are kept (their owner decides their retention when it registers again).
`rollup_cutoff` is the pure decision; `roll_usage_counters` does the I/O. Several instances may
run it at once on one store: a document another instance deleted first is simply skipped.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from telemetry_service.core import SavedObject, SavedObjectNotFoundError, SavedObjectStore

__all__ = [
    "COUNTER_SOURCES",
    "DEFAULT_NAMESPACE",
    "DEFAULT_RETENTION_PERIOD_DAYS",
    "ROLLUP_INITIAL_DELAY_S",
    "ROLLUP_INTERVAL_S",
    "ROLLUP_PAGE_SIZE",
    "USAGE_COUNTER_SAVED_OBJECT_TYPE",
    "CounterKey",
    "CounterSource",
    "check_name",
    "day_of",
    "iter_counter_documents",
    "normalize_namespace",
    "roll_usage_counters",
    "rollup_cutoff",
    "serialize_counter_key",
]

USAGE_COUNTER_SAVED_OBJECT_TYPE = "usage-counter"
"""The saved-object type of usage counters (Kibana's ``USAGE_COUNTERS_SAVED_OBJECT_TYPE``)."""
DEFAULT_NAMESPACE = "default"
CounterSource = Literal["server", "ui"]
COUNTER_SOURCES: tuple[CounterSource, ...] = ("server", "ui")


async def iter_counter_documents(
    store: SavedObjectStore, *, page_size: int, **query: Any
) -> AsyncIterator[SavedObject]:
    """Every ``usage-counter`` document that `SavedObjectStore.find` matches with ``query``."""
    page = 1
    while True:
        result = await store.find(
            USAGE_COUNTER_SAVED_OBJECT_TYPE, page=page, per_page=page_size, **query
        )
        for obj in result.saved_objects:
            yield obj
        if not result.saved_objects or page * page_size >= result.total:
            return
        page += 1


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def check_name(value: object, what: str) -> None:
    """Raise `TypeError` or `ValueError` unless ``value`` is a name a counter key can hold."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{what} must not be empty")
    if _UNSTORABLE.search(value):
        raise ValueError(f"{what} must not contain NUL or a lone surrogate")


def normalize_namespace(namespace: str | None) -> str | None:
    """``None`` for the default namespace (``None`` or ``"default"``), else the namespace."""
    return None if namespace is None or namespace == DEFAULT_NAMESPACE else namespace


def day_of(moment: dt.datetime) -> str:
    """``YYYYMMDD`` of the UTC day of ``moment`` (a naive datetime is taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y%m%d")


@dataclass(frozen=True, slots=True)
class CounterKey:
    """What identifies one stored counter: same-key increments are merged into one write."""

    domain_id: str
    counter_name: str
    counter_type: str
    source: CounterSource
    day: str
    """``YYYYMMDD``, the UTC day of the increment."""
    namespace: str | None = None
    """``None`` for the default namespace."""

    @property
    def document_id(self) -> str:
        """The saved object's id: the key without the namespace."""
        return f"{self.domain_id}:{self.counter_name}:{self.counter_type}:{self.source}:{self.day}"

    def serialize(self) -> str:
        """Kibana's ``serializeCounterKey``: the id, prefixed by a non-default namespace."""
        prefix = f"{self.namespace}:" if self.namespace is not None else ""
        return prefix + self.document_id

    def upsert_attributes(self) -> dict[str, str]:
        """The attributes of a new counter document (``count`` is added by the increment)."""
        return {
            "domainId": self.domain_id,
            "counterName": self.counter_name,
            "counterType": self.counter_type,
            "source": self.source,
        }


def serialize_counter_key(
    *,
    domain_id: str,
    counter_name: str,
    counter_type: str,
    source: CounterSource,
    date: dt.datetime,
    namespace: str | None = None,
) -> str:
    """``[namespace:]domainId:counterName:counterType:source:YYYYMMDD`` (UTC day)."""
    return CounterKey(
        domain_id, counter_name, counter_type, source, day_of(date), normalize_namespace(namespace)
    ).serialize()


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
