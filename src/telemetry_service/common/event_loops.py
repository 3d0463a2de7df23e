"""The event loop a server runs on: asyncio's own, or uvloop (libuv, in C).

``auto`` takes uvloop when it is installed (it is a dependency on Linux and macOS; it does not
run on Windows) and asyncio's loop otherwise, as uvicorn's ``--loop auto`` does. uvloop's
sockets, timers and cross-thread wake-ups cost less CPU (a receiver's loop thread spent ~0.3 ms
less a report: docs/benchmarks.md, "Ingest"); everything else is the same asyncio API.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

__all__ = ["EventLoopName", "EventLoopUnavailable", "loop_factory", "resolve_loop", "run"]

T = TypeVar("T")
EventLoopName = Literal["auto", "asyncio", "uvloop"]
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class EventLoopUnavailable(RuntimeError):
    """``uvloop`` was asked for and cannot be imported."""


def resolve_loop(name: EventLoopName) -> Literal["asyncio", "uvloop"]:
    """The loop `name` stands for on this machine (``auto``: uvloop when importable)."""
    if name == "asyncio":
        return "asyncio"
    try:
        importlib.import_module("uvloop")
    except ImportError:
        if name == "uvloop":
            raise EventLoopUnavailable(
                "the uvloop event loop was asked for but uvloop is not installed"
            ) from None
        return "asyncio"
    return "uvloop"


def loop_factory(name: EventLoopName) -> LoopFactory | None:
    """What makes a loop of `name` (None: asyncio's default)."""
    if resolve_loop(name) == "asyncio":
        return None
    factory: LoopFactory = importlib.import_module("uvloop").new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T], loop: EventLoopName = "asyncio") -> T:
    """``asyncio.run(main)`` on the event loop `loop`."""
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        return runner.run(main)
