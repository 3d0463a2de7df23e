"""``telemetry-service demo``: the platform with the example plugin, on SQLite under demo-data/."""

from __future__ import annotations

import tempfile
from pathlib import Path

from .serve import serve_platform

__all__ = ["run_demo"]


async def run_demo(data_dir: Path | None, port: int | None) -> None:
    data = data_dir or Path("demo-data")
    data.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False, dir=data) as handle:
        handle.write(f"path:\n  data: {str(data.resolve())!r}\n")
        config = Path(handle.name)
    try:
        await serve_platform(config, None, port)
    finally:
        config.unlink(missing_ok=True)
