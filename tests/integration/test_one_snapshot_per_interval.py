"""Issue 11's Done-when: three processes started together (a ``serve`` and two ``telemetry
send``) that share one ``path.data`` and one store deliver exactly one snapshot in an interval,
on SQLite and on PostgreSQL.

Processes on one ``path.data`` share its instance UUID, so the send lease's holder must be the
process (``core.leases.lease_holder``), not the UUID; the holder that wins then re-reads the
stored ``lastReported`` (Kibana's re-check, spec 3.4 step 2) before it sends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from telemetry_service.testing import CaptureServer, Reply
from telemetry_service.wire import Decryptor, generate_key_pair
from tests.support.processes import free_port, run_cli
from tests.support.stores import BACKENDS

pytestmark = pytest.mark.integration


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    server = CaptureServer().start()
    server.default = Reply(200, body=b"{}", delay_s=3)  # every send overlaps the others
    yield server
    server.stop()


def clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if k != "DO_NOT_TRACK" and not k.startswith("TELEMETRY_SERVICE_")
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_serve_and_two_sends_on_one_path_data_deliver_one_snapshot(
    request: pytest.FixtureRequest, tmp_path: Path, capture: CaptureServer, backend: str
) -> None:
    keys = generate_key_pair("vendor")
    data = tmp_path / "data"
    data.mkdir()
    (data / "uuid").write_text(f"{uuid.uuid4()}\n")  # an installed host: one instance UUID
    config: dict[str, object] = {
        "path": {"data": str(data)},
        "server": {"port": free_port()},
        "telemetry": {
            "endpoints": {"prod": capture.url, "staging": capture.url},
            "encryption": {"jwks": json.dumps(keys.public_jwks), "kid": "vendor"},
        },
    }
    if backend == "postgres":
        config["store"] = {"url": request.getfixturevalue("postgres_url")}
    path = tmp_path / "config.yml"
    path.write_text(json.dumps(config))
    command = [sys.executable, "-m", "telemetry_service.cli.main"]
    sends = [
        subprocess.Popen(
            [*command, "telemetry", "send", "-c", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(),
            cwd=tmp_path,
        )
        for _ in range(2)
    ]
    try:
        with run_cli(["serve", "--config", str(path)], cwd=tmp_path) as server:
            # the server's own send, while the two commands are starting or sending
            answer = httpx.post(
                f"{server.url}/internal/telemetry/send", headers={"kbn-xsrf": "1"}, timeout=60
            )
            assert answer.status_code == 200, answer.text
            outputs = [p.communicate(timeout=60) for p in sends]
            assert server.terminate(timeout=10) == 0
    finally:
        for proc in sends:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    results = [answer.json()["sent"], *(p.returncode == 0 for p in sends)]
    assert results.count(True) == 1, (answer.json(), outputs)
    refusals = [answer.json()["reason"], *(err for _, err in outputs)]
    assert all(
        "another instance is sending" in r or "already reported" in r
        for r, ok in zip(refusals, results, strict=True)
        if not ok
    ), refusals
    [snapshot] = capture.posts("-snapshot")
    payload = Decryptor(keys.private_jwks).decrypt_json(snapshot.body)
    assert payload["cluster_uuid"] == snapshot.headers["x-elastic-cluster-id"]
