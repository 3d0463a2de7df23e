"""DESIGN.md's import rules, checked by parsing every module of the package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "telemetry_service"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Fully-qualified telemetry_service modules imported by a file (relative ones resolved).

    ``ast.walk`` visits every node, so imports inside functions and ``TYPE_CHECKING`` blocks count.
    """
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    return parse_imports(path.read_text(), package)


def parse_imports(source: str, package: str) -> set[str]:
    """The telemetry_service modules a module of ``package`` with this source imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.add(name)
            # `from package import module` imports a module; `from module import Name` doesn't.
            found.update(
                f"{name}.{alias.name}" for alias in node.names if is_module(f"{name}.{alias.name}")
            )
    return {name for name in found if name.startswith("telemetry_service")}


def is_module(name: str) -> bool:
    parts = name.split(".")[1:]
    base = PACKAGE.joinpath(*parts)
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def area(module: str) -> str:
    parts = module.split(".")
    if len(parts) >= 3 and parts[1] == "plugins":
        return f"plugins.{parts[2]}"
    return parts[1] if len(parts) > 1 else ""


MODULES = sorted(PACKAGE.rglob("*.py"))


def public_contract(module: str) -> bool:
    """A plugin's public surface: its package or its ``contracts`` module."""
    parts = module.split(".")
    return len(parts) <= 3 or (len(parts) >= 4 and parts[3] in ("contracts", "__init__"))


ALLOWED = {
    # DESIGN.md's import rules: what each area may import besides itself.
    "common": set(),
    "wire": set(),
    "ebt": {"common", "wire"},
    "core": {"common", "wire", "ebt"},
    "receiver": {"common", "wire"},
    "testing": {"common", "wire"},  # the shipped fakes: usable beside the host or the receiver
}
PLUGIN_MAY_IMPORT = {"core", "common", "wire", "ebt"}


def violation(module: str, target: str) -> str | None:
    """Why ``module`` may not import ``target`` under DESIGN.md's rules, or None."""
    own, other = area(module), area(target)
    if other in ("", own):
        return None
    if other == "cli":
        return "nothing imports cli"
    if own in ALLOWED:
        if other not in ALLOWED[own]:
            allowed = ", ".join(sorted(ALLOWED[own])) or "nothing of ours"
            return f"{own} imports {allowed} only"
        return None
    if own.startswith("plugins."):
        if other.startswith("plugins."):
            return None if public_contract(target) else "only public contracts of plugins"
        if other not in PLUGIN_MAY_IMPORT:
            return "a plugin imports core, common, wire, ebt and plugin contracts only"
    if own == "plugins" and other not in PLUGIN_MAY_IMPORT and not other.startswith("plugins."):
        return "the plugins package imports core, common, wire, ebt and plugins only"
    return None


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_import_rules(path: Path) -> None:
    module = module_name(path)
    for target in imports_of(path):
        why = violation(module, target)
        assert why is None, f"{module} imports {target}: {why}"


def graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (inside functions too), packages included."""
    edges: dict[str, set[str]] = {}
    for path in MODULES:
        module = module_name(path)
        edges[module] = {t for t in imports_of(path) if t != module and is_module(t)}
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``edges`` (as a path that returns to its start), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def without_package_edges(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """Drop edges into a package's ``__init__`` from its own submodules' parents.

    ``pkg/__init__.py`` re-exporting ``pkg.mod`` while ``pkg.mod`` imports ``pkg.sibling`` is the
    normal way a package exposes its surface, not a cycle between modules: only the edge from a
    submodule to its *own* package is dropped.
    """
    return {
        module: {t for t in targets if not module.startswith(t + ".")}
        for module, targets in edges.items()
    }


def test_no_import_cycles() -> None:
    cycle = find_cycle(without_package_edges(graph()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_checker_sees_violations() -> None:
    """The parser must resolve relative imports, or the rules above could never fail."""
    assert violation("telemetry_service.receiver.app", "telemetry_service.core.store")
    assert violation("telemetry_service.receiver.app", "telemetry_service.plugins.telemetry")
    assert violation("telemetry_service.common.clock", "telemetry_service.wire.keys")
    assert violation("telemetry_service.wire.keys", "telemetry_service.common.clock")
    assert violation("telemetry_service.ebt.client", "telemetry_service.core.store")
    assert violation("telemetry_service.core.http", "telemetry_service.plugins.telemetry")
    assert violation("telemetry_service.core.http", "telemetry_service.receiver")
    assert violation("telemetry_service.plugins.telemetry.plugin", "telemetry_service.receiver")
    assert violation("telemetry_service.plugins.telemetry.plugin", "telemetry_service.cli.main")
    assert violation(
        "telemetry_service.plugins.telemetry.plugin",
        "telemetry_service.plugins.usage_collection.collector",
    )
    assert violation("telemetry_service.receiver.app", "telemetry_service.common.clock") is None
    assert violation("telemetry_service.core.store", "telemetry_service.ebt") is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    inside_a_function = "def f():\n    from ..cli import main\n"
    assert "telemetry_service.cli" in parse_imports(inside_a_function, "telemetry_service.core")
    fake = PACKAGE / "core" / "platform.py"
    names = imports_of(fake)
    assert "telemetry_service.core.plugins" in names
    assert area("telemetry_service.plugins.telemetry.rules") == "plugins.telemetry"
    assert is_module("telemetry_service.plugins.telemetry.rules")
    assert not is_module("telemetry_service.plugins.telemetry.TelemetryPlugin")
    assert not public_contract("telemetry_service.plugins.telemetry.rules")
    assert public_contract("telemetry_service.plugins.telemetry")


def defined_names(path: Path) -> set[str]:
    """Public top-level names a module defines (functions, classes, assignments), TypeVars aside."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            value = node.value
            if (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
                and value.func.id in ("TypeVar", "ParamSpec")
            ):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return {name for name in names if not name.startswith("_")}


def test_no_name_of_the_shared_layer_is_defined_again() -> None:
    """A name that ``common`` or ``wire`` defines is imported, never defined again by ``core``,
    a plugin or the receiver (two classes of one name made ``except StoreError`` ambiguous)."""
    shared: dict[str, Path] = {}
    for path in MODULES:
        if area(module_name(path)) in ("common", "wire"):
            shared.update(dict.fromkeys(defined_names(path), path))
    # The scan must see the shared names, or the check below could never fail.
    assert {"StoreError", "Clock", "ApiKeyRegistry", "channel_name"} <= shared.keys()
    assert "T" not in shared  # TypeVars are local to their module
    again = [
        f"{path.relative_to(PACKAGE)} defines {name} (also in {shared[name].relative_to(PACKAGE)})"
        for path in MODULES
        if area(module_name(path)).split(".")[0] in ("core", "plugins", "receiver")
        for name in sorted(defined_names(path) & shared.keys())
    ]
    assert not again, "\n".join(again)
