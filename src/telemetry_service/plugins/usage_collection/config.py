"""The ``usageCollection.*`` config section (Kibana's keys and defaults, plus ours)."""

from __future__ import annotations

from pydantic import Field

from telemetry_service.common.config_file import Section
from telemetry_service.core import Duration

__all__ = ["UsageCollectionConfig"]


class UsageCountersConfig(Section):
    enabled: bool = True
    retry_count: int = Field(default=3, ge=0, le=10, alias="retryCount")
    buffer_duration: Duration = Field(default=5.0, alias="bufferDuration")


class UiCountersConfig(Section):
    enabled: bool = True
    debug: bool = False


class UsageCollectionConfig(Section):
    usage_counters: UsageCountersConfig = Field(
        default_factory=UsageCountersConfig, alias="usageCounters"
    )
    ui_counters: UiCountersConfig = Field(default_factory=UiCountersConfig, alias="uiCounters")
    maximum_wait_time_for_all_collectors_in_s: float = Field(
        default=1.0, gt=0, le=60, alias="maximumWaitTimeForAllCollectorsInS"
    )
    #: Async collector fetches running at once; sync ones wait for a worker thread instead.
    max_collector_concurrency: int = Field(
        default=50, ge=1, le=1000, alias="maxCollectorConcurrency"
    )
    #: Ours: how long one collector's fetch may take before it is left out.
    fetch_timeout: Duration = Field(default=10.0, alias="fetchTimeout")
