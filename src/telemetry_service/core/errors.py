"""Errors of the platform core. Every message is one line that names what is wrong."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "CycleError",
    "DuplicatePluginError",
    "MissingPluginError",
    "PlatformError",
    "PluginGraphError",
    "PluginLifecycleError",
]


class PlatformError(Exception):
    """Base class of the errors that stop the platform."""


class ConfigError(PlatformError):
    """Invalid configuration: the message names the key path, the value and what is allowed."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(
            f"invalid config [{key}]: {message}" if key else f"invalid config: {message}"
        )


class PluginGraphError(PlatformError):
    """The plugin set cannot be ordered; raised before any plugin's setup runs."""


class MissingPluginError(PluginGraphError):
    """A plugin requires a plugin that is not installed or is disabled."""


class CycleError(PluginGraphError):
    """The plugins' dependencies form a cycle."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("plugin dependency cycle: " + " -> ".join(cycle))


class DuplicatePluginError(PluginGraphError):
    """Two plugins share one id."""


class PluginLifecycleError(PlatformError):
    """A plugin's setup or start raised; the message names the plugin and the phase."""

    def __init__(self, plugin_id: str, phase: str, cause: BaseException) -> None:
        self.plugin_id = plugin_id
        self.phase = phase
        super().__init__(
            f"plugin [{plugin_id}] failed during {phase}: {type(cause).__name__}: {cause}"
        )
