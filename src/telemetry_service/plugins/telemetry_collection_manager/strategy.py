"""Collection strategies and what their getters receive; the highest priority one builds the
payload (spec 6.1)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["CollectionStrategy", "StatsContext"]


@dataclass(frozen=True)
class StatsContext:
    """What a strategy's getters receive."""

    version: str
    refresh_cache: bool


ClusterDetailsGetter = Callable[[StatsContext], Awaitable[list[str]]]
StatsGetter = Callable[[list[str], StatsContext], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True)
class CollectionStrategy:
    title: str
    priority: int
    stats_getter: StatsGetter
    cluster_details_getter: ClusterDetailsGetter
