"""The ``telemetry_collection_manager`` plugin: builds the snapshot and opt-in payloads."""

from .contracts import EncryptionUnavailableError, TelemetryCollectionManager
from .plugin import TelemetryCollectionManagerPlugin

__all__ = [
    "EncryptionUnavailableError",
    "TelemetryCollectionManager",
    "TelemetryCollectionManagerPlugin",
]
