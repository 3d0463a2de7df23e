"""Response models of the dashboard's JSON routes (they make the OpenAPI document exact)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "FieldList",
    "FieldTrend",
    "ReportsPerDay",
    "Session",
    "Versions",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    fields: list[FieldInfo]
    truncated: bool


class TrendKeyword(_Model):
    counts: list[int] = Field(description="Counts of `keywords`, in the same order.")
    other: int


class TrendNumber(_Model):
    count: int
    min: float
    max: float
    avg: float
    percentiles: dict[str, float]


class TrendDay(_Model):
    date: str
    reports: int = Field(description="Snapshots of the day.")
    sampled: int = Field(description="Snapshots of the day read for the figures.")
    kinds: dict[str, int]
    keyword: TrendKeyword | None
    boolean: dict[str, int] | None
    number: TrendNumber | None


class FieldTrend(_Model):
    field: str
    sample_per_day: int
    keywords: list[str]
    days: list[TrendDay]
