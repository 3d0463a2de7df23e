"""DESIGN.md's import rules, checked by parsing every module of the package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "telemetry_service"


def imports_of(path: Path) -> set[str]:
    """Fully-qualified telemetry_service modules imported by a file (relative ones resolved)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
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


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_import_rules(path: Path) -> None:
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    own = area(module)
    for target in imports_of(path):
        other = area(target)
        if other in ("", own):
            continue
        assert other != "cli", f"{module} imports {target}: nothing imports cli"
        if own == "wire":
            pytest.fail(f"{module} imports {target}: wire imports nothing of ours")
        if own == "core":
            assert not other.startswith("plugins"), (
                f"{module} imports {target}: core imports no plugin"
            )
        if own == "receiver":
            assert other == "wire", f"{module} imports {target}: receiver imports wire only"
        if own.startswith("plugins.") and other.startswith("plugins."):
            assert public_contract(target), f"{module} imports {target}: only public contracts"


def test_the_checker_sees_violations(tmp_path: Path) -> None:
    """The parser must resolve relative imports, or the rules above could never fail."""
    fake = PACKAGE / "core" / "platform.py"
    names = imports_of(fake)
    assert "telemetry_service.core.plugins" in names
    assert area("telemetry_service.plugins.telemetry.rules") == "plugins.telemetry"
    assert is_module("telemetry_service.plugins.telemetry.rules")
    assert not is_module("telemetry_service.plugins.telemetry.TelemetryPlugin")
    assert not public_contract("telemetry_service.plugins.telemetry.rules")
    assert public_contract("telemetry_service.plugins.telemetry")
