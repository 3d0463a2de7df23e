"""The telemetry plugin's own usage collector (``type: "telemetry"``)."""

from __future__ import annotations

from typing import Any

from telemetry_service.plugins.usage_collection import (
    CollectorFetchContext,
    UsageCollectionSetup,
)

from .state import TelemetryState, last_reported

__all__ = ["TELEMETRY_COLLECTOR_SCHEMA", "register_telemetry_collector"]


def _leaf(type_: str, description: str) -> dict[str, Any]:
    return {"type": type_, "_meta": {"description": description}}


TELEMETRY_COLLECTOR_SCHEMA: dict[str, Any] = {
    "opt_in_status": _leaf(
        "boolean", "The effective opt-in: true, false, or null while undecided."
    ),
    "usage_fetcher": _leaf("keyword", "Where usage is sent from: server or browser."),
    "last_reported": _leaf("long", "When the last snapshot was delivered (ms since the epoch)."),
    "labels": _leaf("pass_through", "The telemetry.labels set in the host's config."),
}


def register_telemetry_collector(usage: UsageCollectionSetup, state: TelemetryState) -> None:
    async def fetch(context: CollectorFetchContext) -> dict[str, Any]:
        saved = await state.get()
        consent = await state.consent(saved)
        return {
            "opt_in_status": consent.value,
            "usage_fetcher": state.send_usage_from(saved),
            "last_reported": last_reported(saved),
            "labels": state.config().labels.model_dump(by_alias=True, exclude_none=True),
        }

    usage.register_collector(
        usage.make_usage_collector(type="telemetry", fetch=fetch, schema=TELEMETRY_COLLECTOR_SCHEMA)
    )
