"""The built-in plugins."""

from __future__ import annotations

from telemetry_service.core import Plugin

__all__ = ["builtin_plugins"]


def builtin_plugins() -> list[Plugin]:
    """Fresh instances of the built-in plugins, for hosts that run them beside their own."""
    from .sample_app import SampleAppPlugin
    from .telemetry import TelemetryPlugin
    from .telemetry_collection_manager import TelemetryCollectionManagerPlugin
    from .usage_collection import UsageCollectionPlugin

    return [
        UsageCollectionPlugin(),
        TelemetryCollectionManagerPlugin(),
        TelemetryPlugin(),
        SampleAppPlugin(),
    ]
