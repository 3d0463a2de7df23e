"""Event-based telemetry (EBT), like Kibana's ``@kbn/ebt``: an analytics client, context
providers, schemas, telemetry counters and the Elastic V3 server shipper.

Imports only ``telemetry_service.common`` and ``telemetry_service.wire``, so any Python program
can use it without the plugin platform (docs/events.md).
"""

from .client import AnalyticsClient
from .context import ContextService, ContextSource, ContextValue
from .counters import CounterStream, DropReason, TelemetryCounter
from .events import Event, EventContext
from .opt_in import OptInConfig, OptInConfigDict
from .queue import PRE_OPT_IN_QUEUE_LIMIT
from .schema import DYNAMIC_KEY, SchemaError, SchemaValidationError, compile_schema
from .shipper import Shipper, ShipperContext

__all__ = [
    "DYNAMIC_KEY",
    "PRE_OPT_IN_QUEUE_LIMIT",
    "AnalyticsClient",
    "ContextService",
    "ContextSource",
    "ContextValue",
    "CounterStream",
    "DropReason",
    "Event",
    "EventContext",
    "OptInConfig",
    "OptInConfigDict",
    "SchemaError",
    "SchemaValidationError",
    "Shipper",
    "ShipperContext",
    "TelemetryCounter",
    "compile_schema",
]
