"""Usage-counter keys and the store operations the counters use (spec 7.6).

A counter is stored as one ``usage-counter`` saved object per day and key. Kibana's key is
``[namespace:]domainId:counterName:counterType:source:YYYYMMDD``; the namespace prefix is left
out for the default namespace, and the saved object's id is the key *without* the namespace
(the namespace is the saved object's own namespace). The day is the UTC day of the increment.

Names may contain ``:`` (Kibana does not forbid it), but its docs ask app names not to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from telemetry_service.core import SavedObject, SavedObjectStore

__all__ = [
    "COUNTER_SOURCES",
    "DEFAULT_NAMESPACE",
    "USAGE_COUNTER_SAVED_OBJECT_TYPE",
    "CounterKey",
    "CounterSource",
    "day_of",
    "iter_counter_documents",
    "normalize_namespace",
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
