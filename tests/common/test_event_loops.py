"""``server.loop``: which event loop runs, and a clear refusal when uvloop is missing."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from telemetry_service.common import event_loops


async def _loop_type() -> type[asyncio.AbstractEventLoop]:
    return type(asyncio.get_running_loop())


@pytest.fixture
def without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import uvloop`` fail, as on a machine (Windows) where it is not installed."""
    monkeypatch.setitem(sys.modules, "uvloop", None)


def test_auto_and_uvloop_run_uvloop_where_installed() -> None:
    assert event_loops.resolve_loop("auto") == "uvloop"
    assert event_loops.run(_loop_type(), "auto") is uvloop.Loop
    assert event_loops.run(_loop_type(), "uvloop") is uvloop.Loop


def test_asyncio_runs_asyncios_own_loop() -> None:
    assert event_loops.resolve_loop("asyncio") == "asyncio"
    loop_type = event_loops.run(_loop_type(), "asyncio")
    assert issubclass(loop_type, asyncio.BaseEventLoop)
    assert loop_type is not uvloop.Loop


def test_run_answers_the_coroutines_result_and_raises_its_error() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    async def fail() -> None:
        raise ValueError("boom")

    assert event_loops.run(answer(), "auto") == 42
    with pytest.raises(ValueError, match="boom"):
        event_loops.run(fail(), "uvloop")


@pytest.mark.usefixtures("without_uvloop")
def test_auto_falls_back_to_asyncio_without_uvloop() -> None:
    assert event_loops.resolve_loop("auto") == "asyncio"
    assert event_loops.loop_factory("auto") is None
    assert event_loops.run(_loop_type(), "auto") is not uvloop.Loop


@pytest.mark.usefixtures("without_uvloop")
def test_uvloop_asked_for_without_uvloop_is_a_clear_error() -> None:
    with pytest.raises(event_loops.EventLoopUnavailable, match="uvloop is not installed"):
        event_loops.resolve_loop("uvloop")
