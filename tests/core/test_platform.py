"""The plugin lifecycle, including the seed's Usage example in Python."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from telemetry_service.core import (
    CoreSetup,
    CoreStart,
    CycleError,
    MissingPluginError,
    Platform,
    Plugin,
    PluginContracts,
    PluginLifecycleError,
)
from telemetry_service.plugins.sample_app import SampleAppPlugin

pytestmark = pytest.mark.anyio


class FakeTelemetryStart:
    def __init__(self, opted_in: bool) -> None:
        self.opted_in = opted_in

    async def get_is_opted_in(self) -> bool:
        return self.opted_in


class FakeTelemetry(Plugin):
    id = "telemetry"

    async def start(self, core: CoreStart, plugins: PluginContracts) -> object:
        return FakeTelemetryStart(True)


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []


def recording(pid: str, rec: Recorder, required: tuple[str, ...] = (), **behaviour: Any) -> Plugin:
    class P(Plugin):
        id = pid
        required_plugins = required

        async def setup(self, core: CoreSetup, plugins: PluginContracts) -> object:
            rec.events.append(f"setup:{pid}")
            if behaviour.get("fail") == "setup":
                raise RuntimeError("boom")
            return f"{pid}-setup"

        async def start(self, core: CoreStart, plugins: PluginContracts) -> object:
            rec.events.append(f"start:{pid}")
            if behaviour.get("fail") == "start":
                raise RuntimeError("kaput")
            return f"{pid}-start"

        async def stop(self) -> None:
            rec.events.append(f"stop:{pid}")
            if behaviour.get("hang"):
                await asyncio.sleep(3600)

    return P()


def config(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {"path": {"data": str(tmp_path)}, **extra}


async def test_seed_usage_example_without_telemetry_gets_none(tmp_path: Path) -> None:
    app = SampleAppPlugin()
    async with Platform(config=config(tmp_path), plugins=[app]) as platform:
        assert app.telemetry is None
        assert app.is_opted_in is False
        assert platform.start_contracts == {"sample_app": None}


async def test_seed_usage_example_with_telemetry_gets_its_start_contract(tmp_path: Path) -> None:
    app = SampleAppPlugin()
    async with Platform(config=config(tmp_path), plugins=[app, FakeTelemetry()]) as platform:
        assert isinstance(app.telemetry, FakeTelemetryStart)
        assert app.telemetry is platform.start_contracts["telemetry"]
        assert app.is_opted_in is True


async def test_disabled_optional_plugin_maps_to_none(tmp_path: Path) -> None:
    app = SampleAppPlugin()
    cfg = config(tmp_path, telemetry={"enabled": False})
    async with Platform(config=cfg, plugins=[app, FakeTelemetry()]) as platform:
        assert app.telemetry is None
        assert "telemetry" not in platform.start_contracts


async def test_lifecycle_order_and_contracts(tmp_path: Path) -> None:
    rec = Recorder()
    seen: dict[str, Any] = {}

    class Consumer(Plugin):
        id = "consumer"
        required_plugins = ("b",)
        optional_plugins = ("a",)

        async def setup(self, core: CoreSetup, plugins: PluginContracts) -> None:
            seen["setup"] = dict(plugins)

        async def start(self, core: CoreStart, plugins: PluginContracts) -> None:
            seen["start"] = dict(plugins)
            with pytest.raises(KeyError):
                plugins["c"]

    plugins = [Consumer(), recording("b", rec, ("a",)), recording("a", rec), recording("c", rec)]
    async with Platform(config=config(tmp_path), plugins=plugins) as platform:
        assert rec.events == ["setup:a", "setup:b", "setup:c", "start:a", "start:b", "start:c"]
        assert seen["setup"] == {"b": "b-setup", "a": "a-setup"}
        assert seen["start"] == {"b": "b-start", "a": "a-start"}
        assert platform.setup_contracts["c"] == "c-setup"
    assert rec.events[6:] == ["stop:c", "stop:b", "stop:a"]


@pytest.mark.parametrize(
    ("plugins", "error", "names"),
    [
        (lambda r: [recording("a", r, ("missing",))], MissingPluginError, ["a", "missing"]),
        (lambda r: [recording("a", r, ("b",)), recording("b", r, ("a",))], CycleError, ["a", "b"]),
        (lambda r: [recording("a", r), recording("a", r)], Exception, ["a"]),
    ],
    ids=["missing", "cycle", "duplicate"],
)
async def test_graph_errors_stop_before_any_setup(
    tmp_path: Path, plugins: Any, error: type[Exception], names: list[str]
) -> None:
    rec = Recorder()
    with pytest.raises(error) as info:
        async with Platform(config=config(tmp_path), plugins=plugins(rec)):
            pass
    assert rec.events == []
    for name in names:
        assert f"[{name}]" in str(info.value) or name in str(info.value)


@pytest.mark.parametrize("phase", ["setup", "start"])
async def test_failing_plugin_stops_started_ones_and_names_itself(
    tmp_path: Path, phase: str
) -> None:
    rec = Recorder()
    plugins = [recording("a", rec), recording("bad", rec, ("a",), fail=phase)]
    with pytest.raises(PluginLifecycleError, match=rf"plugin \[bad\] failed during {phase}"):
        async with Platform(config=config(tmp_path), plugins=plugins):
            pass
    if phase == "setup":
        assert rec.events == ["setup:a", "setup:bad"]
    else:
        assert rec.events == ["setup:a", "setup:bad", "start:a", "start:bad", "stop:a"]


async def test_hanging_stop_is_bounded_and_later_plugins_still_stop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()
    plugins = [recording("a", rec), recording("hangs", rec, ("a",), hang=True)]
    cfg = config(tmp_path, plugins={"stopTimeout": "200ms"})
    platform = Platform(config=cfg, plugins=plugins)
    await platform.start()
    began = time.monotonic()
    await platform.stop()
    assert time.monotonic() - began < 2
    assert rec.events[-2:] == ["stop:hangs", "stop:a"]
    assert "did not stop within 0.2s" in caplog.text


async def test_builtin_discovery_finds_the_sample_app(tmp_path: Path) -> None:
    async with Platform(config=config(tmp_path)) as platform:
        assert "sample_app" in platform.start_contracts
