"""Fakes for the EBT tests: a recording shipper and a clock whose sleeps a test releases."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from telemetry_service.ebt import Event, Shipper, ShipperContext, TelemetryCounter

START = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


async def settle(rounds: int = 60) -> None:
    """Let every ready task run (in-process HTTP needs a few loop turns)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class FakeTime:
    """``clock`` and ``sleep`` for injection; ``advance`` moves time and wakes due sleepers."""

    def __init__(self, start: dt.datetime = START) -> None:
        self.now = start
        self._sleepers: list[tuple[dt.datetime, asyncio.Future[None]]] = []

    def clock(self) -> dt.datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + dt.timedelta(seconds=seconds), future))
        await future

    def jump(self, seconds: float) -> None:
        """Move the clock without running anything (a suspended machine waking up)."""
        self.now += dt.timedelta(seconds=seconds)

    async def advance(self, seconds: float) -> None:
        target = self.now + dt.timedelta(seconds=seconds)
        while True:
            await settle()
            pending = [(at, f) for at, f in self._sleepers if not f.done()]
            self._sleepers = pending
            due = min((at for at, _ in pending), default=None)
            if due is None or due > target:
                break
            self.now = max(self.now, due)
            for at, future in pending:
                if at <= self.now:
                    future.set_result(None)
        self.now = target
        await settle()


class RecordingShipper(Shipper):
    """Records every call the client makes; ``fail`` makes each method raise."""

    shipper_name = "recording"

    def __init__(self, config: Mapping[str, Any] | None, context: ShipperContext) -> None:
        super().__init__(context)
        self.config = config or {}
        self.reported: list[list[Event]] = []
        self.opt_ins: list[bool] = []
        self.contexts: list[Mapping[str, Any]] = []
        self.flushed = 0
        self.shut_down = False
        self.fail = bool(self.config.get("fail"))

    def report_events(self, events: Sequence[Event]) -> None:
        if self.fail:
            raise RuntimeError("report boom")
        self.reported.append(list(events))

    def opt_in(self, is_opted_in: bool) -> None:
        if self.fail:
            raise RuntimeError("opt-in boom")
        self.opt_ins.append(is_opted_in)

    def extend_context(self, context: Mapping[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("context boom")
        self.contexts.append(context)

    async def flush(self) -> None:
        self.flushed += 1
        if self.fail:
            raise RuntimeError("flush boom")

    async def shutdown(self) -> None:
        self.shut_down = True
        if self.fail:
            raise RuntimeError("shutdown boom")

    def emit(self, counter: TelemetryCounter) -> None:
        self.telemetry_counters.emit(counter)


class OtherShipper(RecordingShipper):
    shipper_name = "other"
