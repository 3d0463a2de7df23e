"""Events leave the host only while it is opted in: a consent matrix over ``telemetry.optIn``,
the saved choice and ``DO_NOT_TRACK``, with the real plugins, the real shipper and a capture
server on loopback. Stopping the host flushes the shipper, so whatever it would ever send is
sent by then."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from telemetry_service.core import Platform
from telemetry_service.plugins.telemetry import TelemetryPlugin
from telemetry_service.testing import CaptureServer

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

SERVER = "/v3/send/telemetry-service-server"
OLD, NEW = "8.1.0", "8.2.0"
SAVED = ("none", "opted-in", "opted-out", "asked-again")


def config(data: Path, capture: CaptureServer, opt_in: bool) -> dict[str, Any]:
    return {
        "path": {"data": str(data)},
        "telemetry": {
            "optIn": opt_in,
            "endpoints": {"prod": capture.url, "staging": capture.url},
            "fetcher": {"enabled": False},
        },
    }


def telemetry(platform: Platform) -> TelemetryPlugin:
    [plugin] = [p for p in platform.plugins if isinstance(p, TelemetryPlugin)]
    return plugin


@asynccontextmanager
async def host(
    cfg: dict[str, Any], *, version: str = NEW, dnt: bool = False, background: bool = True
) -> AsyncIterator[Platform]:
    env = {"DO_NOT_TRACK": "1"} if dnt else {}
    async with Platform(config=cfg, version=version, env=env, background=background) as p:
        yield p


async def save_choice(cfg: dict[str, Any], saved: str) -> None:
    """The stored choice: made on this version, or an opt-out made before an upgrade."""
    if saved == "none":
        return
    version = OLD if saved == "asked-again" else NEW
    async with host(cfg, version=version, background=False) as platform:
        await telemetry(platform).set_opt_in(saved == "opted-in")


def events(capture: CaptureServer) -> list[dict[str, Any]]:
    found = []
    for post in capture.posts(SERVER):
        found += [json.loads(line) for line in post.body.decode().splitlines()]
    return found


def expected_opted_in(opt_in: bool, saved: str, dnt: bool) -> bool:
    if dnt:
        return False
    if saved == "none":
        return opt_in
    return saved == "opted-in"


@pytest.mark.parametrize(
    ("opt_in", "saved", "dnt"),
    list(itertools.product([True, False], SAVED, [False, True])),
)
async def test_events_leave_only_while_opted_in(
    tmp_path: Path, opt_in: bool, saved: str, dnt: bool
) -> None:
    with CaptureServer() as capture:
        cfg = config(tmp_path, capture, opt_in)
        await save_choice(cfg, saved)
        async with host(cfg, dnt=dnt) as platform:
            state = await telemetry(platform).admin.status()
        if expected_opted_in(opt_in, saved, dnt):
            assert state["optedIn"] is True
            assert {"platform_started", "sample_app_action"} <= {
                e["event_type"] for e in events(capture)
            }
        else:
            assert state["optedIn"] is False
            assert capture.requests == [], "a request left a host that is not opted in"


async def test_events_from_before_the_decision_go_out_after_an_opt_in(tmp_path: Path) -> None:
    with CaptureServer() as capture:
        cfg = config(tmp_path, capture, opt_in=False)
        await save_choice(cfg, "asked-again")
        async with host(cfg) as platform:
            assert platform.analytics.client.queued >= 2  # undecided: held, not sent
            assert capture.requests == []
            await telemetry(platform).set_opt_in(True)
        kinds = [e["event_type"] for e in events(capture)]
        assert "platform_started" in kinds
        assert "sample_app_action" in kinds


async def test_events_from_before_the_decision_are_discarded_after_an_opt_out(
    tmp_path: Path,
) -> None:
    with CaptureServer() as capture:
        cfg = config(tmp_path, capture, opt_in=False)
        await save_choice(cfg, "asked-again")
        async with host(cfg) as platform:
            plugin = telemetry(platform)
            await plugin.set_opt_in(False)
            assert platform.analytics.client.queued == 0
            await plugin.set_opt_in(True)
            platform.analytics.client.report_event(
                "sample_app_action", {"action": "hello", "greetings_served": 7}
            )
        found = events(capture)
        assert [e["properties"] for e in found] == [{"action": "hello", "greetings_served": 7}]


@pytest.mark.parametrize(
    ("telemetry_config", "dnt", "opted_in"),
    [
        ({"allowChangingOptInStatus": False, "optIn": True}, True, False),
        ({"allowChangingOptInStatus": False, "optIn": True}, False, True),
        ({"allowChangingOptInStatus": False, "optIn": False}, False, False),
        ({"enabled": False}, False, False),
    ],
    ids=["locked-in-but-do-not-track", "locked-in", "locked-out", "disabled"],
)
async def test_locked_configs(
    tmp_path: Path, telemetry_config: dict[str, Any], dnt: bool, opted_in: bool
) -> None:
    with CaptureServer() as capture:
        cfg = config(tmp_path, capture, opt_in=True)
        cfg["telemetry"].update(telemetry_config)
        async with host(cfg, dnt=dnt):
            pass
        if opted_in:
            assert "platform_started" in {e["event_type"] for e in events(capture)}
        else:
            assert capture.requests == [], "not even a connectivity probe may leave"


async def test_a_legacy_stored_lock_never_ships_events_over_a_stored_opt_out(
    tmp_path: Path,
) -> None:
    """A legacy ``allowChangingOptInStatus: false`` stored beside an opt-out, with the config's
    ``optIn: true``: Kibana's ``getIsOptedIn`` (``T/server/plugin.ts``, spec 2.4) runs
    ``getTelemetryOptIn`` with the config's lock, so the stored opt-out decides and
    ``analytics.optIn({global: {enabled: false}})``: no event leaves."""
    with CaptureServer() as capture:
        cfg = config(tmp_path, capture, opt_in=True)
        async with host(cfg, background=False) as platform:
            await platform.store.update(
                "telemetry",
                "telemetry",
                {},
                upsert={
                    "enabled": False,
                    "lastVersionChecked": NEW,
                    "allowChangingOptInStatus": False,
                },
            )
        async with host(cfg) as platform:
            state = await telemetry(platform).admin.status()
            assert platform.analytics.client.queued == 0  # opted out: discarded, not held
        assert state["optedIn"] is False
        assert state["consent"]["locked"] is True
        assert capture.requests == [], "an event left over a stored opt-out"
