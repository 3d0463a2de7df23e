"""Fixtures of the consent matrix (one platform, one capture server, one clock for the whole
module) and the summary line that prints how many combinations ran."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from telemetry_service.core import Platform, open_store
from telemetry_service.plugins.telemetry import TelemetryPlugin
from telemetry_service.plugins.telemetry.config import TelemetryConfig
from telemetry_service.plugins.telemetry.sender import build_client
from telemetry_service.plugins.telemetry_collection_manager import (
    TelemetryCollectionManager,
    TelemetryCollectionManagerPlugin,
)
from telemetry_service.plugins.usage_collection import UsageCollectionPlugin
from telemetry_service.testing import CaptureServer, FakeClock
from telemetry_service.wire import Decryptor, generate_key_pair

from .expected import all_cases, legacy_matrix, main_matrix
from .harness import Host, Lane, Observed, run_matrix

MATRIX_PATH = Path(__file__).with_name("test_consent_matrix.py")
_outcomes: Counter[str] = Counter()
_run: list[tuple[int, float]] = []
#: Combinations run side by side (each lane has its own store and clock).
LANES = 8


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module scope: the platform below lives across the module's tests on one event loop."""
    return "asyncio"


@pytest.fixture(scope="module")
def capture() -> Iterator[CaptureServer]:
    with CaptureServer() as server:
        yield server


@pytest.fixture(scope="module")
async def host(
    capture: CaptureServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Host]:
    """A platform (no background tasks) for its SQLite store and its real collection manager
    with the vendor's key; its own telemetry endpoint is ``/platform/`` (it must stay quiet)."""
    keys = generate_key_pair("vendor")
    data: Path = tmp_path_factory.mktemp("consent")
    telemetry = {
        "endpoints": {"prod": f"{capture.url}platform/", "staging": f"{capture.url}platform/"},
        "encryption": {"jwks": json.dumps(keys.public_jwks), "kid": "vendor"},
        "timeouts": {"connect": 2, "read": 5},
    }
    config = {
        "path": {"data": str(data)},
        "store": {"url": f"sqlite:///{data / 'store.db'}"},
        "telemetry": telemetry,
    }
    clock = FakeClock(dt.datetime(2026, 5, 4, 9, 30, tzinfo=dt.UTC))
    plugins = [UsageCollectionPlugin(), TelemetryCollectionManagerPlugin(), TelemetryPlugin()]
    async with Platform(
        config=config, plugins=plugins, version="8.4.2", env={}, clock=clock, background=False
    ) as platform:
        manager = platform.setup_contracts["telemetry_collection_manager"]
        assert isinstance(manager, TelemetryCollectionManager)
        http = build_client(TelemetryConfig.model_validate(telemetry))
        lanes = []
        for n in range(LANES):
            lane_clock = FakeClock(clock.now)
            store = open_store(f"sqlite:///{data / f'lane-{n}.db'}", data, clock=lane_clock)
            await store.open()
            lanes.append(Lane(store, lane_clock))
        try:
            yield Host(
                manager=manager,
                cluster_uuid=platform.deployment_uuid,
                http=http,
                capture=capture,
                decryptor=Decryptor(keys.private_jwks),
                lanes=tuple(lanes),
            )
        finally:
            await http.aclose()
            for lane in lanes:
                await lane.store.close()


@pytest.fixture(scope="module")
async def observed(host: Host, request: pytest.FixtureRequest) -> dict[int, Observed | Exception]:
    """Every selected combination, run once on all lanes; each test then checks its own."""
    cases = all_cases()
    selected = {
        item.callspec.params["index"]
        for item in request.session.items
        if isinstance(item, pytest.Function)
        and item.path == MATRIX_PATH
        and item.originalname == "test_combination"
    }
    started = time.monotonic()
    results = await run_matrix(host, {i: cases[i] for i in selected})
    _run.append((len(results), time.monotonic() - started))
    return results


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "consent/test_consent_matrix.py::test_combination[" not in report.nodeid:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcome = "xfailed" if hasattr(report, "wasxfail") else report.outcome
        _outcomes[outcome] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    total = sum(_outcomes.values())
    if not total:
        return
    ran, elapsed = _run[0] if _run else (0, 0.0)
    parts = ", ".join(f"{count} {name}" for name, count in sorted(_outcomes.items()))
    terminalreporter.write_sep("=", "consent matrix")
    terminalreporter.write_line(
        f"consent matrix: {total} combinations checked ({parts}); {ran} run with real "
        f"traffic on {LANES} lanes in {elapsed:.1f} s; "
        f"full product {len(main_matrix())} = optIn 3 x allowChangingOptInStatus 2 x "
        f"enabled 2 x stored 3 x version step 6 x DO_NOT_TRACK 3 x sendUsageFrom 2, "
        f"plus {len(legacy_matrix())} with legacy stored overrides; none collapsed"
    )
