"""The ``telemetry`` plugin: opt-in state with Kibana's rules, the public contracts, the routes."""

from .contracts import TelemetrySetup, TelemetryStart
from .plugin import TelemetryPlugin

__all__ = ["TelemetryPlugin", "TelemetrySetup", "TelemetryStart"]
