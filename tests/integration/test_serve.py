"""``telemetry-service serve`` as a real process on loopback."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.support.processes import free_port, run_cli

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_answers_status_and_stops_cleanly(tmp_path: Path, sig: int) -> None:
    config = tmp_path / "config.yml"
    config.write_text(f"path:\n  data: {tmp_path / 'data'}\nserver:\n  port: {free_port()}\n")
    with run_cli(["serve", "--config", str(config)]) as server:
        status = httpx.get(f"{server.url}/api/status", timeout=10)
        assert status.status_code == 200
        assert status.json()["status"]["overall"]["level"] == "available"
        hello = httpx.get(f"{server.url}/api/sample_app/hello", timeout=10)
        assert hello.json()["hello"] == "world"
        began = time.monotonic()
        code = server.terminate(sig, timeout=10)
        assert code == 0
        assert time.monotonic() - began < 5
    assert (tmp_path / "data" / "telemetry_service.db").exists()
