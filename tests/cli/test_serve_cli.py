"""``telemetry-service serve`` answers only the ``Host`` names it is configured for."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.processes import free_port, run_cli


@pytest.mark.parametrize("by", ["file", "environment"])
def test_serve_answers_server_allowed_hosts_and_refuses_other_names(
    tmp_path: Path, by: str
) -> None:
    """Security review finding 4 (DNS rebinding) for the host: a foreign ``Host`` gets 421
    before any route; a name in ``server.allowedHosts`` (file or environment) is answered.
    Before, the host had no such key: the config file was refused as an unknown key."""
    config = tmp_path / "config.yml"
    text = f"path:\n  data: {tmp_path / 'data'}\nserver:\n  port: {free_port()}\n"
    env = {"DO_NOT_TRACK": "1"}
    if by == "file":
        text += "  allowedHosts: [telemetry-host.example.org]\n"
    else:
        env["TELEMETRY_SERVICE_SERVER_ALLOWEDHOSTS"] = '["telemetry-host.example.org"]'
    config.write_text(text)
    with run_cli(["serve", "--config", str(config)], env=env) as server:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            named = client.get("/api/status", headers={"Host": "telemetry-host.example.org"})
            foreign = client.get("/api/status", headers={"Host": "attacker.example"})
            loopback = client.get("/api/status", headers={"Host": "localhost"})
        assert server.terminate() == 0
    assert named.status_code == 200
    assert named.json()["status"]["overall"]["level"] == "available"
    assert (foreign.status_code, foreign.json()["reason"]) == (421, "host_not_allowed")
    assert loopback.status_code == 200
