"""Response models of the receiver's API (they make the OpenAPI document exact)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ActiveClusters",
    "ActiveDay",
    "ClusterList",
    "ClusterModel",
    "DeleteResult",
    "Distribution",
    "ErrorBody",
    "FieldList",
    "FieldTrend",
    "IngestAnswer",
    "LatestReports",
    "OptInReport",
    "ReportModel",
    "ReportsPerDay",
    "Session",
    "Status",
    "Versions",
    "error_response",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(_Model):
    statusCode: int
    error: str
    message: str
    reason: str | None = Field(default=None, description="A stable code (ingest refusals).")


def error_response(description: str) -> dict[str, Any]:
    """An OpenAPI ``responses`` entry: an :class:`ErrorBody` with `description`."""
    return {"model": ErrorBody, "description": description}


class IngestAnswer(_Model):
    ok: bool
    id: str
    duplicate: bool


class Status(_Model):
    status: str
    store: str
    products: list[str]
    channels: list[str]
    kids: list[str]


class ClusterModel(_Model):
    cluster_uuid: str
    cluster_name: str | None
    first_seen: str
    last_seen: str
    last_report_at: str | None
    version: str | None
    opt_in_status: bool | None
    opt_in_changed_at: str | None


class ClusterList(_Model):
    total: int
    clusters: list[ClusterModel]


class ReportModel(_Model):
    id: str
    channel: str
    kind: str
    cluster_uuid: str
    cluster_name: str | None
    version: str | None
    stack_version: str | None
    received_at: str
    timestamp: str
    opt_in_status: bool | None
    payload: dict[str, Any] | None = None


class LatestReports(_Model):
    total: int
    active_days: int
    reports: list[ReportModel]


class ActiveDay(_Model):
    date: str
    clusters: int


class ActiveClusters(_Model):
    days: list[ActiveDay]


class KeywordBucket(_Model):
    value: str
    count: int


class KeywordStats(_Model):
    buckets: list[KeywordBucket]
    other: int


class NumberStats(_Model):
    count: int
    min: float
    max: float
    avg: float
    percentiles: dict[str, float]


class Distribution(_Model):
    field: str
    active_days: int
    clusters: int
    kinds: dict[str, int]
    keyword: KeywordStats | None = None
    boolean: dict[str, int] | None = None
    number: NumberStats | None = None


class OptInDay(_Model):
    date: str
    opted_in: int
    opted_out: int


class OptInChangeModel(_Model):
    cluster_uuid: str
    timestamp: str
    opt_in_status: bool
    previous: bool | None


class OptInReport(_Model):
    days: list[OptInDay]
    changes: list[OptInChangeModel]
    truncated: bool


class DeleteResult(_Model):
    cluster_uuid: str
    deleted_reports: int
    deleted_clusters: int
    deleted_events: int


class Session(_Model):
    name: str = Field(description="The API key's name (`anonymous` without API keys).")
    role: Literal["admin", "viewer"]
    auth_required: bool = Field(description="Whether the receiver has API keys configured.")


class ReportsDay(_Model):
    date: str
    snapshots: int
    opt_in: int


class ReportsPerDay(_Model):
    days: list[ReportsDay]


class VersionCount(_Model):
    version: str | None
    clusters: int


class Versions(_Model):
    active_days: int
    clusters: int = Field(description="Active clusters (latest snapshot in the window).")
    versions: list[VersionCount]
    other: int = Field(description="Clusters of the versions past `size`.")


class FieldInfo(_Model):
    path: str
    count: int = Field(description="Sampled payloads that hold the field.")
    kinds: dict[str, int] = Field(description="JSON kinds seen there, with their counts.")


class FieldList(_Model):
    active_days: int
    sampled: int = Field(description="Latest payloads read (the most recent first).")
    skipped: int = Field(0, description="Latest payloads over limits.fieldsPayloadBytes, not read.")
    fields: list[FieldInfo]
    truncated: bool


class TrendKeyword(_Model):
    counts: list[int] = Field(description="Counts of `keywords`, in the same order.")
    other: int


class TrendDay(_Model):
    date: str
    reports: int = Field(description="Snapshots of the day.")
    sampled: int = Field(description="Snapshots of the day read for the figures.")
    kinds: dict[str, int]
    keyword: TrendKeyword | None
    boolean: dict[str, int] | None
    number: NumberStats | None


class FieldTrend(_Model):
    field: str
    sample_per_day: int
    keywords: list[str]
    days: list[TrendDay]
