"""The plugin platform: a small Kibana core (plugins, config, HTTP, saved objects, status)."""

from telemetry_service.common.apikeys import Principal, generate_api_key, hash_api_key
from telemetry_service.common.db.base import StoreError, StoreUnavailableError

from .config import ConfigService, ConfigView, CoreConfig, Duration
from .context import CoreSetup, CoreStart, HttpSetup, PluginStatus
from .errors import (
    ConfigError,
    CycleError,
    DuplicatePluginError,
    MissingPluginError,
    PlatformError,
    PluginGraphError,
    PluginLifecycleError,
)
from .http import get_principal, kibana_error, route_options
from .platform import ENTRY_POINT_GROUP, Platform, discover_plugins
from .plugins import Plugin, PluginContracts
from .status import ServiceStatus, StatusLevel
from .store import (
    CounterIncrement,
    FindResult,
    SavedObject,
    SavedObjectConflictError,
    SavedObjectNotFoundError,
    SavedObjectStore,
    open_store,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "ConfigError",
    "ConfigService",
    "ConfigView",
    "CoreConfig",
    "CoreSetup",
    "CoreStart",
    "CounterIncrement",
    "CycleError",
    "DuplicatePluginError",
    "Duration",
    "FindResult",
    "HttpSetup",
    "MissingPluginError",
    "Platform",
    "PlatformError",
    "Plugin",
    "PluginContracts",
    "PluginGraphError",
    "PluginLifecycleError",
    "PluginStatus",
    "Principal",
    "SavedObject",
    "SavedObjectConflictError",
    "SavedObjectNotFoundError",
    "SavedObjectStore",
    "ServiceStatus",
    "StatusLevel",
    "StoreError",
    "StoreUnavailableError",
    "discover_plugins",
    "generate_api_key",
    "get_principal",
    "hash_api_key",
    "kibana_error",
    "open_store",
    "route_options",
]
