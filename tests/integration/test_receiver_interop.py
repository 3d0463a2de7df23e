"""Reports encrypted by the real npm ``@elastic/request-crypto`` are accepted by the receiver.

Keys come from ``receiver keys generate``; the npm packages are installed by the wire interop
tests' fixture (reused here, not duplicated).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from telemetry_service.receiver import Receiver, load_config, write_key_files
from tests.integration.interop import harness
from tests.integration.test_wire_interop import npm_install  # noqa: F401 - the fixture
from tests.receiver.support import OPT_IN, SNAPSHOT, headers, opt_in, snapshot

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

#: name -> (channel, payload)
PAYLOADS: dict[str, tuple[str, dict[str, Any]]] = {
    "snapshot": (SNAPSHOT, snapshot("npm-cluster", note="naïve ☃ 日本", big=1e21)),
    "opt-in": (OPT_IN, opt_in("npm-cluster", False)),
}


@pytest.fixture(scope="module")
def peer_bodies(
    npm_install: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, list[tuple[str, str, str]]]:
    """(private key file, [(case id, channel, body)]) with bodies encrypted by each npm
    package for keys made by `receiver keys generate`."""
    workdir = tmp_path_factory.mktemp("receiver-interop")
    write_key_files(workdir / "keys", "rc-oaep")
    files = write_key_files(workdir / "keys", "rc-oaep256", alg="RSA-OAEP-256", append=True)
    cases, channels = [], {}
    for name, (channel, payload) in PAYLOADS.items():
        (workdir / f"{name}.json").write_text(json.dumps(payload))
        for package in harness.PACKAGES:
            for kid in files.kids:
                case_id = f"{package}-{kid}-{name}"
                channels[case_id] = channel
                cases.append(
                    {
                        "id": case_id,
                        "op": "encrypt",
                        "package": package,
                        "publicJwks": str(files.public),
                        "kid": kid,
                        "payloadFile": str(workdir / f"{name}.json"),
                        "outFile": str(workdir / f"body-{case_id}"),
                    }
                )
    results = harness.run_batch(npm_install, cases, workdir)
    assert all(r["ok"] for r in results.values()), results
    bodies = [(c["id"], channels[c["id"]], Path(c["outFile"]).read_text()) for c in cases]
    return files.private, bodies


async def test_npm_encrypted_reports_are_accepted(
    peer_bodies: tuple[Path, list[tuple[str, str, str]]], tmp_path: Path
) -> None:
    private, bodies = peer_bodies
    store = f"sqlite:///{tmp_path / 'r.db'}"
    config = load_config({"keys": str(private), "store": {"url": store}}, env={})
    async with Receiver(config) as receiver:
        transport = httpx.ASGITransport(app=receiver.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
            for case_id, channel, body in bodies:
                response = await client.post(
                    f"/v3/send/{channel}", content=body, headers=headers("npm-cluster")
                )
                assert response.status_code == 200, (case_id, response.text)
            history = (
                await client.get(
                    "/api/clusters/npm-cluster/reports",
                    params={"from": "2025-01-01", "to": "2030-12-31"},
                )
            ).json()
    snapshots = [r for r in history if r["kind"] == "snapshot"]
    # Every package encrypts JSON.stringify of the same payload: one report, then duplicates.
    assert len(snapshots) == 1
    assert snapshots[0]["payload"] == PAYLOADS["snapshot"][1]
    assert len([r for r in history if r["kind"] == "opt-in"]) == len(harness.PACKAGES) * 2
