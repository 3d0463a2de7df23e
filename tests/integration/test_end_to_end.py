"""The whole system with real processes: a host delivers to a receiver, on SQLite and
PostgreSQL, and the query API returns what was sent."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support.cli import run_command
from tests.support.processes import free_port, run_cli
from tests.support.stores import BACKENDS
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
XSRF = {"kbn-xsrf": "e2e"}


def store_urls(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> tuple[str, str]:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'host.db'}", f"sqlite:///{tmp_path / 'receiver.db'}"
    return request.getfixturevalue("postgres_url"), request.getfixturevalue("postgres_url")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_host_delivers_snapshot_and_opt_in_change_to_the_receiver(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    host_store, receiver_store = store_urls(request, backend, tmp_path)
    keys = tmp_path / "keys"
    generated = run_command(
        "receiver", "keys", "generate", "--kid", "e2e-1", "--out", str(keys), cwd=tmp_path
    )
    assert generated.returncode == 0, generated.stderr
    receiver_port = free_port()
    receiver_args = [
        "--keys",
        str(keys / "receiver.private.jwks.json"),
        "--store",
        receiver_store,
        "--port",
        str(receiver_port),
    ]
    host_config = tmp_path / "host.yml"
    host_config.write_text(
        json.dumps(
            {
                "server": {"port": free_port(), "name": "e2e-host"},
                "path": {"data": str(tmp_path / "host-data")},
                "store": {"url": host_store},
                "telemetry": {
                    "endpoints": {"prod": f"http://127.0.0.1:{receiver_port}/"},
                    "encryption": {"jwks": str(keys / "receiver.public.jwks.json"), "kid": "e2e-1"},
                },
            }
        )
    )
    with (
        run_cli(["receiver", "serve", *receiver_args], cwd=tmp_path) as receiver,
        run_cli(["serve", "--config", str(host_config)], cwd=tmp_path) as host,
    ):
        with httpx.Client(base_url=host.url, headers=XSRF, timeout=30) as h:
            # What the administrator is shown, then the snapshot sent now (from the same cache).
            preview = h.post(
                "/internal/telemetry/clusters/_stats",
                json={"unencrypted": True, "refreshCache": True},
            )
            assert preview.status_code == 200
            [shown] = preview.json()
            sent = h.post("/internal/telemetry/send", json={"force": True})
            assert sent.json() == {"sent": True, "reason": "sent"}
            # An opt-out: the server reports it in the background.
            assert h.post("/internal/telemetry/optIn", json={"enabled": False}).status_code == 200

        with httpx.Client(base_url=receiver.url, timeout=30) as r:
            clusters = r.get("/api/clusters").json()
            [cluster] = clusters["clusters"]
            assert cluster["cluster_uuid"] == shown["clusterUuid"]
            assert cluster["cluster_name"] == "e2e-host"
            reports = r.get(
                f"/api/clusters/{cluster['cluster_uuid']}/reports", params={"payload": "true"}
            ).json()
            [snapshot] = [rep for rep in reports if rep["kind"] == "snapshot"]
            stored = snapshot["payload"]
            # Field for field, the receiver stores what the preview showed (the cache's
            # fetchedAt is the one difference: the send read the payload the preview built).
            expected = dict(shown["stats"])
            assert (
                stored.pop("cacheDetails")["updatedAt"] == expected.pop("cacheDetails")["updatedAt"]
            )
            assert stored == expected
            opt_in = wait_until(
                lambda: r.get("/api/stats/opt-in").json()["changes"],
                timeout=20,
                what="the opt-in change in the stats",
            )
            assert [c["opt_in_status"] for c in opt_in] == [False]
            assert opt_in[0]["cluster_uuid"] == cluster["cluster_uuid"]
        # And once opted out, a forced send sends nothing.
        with httpx.Client(base_url=host.url, headers=XSRF, timeout=30) as h:
            refused = h.post("/internal/telemetry/send", json={"force": True}).json()
            assert refused["sent"] is False
            assert refused["reason"].startswith("not opted in")
        assert host.terminate() == 0
        assert receiver.terminate() == 0
