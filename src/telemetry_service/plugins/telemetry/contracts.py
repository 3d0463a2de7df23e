"""The telemetry plugin's public contracts, for plugins that list ``telemetry`` as optional."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

__all__ = ["TelemetrySetup", "TelemetryStart"]


class TelemetrySetup:
    def __init__(self, url: Callable[[], httpx.URL]) -> None:
        self._url = url

    async def get_telemetry_url(self) -> httpx.URL:
        """The snapshot channel URL of the *current* config; call it each time you need it."""
        return self._url()


class TelemetryStart:
    def __init__(self, is_opted_in: Callable[[], Awaitable[bool]]) -> None:
        self._is_opted_in = is_opted_in

    async def get_is_opted_in(self) -> bool:
        """True only when the administrator opted in.

        False when they opted out, when they have not chosen again after a minor or major
        upgrade (only when previously opted out), and while the choice is still unknown.
        """
        return await self._is_opted_in()
