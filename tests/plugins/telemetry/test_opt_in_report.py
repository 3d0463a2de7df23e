"""Which ``sendUsageFrom`` decides the opt-in status report: the config's, as in Kibana.

Kibana's optIn route (``src/platform/plugins/shared/telemetry/server/routes/
telemetry_opt_in.ts``) calls ``sendTelemetryOptInStatus`` when ``config.sendUsageFrom ===
'server'``; the legacy ``sendUsageFrom`` a saved object may carry is not read there (it is for
the daily sender, ``getTelemetrySendUsageFrom``). Real capture server on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from telemetry_service.testing import CaptureServer
from telemetry_service.wire import Decryptor, KeyPair, generate_key_pair
from tests.plugins.telemetry.sim import SimClock, instance, telemetry_config

pytestmark = pytest.mark.anyio
REPORTS = "/v3/send/telemetry-service-opt-in-reports"


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return generate_key_pair("vendor")


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    with CaptureServer() as server:
        yield server


@pytest.mark.parametrize(
    ("config_from", "stored_from", "reported"),
    [("server", "browser", True), ("browser", "server", False)],
)
async def test_the_config_send_usage_from_decides_the_opt_in_report(
    tmp_path: Path,
    capture: CaptureServer,
    keys: KeyPair,
    config_from: str,
    stored_from: str,
    reported: bool,
) -> None:
    telemetry = telemetry_config(capture.url, keys, sendUsageFrom=config_from)
    config = {"store": {"url": f"sqlite:///{tmp_path / 'store.db'}"}, "telemetry": telemetry}
    async with instance(config, SimClock()) as member:
        admin = member.plugin.admin
        await admin.state.update({"sendUsageFrom": stored_from})  # a legacy stored override
        await admin.set_opt_in(False, wait_for_report=True)
        cluster_uuid = member.platform.deployment_uuid
    reports = [r for r in capture.requests if r.path == REPORTS]
    assert len(reports) == (1 if reported else 0)
    if reported:
        assert Decryptor(keys.private_jwks).decrypt_json(reports[0].body) == {
            "cluster_uuid": cluster_uuid,
            "opt_in_status": False,
        }
    assert all(r.path == REPORTS for r in capture.requests)  # nothing else left the host
