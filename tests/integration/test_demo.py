"""``telemetry-service demo`` as a real process: both sides come up with data, Ctrl-C stops."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration

PATTERNS = {
    "settings": r"Host settings page:\s+(\S+)",
    "dashboard": r"Receiver dashboard:\s+(\S+)",
    "dashboard_signin": r"Dashboard, signed in:\s+(\S+)",
    "events_signin": r"Events, signed in:\s+(\S+)",
    "host_key": r"Host admin key:\s+(\S+)",
    "receiver_key": r"Receiver admin key:\s+(\S+)",
}


def start_demo(data: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "telemetry_service.cli.main",
            "demo",
            "--data",
            str(data),
            "--port",
            "0",
            "--receiver-port",
            "0",
            "--clusters",
            "25",
            "--days",
            "14",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.stdout is not None
    found: dict[str, str] = {}
    output = []
    deadline = time.monotonic() + 90
    while len(found) < len(PATTERNS) and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        output.append(line)
        for name, pattern in PATTERNS.items():
            if match := re.search(pattern, line):
                found[name] = match.group(1)
    if len(found) < len(PATTERNS):
        proc.kill()
        raise AssertionError("demo did not start:\n" + "".join(output))
    return proc, found


def test_demo_brings_up_both_sides_with_data(tmp_path: Path) -> None:
    proc, found = start_demo(tmp_path / "demo")
    try:
        settings = httpx.get(found["settings"], timeout=10)
        assert settings.status_code == 200
        assert "Usage collection" in settings.text
        host = found["settings"].rsplit("/app/", 1)[0]
        status = httpx.get(
            f"{host}/internal/telemetry/status",
            headers={"Authorization": f"ApiKey {found['host_key']}"},
            timeout=10,
        ).json()
        assert status["optedIn"] is True
        assert status["history"][0]["status"] == "HTTP 200"  # the snapshot it sent at start
        receiver = found["dashboard"].rstrip("/")
        auth = {"Authorization": f"ApiKey {found['receiver_key']}"}
        assert httpx.get(f"{receiver}/api/clusters", timeout=10).status_code == 401
        clusters = httpx.get(f"{receiver}/api/clusters", headers=auth, timeout=10).json()
        assert clusters["total"] >= 10
        active = httpx.get(f"{receiver}/api/stats/active-clusters", headers=auth, timeout=10).json()
        assert sum(day["clusters"] for day in active["days"]) > 50
        assert httpx.get(found["dashboard"], timeout=10).status_code == 200
        clicks = simulated_clicks(receiver, auth)
        assert clicks > 100
        # The printed links are one-time sign-in links (the key is in no URL).
        for name in ("dashboard_signin", "events_signin"):
            assert found[name].startswith(receiver + "/signin#token=")
            assert found["receiver_key"] not in found[name]
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=20)
    assert code == 0
    # A second run reuses the keys and the seeded data (the events are not posted again).
    proc, again = start_demo(tmp_path / "demo")
    try:
        auth = {"Authorization": f"ApiKey {again['receiver_key']}"}
        assert simulated_clicks(again["dashboard"].rstrip("/"), auth) == clicks
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    assert again["host_key"] != found["host_key"]


def simulated_clicks(receiver: str, auth: dict[str, str]) -> int:
    """The simulated deployments' `click` events of the demo's 14 days (the host sends none)."""
    answer = httpx.get(
        f"{receiver}/api/events/types", params={"days": 30}, headers=auth, timeout=10
    ).json()
    types = {t["event_type"]: t for t in answer["types"]}
    assert {"click", "page_view", "page_load", "sample_app_action"} <= set(types)
    assert types["click"]["clusters"] >= 10
    return int(types["click"]["events"])
