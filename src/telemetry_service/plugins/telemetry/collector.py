"""The telemetry plugin's own usage collector (``type: "telemetry"``)."""

from __future__ import annotations

from typing import Any

from telemetry_service.plugins.usage_collection import (
    CollectorFetchContext,
    UsageCollectionSetup,
    UsageCollector,
)

from .rules import get_telemetry_send_usage_from
from .service import TelemetryService

__all__ = ["TELEMETRY_COLLECTOR_SCHEMA", "register_telemetry_collector"]

TELEMETRY_COLLECTOR_SCHEMA: dict[str, Any] = {
    "opt_in_status": {
        "type": "boolean",
        "_meta": {"description": "The effective opt-in: true, false, or null while undecided."},
    },
    "usage_fetcher": {
        "type": "keyword",
        "_meta": {"description": "Where usage is sent from: server or browser."},
    },
    "last_reported": {
        "type": "long",
        "_meta": {"description": "When the last snapshot was delivered (ms since the epoch)."},
    },
    "labels": {
        "type": "pass_through",
        "_meta": {"description": "The telemetry.labels set in the host's config."},
    },
}


def register_telemetry_collector(usage: UsageCollectionSetup, service: TelemetryService) -> None:
    async def fetch(context: CollectorFetchContext) -> dict[str, Any]:
        saved = await service.saved_objects.get()
        consent = await service.consent(saved)
        config = service.config()
        last = saved.get("lastReported")
        return {
            "opt_in_status": consent.value,
            "usage_fetcher": get_telemetry_send_usage_from(
                telemetry_saved_object=saved,
                config_telemetry_send_usage_from=config.send_usage_from,
            ),
            "last_reported": last if isinstance(last, int) and not isinstance(last, bool) else None,
            "labels": config.labels.model_dump(by_alias=True, exclude_none=True),
        }

    collector: UsageCollector[dict[str, Any]] = usage.make_usage_collector(
        type="telemetry", fetch=fetch, schema=TELEMETRY_COLLECTOR_SCHEMA
    )
    usage.register_collector(collector)
