"""``telemetry-service demo``: the platform with the example plugin, on SQLite under demo-data/."""

from __future__ import annotations

import asyncio
from pathlib import Path

from .serve import serve_platform

__all__ = ["run_demo"]


def run_demo(data_dir: Path | None, port: int | None) -> None:
    data = (data_dir or Path("demo-data")).resolve()
    data.mkdir(parents=True, exist_ok=True)
    config = data / "demo-config.yml"
    config.write_text(f"path:\n  data: {str(data)!r}\n", encoding="utf-8")
    asyncio.run(serve_platform(config, None, port))
