"""The receiver: the vendor's telemetry cluster (ingest, storage, query API, retention).

Imports :mod:`telemetry_service.wire` only, never ``core`` or ``plugins``.

>>> config = load_config({"keys": "receiver.private.jwks.json"})  # doctest: +SKIP
>>> async with Receiver(config) as receiver:                      # doctest: +SKIP
...     ...  # receiver.app is the ASGI application
"""

from __future__ import annotations

from telemetry_service.common.apikeys import (
    ApiKeyRegistry,
    Principal,
    generate_api_key,
    hash_api_key,
)

from .app import Receiver, create_app
from .config import ReceiverConfig, load_config
from .errors import ConfigError, ReceiverError, Rejection, StartupError
from .importer import EXPORT_FORMAT, ImportFileError, ImportResult, import_file
from .ingest import Channel, IngestOutcome, IngestService, channel_names
from .keyfile import PRIVATE_FILE, PUBLIC_FILE, check_private_key_file, write_key_files
from .metrics import Metrics
from .retention import RetentionTask, forget_cluster, retention_cutoff
from .storage import ReportStore, open_report_store

__all__ = [
    "EXPORT_FORMAT",
    "PRIVATE_FILE",
    "PUBLIC_FILE",
    "ApiKeyRegistry",
    "Channel",
    "ConfigError",
    "ImportFileError",
    "ImportResult",
    "IngestOutcome",
    "IngestService",
    "Metrics",
    "Principal",
    "Receiver",
    "ReceiverConfig",
    "ReceiverError",
    "Rejection",
    "ReportStore",
    "RetentionTask",
    "StartupError",
    "channel_names",
    "check_private_key_file",
    "create_app",
    "forget_cluster",
    "generate_api_key",
    "hash_api_key",
    "import_file",
    "load_config",
    "open_report_store",
    "retention_cutoff",
    "write_key_files",
]
