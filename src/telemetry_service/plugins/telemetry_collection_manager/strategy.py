"""Collection strategies: the highest priority one builds the payload (spec 6.1)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["CollectionStrategy", "StatsContext", "StrategyRegistry"]


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


class StrategyRegistry:
    """Kibana's rules: a priority must be a number and differ from the current one; a higher
    priority replaces the current strategy (the start value is -1)."""

    def __init__(self) -> None:
        self.current: CollectionStrategy | None = None

    @property
    def priority(self) -> int:
        return self.current.priority if self.current else -1

    def set(
        self,
        *,
        title: str,
        priority: int,
        stats_getter: StatsGetter,
        cluster_details_getter: ClusterDetailsGetter,
    ) -> None:
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise TypeError("priority must be set.")
        if priority == self.priority:
            raise ValueError("A Usage Collection Strategy with that priority already exists.")
        if priority > self.priority:
            if stats_getter is None or cluster_details_getter is None:  # pragma: no cover
                raise ValueError("Both stats_getter and cluster_details_getter are required.")
            self.current = CollectionStrategy(title, priority, stats_getter, cluster_details_getter)
