"""The ``telemetry_collection_manager`` plugin: builds the snapshot and opt-in payloads."""

from .contracts import EncryptionUnavailableError, TelemetryCollectionManager, accepts_json_bytes
from .plugin import TelemetryCollectionManagerPlugin

__all__ = [
    "EncryptionUnavailableError",
    "TelemetryCollectionManager",
    "TelemetryCollectionManagerPlugin",
    "accepts_json_bytes",
]
