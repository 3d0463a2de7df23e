"""The host's ``--config`` option, and the platform started for one-shot commands (no server, no
background work)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from telemetry_service.core import Platform, PlatformError, StoreError
from telemetry_service.core.config import ENV_PREFIX, load_raw_config
from telemetry_service.core.store import DEFAULT_STORE_FILE, store_file

__all__ = ["ConfigOption", "one_shot_platform"]

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="YAML config file (default: config/telemetry_service.yml)."
    ),
]


def _env_creating_nothing(raw: Any, version: str | None, scratch: Path) -> dict[str, str]:
    """The environment of a platform that creates no file: a ``path.data`` without its
    ``uuid`` and a SQLite store that does not exist yet are replaced by ``scratch`` (empty, as
    they would be), through the environment overlay, which wins over the file."""
    env = dict(os.environ)
    core = Platform(config=raw, version=version, env=env, background=False).prepare().core
    data = Path(core.path.data)
    file = store_file(core.store.url, data)
    pinned: dict[str, str] = {}
    if file is not None:
        file = file if file.exists() else scratch / DEFAULT_STORE_FILE
        pinned["STORE_URL"] = f"sqlite:///{file.resolve()}"
    if not (data / "uuid").exists():
        pinned["PATH_DATA"] = str(scratch)
    names = {ENV_PREFIX + key for key in pinned}
    env = {k: v for k, v in env.items() if k.upper() not in names}
    return env | {ENV_PREFIX + key: value for key, value in pinned.items()}


@asynccontextmanager
async def one_shot_platform(
    config: Path | None,
    version: str | None = None,
    *,
    scratch_store: bool = False,
    create_nothing: bool = False,
) -> AsyncIterator[Platform]:
    """A started platform; with ``scratch_store`` its data lives in a temporary folder; with
    ``create_nothing`` only what does not exist yet does (for a command that only reads)."""
    raw: Any = load_raw_config(config)
    with tempfile.TemporaryDirectory(prefix="telemetry-service-") as scratch:
        env = _env_creating_nothing(raw, version, Path(scratch)) if create_nothing else None
        if scratch_store:
            raw.setdefault("path", {})["data"] = scratch
            raw.setdefault("store", {})["url"] = None
        try:
            async with Platform(config=raw, version=version, env=env, background=False) as platform:
                yield platform
        except PlatformError as exc:
            if isinstance(exc.__cause__, StoreError):  # the store's own line says it all
                raise exc.__cause__ from None
            raise
