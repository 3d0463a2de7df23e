"""``serve``, ``receiver serve`` and ``demo`` as real processes: what they share through
``common.serving`` and ``common.log`` (bounded shutdown, a port in use, ``logging.level``)."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.receiver.support import SNAPSHOT, headers, write_private_keys
from tests.support.cli import run_command
from tests.support.processes import ServerProcess, free_port, run_cli

pytestmark = pytest.mark.integration

SERVERS = ["host", "receiver"]


def server_args(kind: str, tmp_path: Path, *extra: str, port: int | None = None) -> list[str]:
    """The argv of `kind`'s server with a config file in `tmp_path` plus `extra` lines."""
    lines = [f"server.port: {free_port() if port is None else port}"]
    if kind == "host":
        command = ["serve"]
        lines.append(f"path.data: {tmp_path / 'data'}")
    else:
        command = ["receiver", "serve"]
        lines.append(f"keys: {write_private_keys(tmp_path / 'receiver.private.jwks.json')}")
        lines.append(f"store.url: sqlite:///{tmp_path / 'receiver.db'}")
    lines += extra
    config = tmp_path / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    return [*command, "--config", str(config)]


def slow_request(kind: str) -> bytes:
    """The headers and the first bytes of a body that never comes in full."""
    if kind == "host":
        target, fields = "/internal/telemetry/optIn", {"kbn-xsrf": "1"}
    else:
        target, fields = f"/v3/send/{SNAPSHOT}", headers("c-1")
    fields = {**fields, "Host": "test", "Content-Type": "application/json"}
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return f"POST {target} HTTP/1.1\r\n{head}Content-Length: 100000\r\n\r\n{{".encode()


def output_after_stop(server: ServerProcess) -> str:
    """Everything the server wrote (stdout and stderr), once it has stopped."""
    assert server.terminate(signal.SIGTERM) == 0
    assert server.proc.stdout is not None
    return server.startup + server.proc.stdout.read()


@pytest.mark.parametrize("kind", SERVERS)
def test_sigterm_stops_within_5_s_while_a_slow_client_sends(kind: str, tmp_path: Path) -> None:
    with run_cli(server_args(kind, tmp_path)) as server:
        address = urlsplit(server.url)
        with socket.create_connection((str(address.hostname), address.port or 0)) as slow:
            slow.sendall(slow_request(kind))
            time.sleep(1)  # the request is in the app, waiting for the rest of its body
            began = time.monotonic()
            output = output_after_stop(server)
            assert time.monotonic() - began < 5
    assert "Traceback" not in output
    assert ("stopped" if kind == "host" else "receiver stopped") in output.splitlines()


@pytest.mark.parametrize("command", ["serve", "receiver serve", "demo"])
def test_a_port_in_use_is_one_line_and_exit_1(command: str, tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        if command == "demo":
            argv = ["demo", "--data", str(tmp_path), "--port", str(port), "--receiver-port", "0"]
        else:
            argv = server_args("host" if command == "serve" else "receiver", tmp_path, port=port)
        done = run_command(*argv, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: could not listen on 127.0.0.1:{port}: Address already in use"
    ]


@pytest.mark.parametrize(
    ("kind", "hint"),
    [
        ("host", "set server.auth.apiKeys, see `telemetry-service apikey create`"),
        ("receiver", "set auth.apiKeys in the receiver config"),
    ],
)
def test_a_public_address_without_api_keys_is_refused(kind: str, hint: str, tmp_path: Path) -> None:
    done = run_command(*server_args(kind, tmp_path), "--host", "0.0.0.0", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "error: refusing to listen on 0.0.0.0: it is not a loopback address and no API key is "
        f"configured ({hint})"
    ]


def post_cluster_stats(url: str) -> bool:
    """Ask the host for its usage (collectors log at debug level)."""
    answer = httpx.post(
        f"{url}/internal/telemetry/clusters/_stats",
        json={"unencrypted": True},
        headers={"kbn-xsrf": "1"},
        timeout=10,
    )
    return answer.is_success


def test_host_logging_level_is_honoured(tmp_path: Path) -> None:
    (tmp_path / "debug").mkdir()
    with run_cli(server_args("host", tmp_path / "debug", "logging.level: debug")) as server:
        assert post_cluster_stats(server.url)
        debug = output_after_stop(server)
    assert "DEBUG telemetry_service.plugins.usage_collection: Getting ready collectors" in debug
    assert "INFO telemetry_service.core.platform: platform started with plugins" in debug
    (tmp_path / "warning").mkdir()
    with run_cli(server_args("host", tmp_path / "warning", "logging.level: warning")) as srv:
        assert post_cluster_stats(srv.url)
        warning = output_after_stop(srv)
    assert "platform started with plugins" not in warning
    assert [line for line in warning.splitlines() if " INFO " in line or " DEBUG " in line] == []


@pytest.mark.parametrize("level", ["debug", "info"])
def test_receiver_logging_level_is_honoured(level: str, tmp_path: Path) -> None:
    with run_cli(server_args("receiver", tmp_path, f"logging.level: {level}")) as server:
        refused = httpx.post(
            f"{server.url}/v3/send/{SNAPSHOT}", content=b"{}", headers=headers(), timeout=10
        )
        assert refused.status_code == 400
        output = output_after_stop(server)
    shown = "DEBUG telemetry_service.receiver.ingest: ingest on" in output
    assert shown is (level == "debug")
