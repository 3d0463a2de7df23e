"""``telemetry events`` and the events line of ``telemetry status``, as real processes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run_command


def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(f"path:\n  data: {tmp_path / 'data'}\n")
    return path


def test_events_lists_the_server_and_browser_event_types(tmp_path: Path) -> None:
    result = run_command(
        "telemetry", "events", "--json", "--config", str(config(tmp_path)), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    listed = {e["event_type"]: e for e in json.loads(result.stdout)}
    assert {"platform_started", "core-overall_status_changed", "sample_app_action"} <= set(listed)
    assert listed["sample_app_action"]["channel"] == "server"
    assert listed["page_view"]["channel"] == "browser"
    assert listed["sample_app_action"]["properties"]["action"]["type"] == "keyword"

    table = run_command("telemetry", "events", "--config", str(config(tmp_path)), cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "sample_app_action (server)" in table.stdout
    assert "uptime_per_step.setup.start" in table.stdout


def test_status_says_when_no_host_ships_events(tmp_path: Path) -> None:
    cfg = str(config(tmp_path))
    result = run_command("telemetry", "status", "--config", cfg, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Events" in result.stdout
    assert "not shipped (no running host with a configured endpoint)" in result.stdout
    as_json = run_command("telemetry", "status", "--json", "--config", cfg, cwd=tmp_path)
    assert json.loads(as_json.stdout)["events"] == {"shipper": None, "updatedAt": None}
