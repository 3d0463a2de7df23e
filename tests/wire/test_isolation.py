"""The wire package imports nothing else of telemetry_service (DESIGN.md, import rules)."""

from __future__ import annotations

import ast
from pathlib import Path

import telemetry_service.wire as wire

WIRE_DIR = Path(wire.__file__).parent


def test_wire_imports_nothing_else_of_ours() -> None:
    offenders = []
    for module in sorted(WIRE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(), filename=str(module))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level > 1:
                    names = ["." * node.level + (node.module or "")]
                elif node.level == 0 and node.module:
                    names = [node.module]
            for name in names:
                if name.startswith("..") or (
                    name.startswith("telemetry_service")
                    and not name.startswith("telemetry_service.wire")
                ):
                    offenders.append(f"{module.name}: {name}")
    assert offenders == []


def test_public_api_is_declared() -> None:
    assert sorted(wire.__all__) == sorted(set(wire.__all__))
    for name in wire.__all__:
        assert hasattr(wire, name), name
