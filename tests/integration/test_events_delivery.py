"""Event-based telemetry from real ``telemetry-service serve`` processes to a capture server.

An opted-in host delivers its start event and ``sample_app``'s event within 15 s, as Kibana's
NDJSON with Kibana's headers; an opted-out host makes no request in the same time, and the
events it reported meanwhile are never sent, even after an opt-in.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from telemetry_service.testing import CaptureServer
from tests.support.processes import ServerProcess, run_cli
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

SERVER = "/v3/send/telemetry-service-server"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def write_config(folder: Path, capture: CaptureServer, **telemetry: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "path": {"data": str(folder / "data")},
        "server": {"host": "127.0.0.1", "port": 0},
        "telemetry": {
            "endpoints": {"prod": capture.url, "staging": capture.url},
            "fetcher": {"enabled": False},  # only events: no snapshot in the capture server
            **telemetry,
        },
    }
    path = folder / "telemetry_service.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@contextlib.contextmanager
def serve(config: Path, env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    with run_cli(["serve", "--config", str(config)], env={"DO_NOT_TRACK": "", **(env or {})}) as p:
        assert p.proc.stdout is not None
        # Keep reading the output so that a full pipe never blocks the server.
        threading.Thread(target=p.proc.stdout.read, daemon=True).start()
        yield p


def events(capture: CaptureServer) -> list[dict[str, Any]]:
    found = []
    for post in capture.posts(SERVER):
        found += [json.loads(line) for line in post.body.decode().splitlines()]
    return found


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "telemetry_service.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DO_NOT_TRACK": ""},
        check=False,
    )


def kinds(found: list[dict[str, Any]]) -> set[str]:
    return {e["event_type"] for e in found}


def test_opted_in_delivers_within_15s_and_opted_out_sends_nothing(tmp_path: Path) -> None:
    with CaptureServer() as inbox, CaptureServer() as silent:
        opted_in = write_config(tmp_path / "in", inbox)
        opted_out = write_config(tmp_path / "out", silent)
        result = cli("telemetry", "opt-out", "--config", str(opted_out))  # a stored opt-out
        assert result.returncode == 0, result.stderr
        with serve(opted_in) as host, serve(opted_out) as quiet:
            started = time.monotonic()
            for url in (host.url, quiet.url):
                assert httpx.get(f"{url}/api/sample_app/hello", timeout=10).status_code == 200
            wait_until(
                lambda: {"platform_started", "sample_app_action"} <= kinds(events(inbox)),
                timeout=15 - (time.monotonic() - started),
                what="the start event and sample_app's event",
            )
            post = inbox.posts(SERVER)[0]
            assert post.headers["content-type"] == "application/x-ndjson"
            assert post.headers["x-elastic-stack-version"]
            cluster = post.headers["x-elastic-cluster-id"]
            assert UUID.fullmatch(cluster)
            assert post.body.endswith(b"\n")
            instance = (tmp_path / "in" / "data" / "uuid").read_text().strip()
            for event in events(inbox):
                assert list(event) == ["timestamp", "event_type", "context", "properties"]
                assert event["context"]["cluster_uuid"] == cluster
                assert event["context"]["instance_uuid"] == instance
            actions = [
                e["properties"]["action"]
                for e in events(inbox)
                if e["event_type"] == "sample_app_action"
            ]
            assert actions == ["started", "hello"]

            time.sleep(max(0.0, 15 - (time.monotonic() - started)))
            assert silent.requests == [], "an opted-out host made a request"

            # Opting in later sends new events only: what was reported before is gone.
            result = cli("telemetry", "opt-in", "--config", str(opted_out))
            assert result.returncode == 0, result.stderr

            def greeted_after_opt_in() -> bool:
                httpx.get(f"{quiet.url}/api/sample_app/hello", timeout=10)
                return "sample_app_action" in kinds(events(silent))

            wait_until(
                greeted_after_opt_in, timeout=40, what="an event after the opt-in", interval=0.1
            )
            late = events(silent)
            assert "platform_started" not in kinds(late)
            assert all(
                e["properties"]["action"] == "hello" for e in late if "action" in e["properties"]
            )
            assert all(
                e["properties"]["greetings_served"] > 1
                for e in late
                if e["event_type"] == "sample_app_action"
            ), "the greeting reported while opted out was sent"

            def shipper_state() -> dict[str, Any] | None:
                result = cli("telemetry", "status", "--json", "--config", str(opted_in))
                assert result.returncode == 0, result.stderr
                shipper: dict[str, Any] | None = json.loads(result.stdout)["events"]["shipper"]
                return shipper if shipper and shipper["counts"]["succeeded"] else None

            state = wait_until(shipper_state, timeout=20, what="the shipper's state in the status")
            assert state["url"] == f"{inbox.url}v3/send/telemetry-service-server"
            assert state["lastSend"] is not None
            assert state["lastResult"] == "succeeded (200)"
