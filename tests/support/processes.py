"""Run the real ``telemetry-service`` command in a child process on loopback."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = ["ServerProcess", "free_port", "run_cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    def __init__(self, proc: subprocess.Popen[str], url: str, startup: str = "") -> None:
        self.proc = proc
        self.url = url
        self.startup = startup  # the output up to the "listening on" line

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)


@contextmanager
def run_cli(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    ready_timeout: float = 30,
) -> Iterator[ServerProcess]:
    """Start ``telemetry-service ARGS`` and wait for its "listening on URL" line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "telemetry_service.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    url = None
    deadline = time.monotonic() + ready_timeout
    lines: list[str] = []
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            url = match.group(1)
            break
    if url is None:
        proc.kill()
        proc.wait()
        raise RuntimeError("server did not start:\n" + "".join(lines))
    server = ServerProcess(proc, url, "".join(lines))
    try:
        yield server
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def get(url: str, **kwargs: object) -> httpx.Response:
    return httpx.get(url, timeout=10, **kwargs)  # type: ignore[arg-type]
