"""The published public statistics: refreshed on a schedule, stored, held in memory.

:class:`PublicStats` computes the document every ``public.refresh`` (on the receiver's clock
and ``common.periodic``'s loop), stores it in ``public_stats`` and swaps it in memory. Requests
read only :attr:`PublicStats.published`: serving never queries the store, and the figures
change only when a refresh completes. At start the stored document is served at once and the
first refresh waits until it is ``public.refresh`` old (a document made with other
``public.*`` settings is not served: it is computed again first).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

import orjson

from telemetry_service.common.clock import Clock, to_ms, utc_now
from telemetry_service.common.periodic import PeriodicTask, Sleep

from ..config import PublicConfig
from ..storage import ReportStore
from .aggregate import compute, settings_key

__all__ = ["DOCUMENT_NAME", "PublicStats", "Published"]

DOCUMENT_NAME = "current"
log = logging.getLogger("telemetry_service.receiver.public")


@dataclass
class Published:
    """One published document: its JSON bytes, their ``ETag``, when it was computed, and the
    decoded document (the page renders from it; ``rendered`` caches the page)."""

    body: bytes
    computed_ms: int
    document: dict[str, Any]
    etag: str = ""
    rendered: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'


class PublicStats:
    """Holds the published document and refreshes it (see the module docstring)."""

    def __init__(
        self,
        store: ReportStore,
        settings: PublicConfig,
        *,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.published: Published | None = None
        self._loaded = False
        self._loop = PeriodicTask(
            "public statistics", self._step, sleep=sleep, log=log, retry_delay=60.0
        )

    def seconds_to_refresh(self) -> int:
        """Whole seconds until the published document is due for a refresh (0 if none)."""
        if self.published is None:
            return 0
        due_ms = self.published.computed_ms + int(self.settings.refresh * 1000)
        return max(0, (due_ms - to_ms(self.clock())) // 1000)

    async def load(self) -> Published | None:
        """Publish the stored document, if there is one."""
        stored = await self.store.load_public_stats(DOCUMENT_NAME)
        if stored is not None:
            computed_ms, text = stored
            document = orjson.loads(text)
            if document.get("settings") == settings_key(self.settings):
                self._publish(text.encode(), computed_ms, document)
        return self.published

    async def refresh(self) -> Published:
        """Compute the document now, store it and publish it."""
        now_ms = to_ms(self.clock())
        document = await compute(self.store, self.settings, now_ms)
        body = orjson.dumps(document)
        await self.store.save_public_stats(DOCUMENT_NAME, now_ms, body.decode())
        return self._publish(body, now_ms, document)

    def _publish(self, body: bytes, computed_ms: int, document: dict[str, Any]) -> Published:
        self.published = Published(body, computed_ms, document)
        return self.published

    async def _step(self) -> float:
        if not self._loaded:
            self._loaded = True
            if await self.load() is not None and (wait := self.seconds_to_refresh()):
                return wait
        await self.refresh()
        return self.settings.refresh

    @property
    def running(self) -> bool:
        """Whether the refresh loop runs (only with ``public.enabled``)."""
        return self._loop.running

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
