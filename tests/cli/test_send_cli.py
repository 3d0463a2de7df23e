"""``telemetry send [--force]``, ``telemetry export`` and ``telemetry.debug`` as real processes."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from telemetry_service.testing import CaptureServer
from telemetry_service.wire import Decryptor, KeyPair, generate_key_pair
from tests.support.cli import run_command


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return generate_key_pair("vendor")


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    server = CaptureServer().start()
    yield server
    server.stop()


cli = run_command


@pytest.fixture
def config(tmp_path: Path, capture: CaptureServer, keys: KeyPair) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(
        json.dumps(
            {
                "path": {"data": str(tmp_path / "data")},
                "telemetry": {
                    "endpoints": {"prod": capture.url},
                    "encryption": {"jwks": json.dumps(keys.public_jwks), "kid": "vendor"},
                },
            }
        )
    )
    return path


def test_send_and_force(config: Path, capture: CaptureServer, keys: KeyPair) -> None:
    first = cli("telemetry", "send", "-c", str(config), cwd=config.parent)
    assert first.returncode == 0, first.stderr
    assert len(capture.posts("-snapshot")) == 1
    again = cli("telemetry", "send", "-c", str(config), cwd=config.parent)
    assert again.returncode == 1
    assert "already reported in this interval" in again.stderr
    forced = cli("telemetry", "send", "--force", "-c", str(config), cwd=config.parent)
    assert forced.returncode == 0
    assert len(capture.posts("-snapshot")) == 2
    payload = Decryptor(keys.private_jwks).decrypt_json(capture.posts()[1].body)
    assert payload["collection"] == "local"
    status = json.loads(
        cli("telemetry", "status", "--json", "-c", str(config), cwd=config.parent).stdout
    )
    assert [h["status"] for h in status["history"]] == ["HTTP 200", "HTTP 200"]
    assert status["lastReported"] is not None


def test_force_never_skips_consent(config: Path, capture: CaptureServer) -> None:
    assert cli("telemetry", "opt-out", "-c", str(config), cwd=config.parent).returncode == 0
    [message] = capture.posts("-opt-in-reports")  # the one opt-out message
    result = cli("telemetry", "send", "--force", "-c", str(config), cwd=config.parent)
    assert result.returncode == 1
    assert "nothing sent: not opted in" in result.stderr
    dnt = cli(
        "telemetry",
        "send",
        "--force",
        "-c",
        str(config),
        cwd=config.parent,
        env={"DO_NOT_TRACK": "1"},
    )
    assert dnt.returncode == 1
    assert "DO_NOT_TRACK" in dnt.stderr
    assert capture.posts("-snapshot") == []
    assert message.path.endswith("telemetry-service-opt-in-reports")


def test_export_writes_an_encrypted_report_with_headers(
    config: Path, capture: CaptureServer, keys: KeyPair
) -> None:
    out = config.parent / "export.json"
    result = cli("telemetry", "export", str(out), "-c", str(config), cwd=config.parent)
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert document["format"] == "telemetry-service-export/1"
    assert document["channel"] == "telemetry-service-snapshot"
    assert document["headers"]["X-Elastic-Content-Encoding"] == "aes256gcm"
    payload = Decryptor(keys.private_jwks).decrypt_json(document["body"])
    assert payload["cluster_uuid"] == document["headers"]["X-Elastic-Cluster-ID"]
    assert capture.requests == []  # exporting sends nothing
    refused = cli(
        "telemetry",
        "export",
        str(out),
        "-c",
        str(config),
        cwd=config.parent,
        env={"DO_NOT_TRACK": "1"},
    )
    assert refused.returncode == 1
    assert "nothing exported" in refused.stderr


def test_debug_prints_instead_of_sending(config: Path, capture: CaptureServer) -> None:
    result = cli(
        "telemetry",
        "send",
        "-c",
        str(config),
        cwd=config.parent,
        env={"TELEMETRY_SERVICE_DEBUG": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert '"collectionSource": "local"' in result.stdout
    assert "telemetry.debug: snapshot printed, not sent:" in result.stdout
    assert result.stdout.rstrip().endswith("Snapshot printed, not sent (telemetry.debug is on).")
    assert "Snapshot sent" not in result.stdout
    assert capture.requests == []
    status = cli("telemetry", "status", "--json", "-c", str(config), cwd=config.parent)
    assert json.loads(status.stdout)["history"][0]["status"] == "debug: printed, not sent"


def test_send_to_a_refused_port_fails_fast_with_one_line(tmp_path: Path, keys: KeyPair) -> None:
    """Issue 11: it hung about 5 minutes before failing."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        config = tmp_path / "config.yml"
        config.write_text(
            json.dumps(
                {
                    "path": {"data": str(tmp_path / "data")},
                    "telemetry": {
                        "endpoints": {"prod": endpoint},
                        "encryption": {"jwks": json.dumps(keys.public_jwks), "kid": "vendor"},
                    },
                }
            )
        )
        began = time.monotonic()
        result = cli("telemetry", "send", "-c", str(config), cwd=tmp_path)
        elapsed = time.monotonic() - began
    assert result.returncode == 1
    assert elapsed < 30
    assert result.stderr.splitlines() == [
        "error: nothing sent: could not reach the endpoint: connection failed (Connection refused)"
    ]
    assert result.stdout == ""
