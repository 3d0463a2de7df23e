"""The records the report store takes and returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "AddResult",
    "ClusterPage",
    "ClusterSummary",
    "DeleteCounts",
    "FieldKind",
    "FieldValue",
    "NewReport",
    "OptInChange",
    "StoredReport",
]

FieldKind = Literal["missing", "null", "boolean", "number", "string", "array", "object"]


@dataclass(frozen=True, repr=False)
class StoredReport:
    """One stored report with its payload's JSON text.

    `report_ms` is the payload's own time (never later than `received_ms`); `received_ms`
    decides retention.
    """

    id: str
    channel: str
    kind: str
    cluster_uuid: str
    cluster_name: str | None
    version: str | None
    stack_version: str | None
    received_ms: int
    report_ms: int
    opt_in_status: bool | None
    payload_text: str

    def __repr__(self) -> str:
        return f"StoredReport(id={self.id!r}, kind={self.kind!r})"


@dataclass(frozen=True, repr=False)
class NewReport(StoredReport):
    """A decrypted, validated report ready to be stored: what the store returns of it, plus
    its `digest`, the `kid` that decrypted it and `query_text`, the payload for queries.

    `digest` identifies the report for idempotency: posting the same report twice stores it
    once.
    """

    digest: str
    kid: str
    query_text: str

    def __repr__(self) -> str:
        return f"NewReport(id={self.id!r}, kind={self.kind!r}, channel={self.channel!r})"


@dataclass(frozen=True)
class AddResult:
    """The stored report's id (the first one's id for a duplicate)."""

    id: str
    duplicate: bool


@dataclass(frozen=True)
class ClusterSummary:
    """A cluster: when it was seen, its latest snapshot and its latest opt-in status."""

    cluster_uuid: str
    cluster_name: str | None
    first_seen_ms: int
    last_seen_ms: int
    report_id: str | None
    report_ms: int | None
    version: str | None
    opt_in_status: bool | None
    opt_in_ms: int | None


@dataclass(frozen=True)
class ClusterPage:
    total: int
    clusters: list[ClusterSummary]


@dataclass(frozen=True)
class FieldValue:
    """One cluster's value of a payload field: its JSON kind and scalar value."""

    kind: FieldKind
    value: str | float | bool | None


@dataclass(frozen=True)
class OptInChange:
    """A cluster's opt-in status that differs from its previous one (or its first)."""

    cluster_uuid: str
    report_ms: int
    opt_in_status: bool
    previous: bool | None


@dataclass(frozen=True)
class DeleteCounts:
    reports: int
    clusters: int
    events: int = 0
