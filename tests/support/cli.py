"""Run the ``telemetry-service`` command in a child process, with a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["run_command"]


def run_command(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``telemetry-service ARGS``; DO_NOT_TRACK and TELEMETRY_SERVICE_* of the test run are
    removed so that only ``env`` decides."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k != "DO_NOT_TRACK" and not k.startswith("TELEMETRY_SERVICE_")
    }
    return subprocess.run(
        [sys.executable, "-m", "telemetry_service.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**clean, **(env or {})},
        timeout=timeout,
        check=False,
    )
