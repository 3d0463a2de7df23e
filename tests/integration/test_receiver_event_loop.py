"""``server.loop`` in a real ``receiver serve``: uvloop by default (in the process and in each
worker process), asyncio's loop when asked, and a clear refusal when uvloop is missing.

Which loop runs is read from the process's memory map (``/proc/PID/maps`` lists uvloop's
extension module once it is loaded); each server also stores a report end to end."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.test_receiver_process import _children, _post_all, config_file
from tests.receiver.processes import fast_bodies, receiver_command, serve_receiver
from tests.receiver.support import snapshot

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/PID/maps"),
]


def _runs_uvloop(pid: int) -> bool:
    return "uvloop" in Path(f"/proc/{pid}/maps").read_text()


def _workers(supervisor: int) -> list[int]:
    """The worker processes (multiprocessing's resource tracker is a child too)."""
    return [
        pid
        for pid in _children(supervisor)
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def _store_reports(url: str, prefix: str, count: int) -> None:
    bodies = fast_bodies([snapshot(f"{prefix}-{i}") for i in range(count)])
    acked: list[str] = []
    asyncio.run(_post_all(url, [(f"{prefix}-{i}", b) for i, b in enumerate(bodies)], acked))
    assert len(acked) == count
    assert httpx.get(f"{url}/api/clusters", timeout=10).json()["total"] == count


@pytest.mark.parametrize(("loop", "uvloop_loaded"), [(None, True), ("asyncio", False)])
def test_receiver_runs_on_the_configured_loop(
    tmp_path: Path, loop: str | None, uvloop_loaded: bool
) -> None:
    config = config_file(tmp_path, **({"server.loop": loop} if loop else {}))
    with serve_receiver(["--config", str(config)]) as server:
        _store_reports(server.url, "loop", 8)
        assert _runs_uvloop(server.proc.pid) is uvloop_loaded
        assert server.terminate(signal.SIGTERM) == 0


def test_worker_processes_run_uvloop_by_default(tmp_path: Path) -> None:
    with serve_receiver(["--config", str(config_file(tmp_path)), "--workers", "2"]) as server:
        _store_reports(server.url, "workers", 12)
        # A worker that has not answered yet may still be importing: wait for both.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            workers = _workers(server.proc.pid)
            if len(workers) >= 2 and all(_runs_uvloop(pid) for pid in workers):
                break
            time.sleep(0.1)
        assert len(workers) >= 2
        assert [pid for pid in workers if not _runs_uvloop(pid)] == []
        assert server.terminate(signal.SIGTERM, timeout=15) == 0


def test_serve_refuses_uvloop_when_it_is_not_installed(tmp_path: Path) -> None:
    blocker = tmp_path / "blocked" / "uvloop"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text('raise ImportError("uvloop is blocked by the test")\n')
    path = os.pathsep.join([str(blocker.parent), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        receiver_command(
            "serve", "--config", str(config_file(tmp_path, **{"server.loop": "uvloop"}))
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert done.returncode == 1
    assert "server.loop: the uvloop event loop was asked for but uvloop is not installed" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr
    assert "listening on" not in done.stdout
