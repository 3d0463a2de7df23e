"""Process plumbing of the chaos run: a process's output copied to a log file, and the
``telemetry-service`` command line under a faked date (libfaketime)."""

from __future__ import annotations

import datetime as dt
import glob
import os
import subprocess
import sys
import threading
from pathlib import Path

from tests.support.processes import ServerProcess

__all__ = ["clean_env", "drain", "faked_cli"]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without DO_NOT_TRACK and TELEMETRY_SERVICE_* (the config decides)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "DO_NOT_TRACK" and not k.startswith(("TELEMETRY_SERVICE_", "FAKETIME"))
    }
    return {**env, "TZ": "UTC", **extra}


def drain(server: ServerProcess, log: Path) -> threading.Thread:
    """Copy the process's output to `log` (appending), so that a full pipe never blocks it."""

    def run() -> None:
        assert server.proc.stdout is not None
        with log.open("a") as out:
            out.write(server.startup)
            for line in server.proc.stdout:
                out.write(line)
                out.flush()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def libfaketime() -> str:
    """The library that the ``faketime`` command preloads (Debian package faketime)."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found:
        raise FileNotFoundError("libfaketime is missing (Debian package faketime)")
    return found[0]


def faked_cli(when: dt.datetime, *args: str, cwd: Path) -> subprocess.Popen[str]:
    """Start ``telemetry-service ARGS`` with its clock starting at `when` (UTC) and running on.

    libfaketime is preloaded into the Python process itself, not through the ``faketime``
    command, which would stand between: a SIGKILL must reach the sender, not a wrapper.
    """
    stamp = when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return subprocess.Popen(
        [sys.executable, "-m", "telemetry_service.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(LD_PRELOAD=libfaketime(), FAKETIME=f"@{stamp}"),
        cwd=cwd,
    )
