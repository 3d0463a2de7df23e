"""A saved object, its errors, and how it is kept: the store's schema (``saved_objects`` and
``leases``) and the row codec (attributes as JSON text, times as fixed-width UTC strings that
sort as they compare)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from telemetry_service.common.db.base import StoreError

__all__ = [
    "COLUMNS",
    "MIGRATIONS",
    "CounterIncrement",
    "FindResult",
    "SavedObject",
    "SavedObjectConflictError",
    "SavedObjectNotFoundError",
    "add_counts",
    "format_ts",
    "from_row",
    "parse_ts",
]


class SavedObjectNotFoundError(StoreError):
    def __init__(self, type_: str, id_: str) -> None:
        self.type, self.id = type_, id_
        super().__init__(f"Saved object [{type_}/{id_}] not found")


class SavedObjectConflictError(StoreError):
    def __init__(self, type_: str, id_: str) -> None:
        self.type, self.id = type_, id_
        super().__init__(f"Saved object [{type_}/{id_}] conflict")


@dataclass(frozen=True)
class SavedObject:
    type: str
    id: str
    attributes: dict[str, Any]
    namespace: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class FindResult:
    total: int
    page: int
    per_page: int
    saved_objects: list[SavedObject] = field(default_factory=list)


@dataclass(frozen=True)
class CounterIncrement:
    """What :meth:`~.store.SavedObjectStore.increment_counters` adds to one object: `fields`
    (name -> amount), the object created with `upsert_attributes` when missing."""

    id: str
    fields: Mapping[str, int]
    upsert_attributes: Mapping[str, Any] | None = None
    namespace: str | None = None


def add_counts(attributes: Mapping[str, Any], fields: Mapping[str, int]) -> dict[str, Any]:
    """`attributes` with `fields` added (a missing or non-numeric attribute counts from 0)."""
    out = dict(attributes)
    for name, by in fields.items():
        current = out.get(name)
        out[name] = by + (
            0 if isinstance(current, bool) or not isinstance(current, int | float) else current
        )
    return out


COLUMNS = "type, namespace, id, attributes, version, created_at, updated_at"


def format_ts(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def from_row(row: Sequence[Any]) -> SavedObject:
    type_, namespace, id_, attributes, version, created, updated = row
    return SavedObject(
        type=type_,
        id=id_,
        attributes=orjson.loads(attributes),
        namespace=namespace or None,
        version=int(version),
        created_at=parse_ts(created),
        updated_at=parse_ts(updated),
    )


MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE saved_objects (
        type TEXT NOT NULL,
        namespace TEXT NOT NULL DEFAULT '',
        id TEXT NOT NULL,
        attributes TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (type, namespace, id)
    );
    CREATE INDEX saved_objects_type_updated ON saved_objects (type, updated_at);
    CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    """,
)
"""Versioned schema migrations, shared by both backends (plain SQL both understand)."""
