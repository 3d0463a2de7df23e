"""Configuration: one YAML file plus environment overrides, validated per section.

Every key can be set by an environment variable named ``TELEMETRY_SERVICE_`` followed by the
key path in upper case with dots replaced by underscores: ``telemetry.optIn`` is
``TELEMETRY_SERVICE_TELEMETRY_OPTIN``, ``server.port`` is ``TELEMETRY_SERVICE_SERVER_PORT``
(names are matched in any case).
Values are strings coerced to the key's type (``false``, ``5602``, ``30s``); lists and objects
are given as JSON (``'["a","b"]'``). An environment variable with the prefix that matches no
key is an error, like an unknown key in the file. Reading and the overlay are
:mod:`telemetry_service.common.config_file`'s; this module owns the host's sections.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field, ValidationError

from telemetry_service.common.config_file import (
    AuthConfig,
    Duration,
    Section,
    apply_env,
    config_errors_as,
    deep_merge,
    expand_dotted,
    first_error,
    leaf_paths,
    parse_duration,
    read_config_file,
)
from telemetry_service.common.log import LoggingConfig

from .errors import ConfigError

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ENV_PREFIX",
    "ConfigService",
    "ConfigView",
    "CoreConfig",
    "Duration",
    "load_raw_config",
    "parse_duration",
    "validate_section",
]

#: The one place where the host turns a config-file problem into its :class:`ConfigError`.
_config_errors = partial(config_errors_as, ConfigError)

DEFAULT_CONFIG_PATH = Path("config/telemetry_service.yml")
ENV_PREFIX = "TELEMETRY_SERVICE_"
#: Environment variables with the prefix that are not config keys.
RESERVED_ENV = frozenset({"TELEMETRY_SERVICE_CONFIG", "TELEMETRY_SERVICE_DEBUG"})


class ServerConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=5601, ge=0, le=65535)
    max_body_bytes: int = Field(default=1024 * 1024, gt=0, alias="maxBodyBytes")
    name: str = "telemetry-service"
    auth: AuthConfig = AuthConfig()


class PathConfig(Section):
    data: Path = Path("./data")


class StoreConfig(Section):
    url: str | None = None
    """``sqlite:///path/file.db`` or ``postgresql://…``; default: a SQLite file under path.data."""


class PluginsConfig(Section):
    stop_timeout: Duration = Field(default=30.0, alias="stopTimeout")


class CoreConfig(Section):
    """The platform's own sections; every other top-level key belongs to a plugin."""

    server: ServerConfig = ServerConfig()
    path: PathConfig = PathConfig()
    store: StoreConfig = StoreConfig()
    logging: LoggingConfig = LoggingConfig()
    plugins: PluginsConfig = PluginsConfig()


def load_raw_config(source: Mapping[str, Any] | str | os.PathLike[str] | None) -> dict[str, Any]:
    """Read the raw config: a mapping as given, a YAML file, or the default file if it exists."""
    with _config_errors():
        return read_config_file(source, DEFAULT_CONFIG_PATH)


M = TypeVar("M", bound=BaseModel)


def validate_section(model: type[M], data: Any, prefix: str) -> M:
    """Validate one section; the first problem becomes a one-line :class:`ConfigError`."""
    with _config_errors():
        try:
            return model.model_validate({} if data is None else data)
        except ValidationError as exc:
            raise first_error(exc, prefix) from None


class ConfigService:
    """The validated config of the core and of each plugin section; updatable at run time.

    Plugins' sections are registered first (``register``), then ``validate`` checks the whole
    file and environment at once, so that an unknown key anywhere is reported before start-up.
    """

    def __init__(self, raw: dict[str, Any], env: Mapping[str, str]) -> None:
        with _config_errors():
            self._raw = expand_dotted(raw)
        self._env = {k: v for k, v in env.items() if k.upper().startswith(ENV_PREFIX)}
        self._schemas: dict[str, type[BaseModel] | None] = {}
        self._values: dict[str, BaseModel] = {}
        self._merged: dict[str, Any] = {}
        self.core: CoreConfig = CoreConfig()
        self._owns_enabled: frozenset[str] = frozenset()

    def register(self, path: str, schema: type[BaseModel] | None) -> None:
        """Declare a plugin's section; its ``enabled`` key is always allowed."""
        self._schemas[path] = schema

    def _known_paths(self) -> list[str]:
        paths = list(leaf_paths(CoreConfig))
        for section, schema in self._schemas.items():
            paths.append(f"{section}.enabled")
            if schema is not None:
                paths.extend(leaf_paths(schema, section + "."))
        return sorted(set(paths))

    def merged(self) -> dict[str, Any]:
        """The file with the environment applied, checked for unknown top-level keys."""
        with _config_errors():
            merged = apply_env(self._raw, self._env, ENV_PREFIX, self._known_paths(), RESERVED_ENV)
        core_keys = set(CoreConfig.model_fields)
        for key, value in merged.items():
            if key in core_keys:
                continue
            if key not in self._schemas:
                known = ", ".join(sorted([*core_keys, *self._schemas]))
                raise ConfigError(key, f"unknown key; the known top-level keys are {known}")
            if value is not None and not isinstance(value, dict):
                raise ConfigError(key, f"got {value!r}: expected a mapping of keys")
        return merged

    def section_enabled(self, path: str) -> bool:
        """``<path>.enabled`` (default true); only meaningful after :meth:`validate`."""
        value = (self._merged.get(path) or {}).get("enabled", True)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise ConfigError(f"{path}.enabled", f"got {value!r}: expected true or false")
        return value

    def validate(self, *, owns_enabled: frozenset[str] = frozenset()) -> None:
        """Validate everything; ``owns_enabled`` lists sections whose schema defines ``enabled``.

        Sections switched off with ``<path>.enabled: false`` are not validated further.
        """
        merged = self.merged()
        core_keys = set(CoreConfig.model_fields)
        core = validate_section(CoreConfig, {k: v for k, v in merged.items() if k in core_keys}, "")
        self._merged = merged
        values: dict[str, BaseModel] = {}
        for section, schema in self._schemas.items():
            data = dict(merged.get(section) or {})
            if section not in owns_enabled:
                if not self.section_enabled(section):
                    continue
                data.pop("enabled", None)
            if schema is None:
                if data:
                    raise ConfigError(f"{section}.{next(iter(data))}", "unknown key")
                continue
            values[section] = validate_section(schema, data, section)
        self.core = core
        self._values = values
        self._owns_enabled = owns_enabled

    def get(self, path: str) -> BaseModel:
        """The current validated value of a section."""
        return self._values[path]

    def update(self, patch: Mapping[str, Any]) -> None:
        """Merge ``patch`` into the config and re-validate; on error nothing changes."""
        previous, previous_values, previous_core = self._raw, self._values, self.core
        with _config_errors():
            self._raw = deep_merge(self._raw, expand_dotted(patch))
        try:
            self.validate(owns_enabled=self._owns_enabled)
        except ConfigError:
            self._raw, self._values, self.core = previous, previous_values, previous_core
            raise


class ConfigView(Generic[M]):
    """A plugin's handle on its own section: ``get()`` always returns the current value."""

    def __init__(self, service: ConfigService, path: str) -> None:
        self._service = service
        self.path = path

    def get(self) -> M:
        return self._service.get(self.path)  # type: ignore[return-value]
