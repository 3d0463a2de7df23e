"""What each plugin receives from the core at setup and at start."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from telemetry_service.ebt import AnalyticsClient

from .config import ConfigService, ConfigView, CoreConfig
from .http import HttpService
from .status import ServiceStatus, StatusCheck, StatusLevel, StatusService
from .store import SavedObjectStore

__all__ = ["CoreSetup", "CoreStart", "HttpSetup", "PluginStatus"]


class PluginStatus:
    """A plugin's handle on its status: ``set`` a value or register an async check."""

    def __init__(self, service: StatusService, plugin_id: str) -> None:
        self._service = service
        self._plugin_id = plugin_id

    def set(self, level: StatusLevel, summary: str) -> None:
        self._service.set_plugin(self._plugin_id, ServiceStatus(level, summary))

    def set_check(self, check: StatusCheck) -> None:
        self._service.set_plugin(self._plugin_id, check)

    async def overall(self) -> StatusLevel:
        """The platform's overall status level."""
        return await self._service.overall()


class HttpSetup:
    """Route registration for one plugin."""

    def __init__(self, service: HttpService) -> None:
        self._service = service

    def create_router(self, prefix: str = "", **kwargs: Any) -> APIRouter:
        return self._service.create_router(prefix, **kwargs)

    def register_router(self, router: APIRouter) -> None:
        self._service.register_router(router)

    @property
    def server_url(self) -> str | None:
        """The URL the server listens on, once it is serving (None in-process)."""
        return self._service.server_url


@dataclass(frozen=True)
class _CoreBase:
    plugin_id: str
    config: ConfigView[Any]
    store: SavedObjectStore
    status: PluginStatus
    logger: logging.Logger
    clock: Callable[[], dt.datetime]
    version: str
    data_path: Path
    env: Mapping[str, str]
    #: The deployment ("cluster") UUID shared by every instance on the store.
    deployment_uuid: str
    #: This instance's UUID (kept in path.data).
    instance_uuid: str
    #: False for one-shot administrative commands: plugins start no background work.
    background: bool
    #: ``core.analytics``: the platform's one event-based telemetry client (docs/events.md).
    analytics: AnalyticsClient
    _config_service: ConfigService

    @property
    def core_config(self) -> CoreConfig:
        """The platform's own config (server, path, store…), current value."""
        return self._config_service.core

    def update_config(self, patch: dict[str, Any]) -> None:
        """Change config at run time (validated; an error changes nothing)."""
        self._config_service.update(patch)

    def section(self, path: str) -> BaseModel | None:
        """Another section's current value, or None when that plugin is disabled or absent."""
        try:
            return self._config_service.get(path)
        except KeyError:
            return None


@dataclass(frozen=True)
class CoreSetup(_CoreBase):
    """Given to ``Plugin.setup``: everything of the core, plus route registration."""

    http: HttpSetup


@dataclass(frozen=True)
class CoreStart(_CoreBase):
    """Given to ``Plugin.start``."""

    http: HttpSetup
