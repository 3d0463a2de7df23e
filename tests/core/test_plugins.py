from __future__ import annotations

import pytest

from telemetry_service.core import (
    CycleError,
    DuplicatePluginError,
    MissingPluginError,
    Plugin,
    PluginContracts,
)
from telemetry_service.core.plugins import resolve_order


def make(pid: str, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()) -> Plugin:
    cls = type(
        f"P_{pid}",
        (Plugin,),
        {"id": pid, "required_plugins": required, "optional_plugins": optional},
    )
    return cls()  # type: ignore[no-any-return]


def ids(plugins: list[Plugin]) -> list[str]:
    return [p.id for p in plugins]


def test_order_puts_dependencies_first_and_is_deterministic() -> None:
    plugins = [make("c", ("b",)), make("b", ("a",)), make("a"), make("d", optional=("c", "x"))]
    order = ids(resolve_order(plugins))
    assert order == ["a", "b", "c", "d"]
    assert ids(resolve_order(list(reversed(plugins)))) == order


def test_missing_required_plugin_names_both() -> None:
    with pytest.raises(
        MissingPluginError, match=r"\[app\] requires \[telemetry\] \(not installed\)"
    ):
        resolve_order([make("app", ("telemetry",))])


def test_disabled_required_plugin_is_reported_as_disabled() -> None:
    with pytest.raises(MissingPluginError, match=r"\[app\] requires \[dep\] \(disabled\)"):
        resolve_order([make("app", ("dep",)), make("dep")], disabled={"dep"})


def test_cycle_names_the_cycle() -> None:
    with pytest.raises(CycleError) as info:
        resolve_order([make("a", ("b",)), make("b", ("c",)), make("c", optional=("a",))])
    assert "a -> b -> c -> a" in str(info.value)
    assert info.value.cycle == ["a", "b", "c", "a"]


def test_duplicate_id_names_the_id_and_classes() -> None:
    with pytest.raises(DuplicatePluginError, match=r"duplicate plugin id \[a\]"):
        resolve_order([make("a"), make("a")])


def test_absent_optional_dependency_is_not_a_cycle_or_error() -> None:
    assert ids(resolve_order([make("a", optional=("nothere",))])) == ["a"]


def test_contracts_mapping_is_read_only_and_rejects_undeclared() -> None:
    contracts = PluginContracts("owner", {"telemetry": None, "x": 1})
    assert contracts["telemetry"] is None
    assert dict(contracts) == {"telemetry": None, "x": 1}
    with pytest.raises(KeyError, match="did not declare"):
        contracts["other"]
    with pytest.raises(TypeError):
        contracts["x"] = 2  # type: ignore[index]
