"""The ``usage_collection`` setup contract, for plugins that report usage."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .collector import CollectorFetchContext
from .collector_set import CollectorResult, CollectorSet

if TYPE_CHECKING:
    from .counters import UsageCountersService

__all__ = ["UsageCollectionSetup"]


class UsageCollectionSetup:
    """What ``usage_collection`` gives other plugins at setup (and at start).

    ``make_usage_collector``, ``make_stats_collector``, ``register_collector``,
    ``get_collector_by_type``, ``to_object`` and ``to_api_field_names`` are the
    :class:`CollectorSet`'s; ``bulk_fetch()`` runs every collector with the platform's store in
    the fetch context; ``create_usage_counter(domain)`` returns a counter whose
    ``increment_counter(...)`` is buffered and never blocks.
    """

    def __init__(
        self,
        collector_set: CollectorSet,
        counters: UsageCountersService,
        context: Callable[..., CollectorFetchContext],
    ) -> None:
        self.collector_set = collector_set
        self.counters = counters
        self._context = context
        self.make_usage_collector = collector_set.make_usage_collector
        self.make_stats_collector = collector_set.make_stats_collector
        self.register_collector = collector_set.register_collector
        self.get_collector_by_type = collector_set.get_collector_by_type
        self.to_object = collector_set.to_object
        self.to_api_field_names = collector_set.to_api_field_names
        self.create_usage_counter = counters.create_usage_counter
        self.get_usage_counter_by_domain_id = counters.get_usage_counter_by_domain_id

    async def bulk_fetch(self, request: object | None = None) -> list[CollectorResult]:
        return await self.collector_set.bulk_fetch(self._context(request=request))
