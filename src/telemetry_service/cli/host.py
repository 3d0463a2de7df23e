"""Start the host platform for one-shot commands: no server, no background work."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from telemetry_service.core import Platform, PlatformError, StoreError
from telemetry_service.core.config import load_raw_config

__all__ = ["one_shot_platform"]


@asynccontextmanager
async def one_shot_platform(
    config: Path | None, version: str | None = None, *, scratch_store: bool = False
) -> AsyncIterator[Platform]:
    """A started platform; with ``scratch_store`` its data lives in a temporary folder."""
    raw: Any = load_raw_config(config)
    with tempfile.TemporaryDirectory(prefix="telemetry-service-") as scratch:
        if scratch_store:
            raw.setdefault("path", {})["data"] = scratch
            raw.setdefault("store", {})["url"] = None
        try:
            async with Platform(config=raw, version=version, background=False) as platform:
                yield platform
        except PlatformError as exc:
            if isinstance(exc.__cause__, StoreError):  # the store's own line says it all
                raise exc.__cause__ from None
            raise
