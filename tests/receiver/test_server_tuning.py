"""A receiver process hands the GIL over every millisecond (``server.SWITCH_INTERVAL_S``): its
decrypt threads, back from PBKDF2, wait less for the event loop and the writer. Only the
receiver's own processes are tuned; importing the library changes nothing."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import orjson
import pytest

from telemetry_service.receiver import load_config, server
from telemetry_service.receiver.config import WORKER_CONFIG_ENV


def test_a_worker_process_sets_the_switch_interval(
    monkeypatch: pytest.MonkeyPatch, receiver_settings: dict[str, Any]
) -> None:
    calls: list[float] = []
    monkeypatch.setattr(server.sys, "setswitchinterval", calls.append)
    monkeypatch.setattr(server, "_stop_with_parent", lambda: None)
    config = load_config(receiver_settings, env={})
    monkeypatch.setenv(
        WORKER_CONFIG_ENV, orjson.dumps(config.model_dump(by_alias=True, mode="json")).decode()
    )
    server.worker_app()
    assert calls == [server.SWITCH_INTERVAL_S] == [0.001]


def test_importing_the_receiver_leaves_the_interval_alone() -> None:
    code = "import sys, telemetry_service.receiver.server; print(sys.getswitchinterval())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(done.stdout) == pytest.approx(0.005)
