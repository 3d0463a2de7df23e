"""The plugin base class and the dependency graph (order, cycles, missing plugins)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from .errors import CycleError, DuplicatePluginError, MissingPluginError

if TYPE_CHECKING:
    from .context import CoreSetup, CoreStart

__all__ = ["Plugin", "PluginContracts", "resolve_order"]


class Plugin:
    """A unit of the host application, set up and started in dependency order.

    Subclasses set ``id`` and may declare ``required_plugins`` and ``optional_plugins``; they
    receive exactly those plugins' contracts. ``config_schema`` (a pydantic model) validates
    the plugin's config section, found at ``config_path`` (default: the id).
    """

    id: ClassVar[str]
    required_plugins: ClassVar[tuple[str, ...]] = ()
    optional_plugins: ClassVar[tuple[str, ...]] = ()
    config_path: ClassVar[str | None] = None
    config_schema: ClassVar[type[BaseModel] | None] = None
    #: False when the plugin's own schema gives ``enabled`` a meaning other than "disable me".
    disableable: ClassVar[bool] = True

    @classmethod
    def section(cls) -> str:
        """The plugin's config section name."""
        return cls.config_path or cls.id

    async def setup(self, core: CoreSetup, plugins: PluginContracts) -> object | None:
        """Register what the plugin offers; return the setup contract other plugins receive."""
        return None

    async def start(self, core: CoreStart, plugins: PluginContracts) -> object | None:
        """Begin work; return the start contract other plugins receive."""
        return None

    async def stop(self) -> None:
        """Release resources; called in reverse dependency order, with a bounded time."""
        return

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={getattr(self, 'id', '?')!r}>"


class PluginContracts(Mapping[str, Any]):
    """A read-only view of exactly the plugins a plugin declared.

    An optional plugin that is absent or disabled maps to ``None``; asking for a plugin that
    was not declared raises ``KeyError``.
    """

    def __init__(self, owner: str, contracts: Mapping[str, Any]) -> None:
        self._owner = owner
        self._contracts = dict(contracts)

    def __getitem__(self, plugin_id: str) -> Any:
        try:
            return self._contracts[plugin_id]
        except KeyError:
            raise KeyError(
                f"plugin [{self._owner}] did not declare [{plugin_id}] in required_plugins or "
                "optional_plugins"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._contracts)

    def __len__(self) -> int:
        return len(self._contracts)

    def __repr__(self) -> str:
        shown = {k: type(v).__name__ if v is not None else None for k, v in self.items()}
        return f"PluginContracts({self._owner!r}, {shown})"


def resolve_order(plugins: Sequence[Plugin], disabled: Iterable[str] = ()) -> list[Plugin]:
    """Enabled plugins in a deterministic dependency order.

    Raises before anything runs: a duplicate id, a required plugin that is missing or disabled,
    or a dependency cycle (among required and present optional dependencies).
    """
    seen: dict[str, Plugin] = {}
    for plugin in plugins:
        plugin_id = getattr(plugin, "id", None)
        if not isinstance(plugin_id, str) or not plugin_id:
            raise DuplicatePluginError(f"plugin {plugin!r} has no id")
        if plugin_id in seen:
            raise DuplicatePluginError(
                f"duplicate plugin id [{plugin_id}]: {type(seen[plugin_id]).__name__} and "
                f"{type(plugin).__name__}"
            )
        seen[plugin_id] = plugin
    off = set(disabled)
    enabled = {pid: p for pid, p in seen.items() if pid not in off}

    missing = []
    for pid, plugin in sorted(enabled.items()):
        for dep in plugin.required_plugins:
            if dep not in enabled:
                why = "disabled" if dep in seen else "not installed"
                missing.append(f"[{pid}] requires [{dep}] ({why})")
    if missing:
        raise MissingPluginError("missing required plugins: " + "; ".join(missing))

    def deps(pid: str) -> list[str]:
        plugin = enabled[pid]
        declared = (*plugin.required_plugins, *plugin.optional_plugins)
        return sorted(dep for dep in set(declared) if dep in enabled)

    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(pid: str, path: list[str]) -> None:
        if state.get(pid) == 2:
            return
        if state.get(pid) == 1:
            raise CycleError([*path[path.index(pid) :], pid])
        state[pid] = 1
        for dep in deps(pid):
            visit(dep, [*path, pid])
        state[pid] = 2
        order.append(pid)

    for pid in sorted(enabled):
        visit(pid, [])
    return [enabled[pid] for pid in order]
