"""``telemetry-service serve`` against hostile telemetry endpoints, as real processes on loopback
(security review findings 2, 7 and 8)."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from telemetry_service.wire import KeyPair, generate_key_pair
from tests.support.hostile import HostileServer, Mode
from tests.support.processes import ServerProcess, free_port, run_cli

pytestmark = pytest.mark.integration
XSRF = {"kbn-xsrf": "true"}


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return generate_key_pair("vendor")


def host_config(tmp_path: Path, endpoint: str, keys: KeyPair, **telemetry: Any) -> Path:
    path = tmp_path / "host.yml"
    config = {
        "server": {"port": free_port()},
        "path": {"data": str(tmp_path / "data")},
        "telemetry": {
            "endpoints": {"prod": endpoint, "staging": endpoint},
            "encryption": {"jwks": json.dumps(keys.public_jwks), "kid": "vendor"},
            **telemetry,
        },
    }
    path.write_text(json.dumps(config))
    return path


def peak_rss_mb(pid: int) -> float:
    """The process's resident-memory high-water mark (``VmHWM``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def force_send(host: ServerProcess, timeout: float = 60) -> httpx.Response:
    return httpx.post(
        f"{host.url}/internal/telemetry/send", json={"force": True}, headers=XSRF, timeout=timeout
    )


def test_a_1_gib_answer_leaves_the_host_under_200_mb(tmp_path: Path, keys: KeyPair) -> None:
    """Finding 2: the answer of the POST and of the connectivity check is read up to
    ``telemetry.maxResponseBytes``, then the connection is closed."""
    with (
        HostileServer("flood", flood_bytes=1 << 30) as flood,
        run_cli(
            ["serve", "--config", str(host_config(tmp_path, flood.url, keys))],
            env={"DO_NOT_TRACK": ""},
        ) as host,
    ):
        began = time.monotonic()
        answer = force_send(host)
        assert answer.json() == {"sent": True, "reason": "sent"}  # the status is all it needs
        assert time.monotonic() - began < 10
        assert peak_rss_mb(host.proc.pid) < 200
        assert flood.bytes_written < 64 << 20  # it stopped reading long before the 1 GiB
        assert host.terminate() == 0


@pytest.mark.parametrize("mode", ["trickle", "drip"])
def test_sigterm_stops_serve_within_5_s_in_the_middle_of_a_trickled_send(
    tmp_path: Path, keys: KeyPair, mode: Mode
) -> None:
    """Findings 7 and 8: a send that a trickling endpoint holds (the review's repro: a 200 and
    then a body byte at a time; or the header lines a line at a time, with
    ``telemetry.timeouts.send`` at 10 minutes) does not hold a stopping host, and it stops
    without a ``CancelledError`` traceback."""
    with HostileServer(mode, trickle_s=0.2) as trickle:
        config = host_config(tmp_path, trickle.url, keys, timeouts={"send": "10m"})
        with run_cli(["serve", "--config", str(config)], env={"DO_NOT_TRACK": ""}) as host:
            results: list[object] = []
            before = trickle.connections
            worker = threading.Thread(target=lambda: results.append(_send_quietly(host)))
            worker.start()
            waited = time.monotonic()
            while trickle.connections == before and time.monotonic() - waited < 20:
                time.sleep(0.05)
            time.sleep(0.3)  # in the middle of the answer
            stopping = time.monotonic()
            assert host.terminate(signal.SIGTERM, timeout=10) == 0
            assert time.monotonic() - stopping < 5
            worker.join(timeout=10)
            # the held send answers 503 ("The server is stopping."); a trickled one had its 200
            assert results == [503 if mode == "drip" else 200]
            assert host.proc.stdout is not None
            output = host.proc.stdout.read()
    assert "Traceback" not in output
    assert "CancelledError" not in output
    assert output.rstrip().endswith("stopped")


def _send_quietly(host: ServerProcess) -> object:
    try:
        return force_send(host, timeout=15).status_code
    except httpx.HTTPError as exc:
        return exc
