"""The ``telemetry`` plugin: opt-in state with Kibana's rules, the public contracts, the routes."""

from .admin import TelemetryAdmin
from .contracts import TelemetrySetup, TelemetryStart
from .delivery import SendReport
from .plugin import TelemetryPlugin
from .state import OptInLockedError

__all__ = [
    "OptInLockedError",
    "SendReport",
    "TelemetryAdmin",
    "TelemetryPlugin",
    "TelemetrySetup",
    "TelemetryStart",
]
