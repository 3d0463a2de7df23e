"""Fixtures shared by the telemetry plugin's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from telemetry_service.core import SavedObjectStore, open_store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SavedObjectStore]:
    """A SQLite store under ``tmp_path``, open for the test."""
    opened = open_store(None, tmp_path)
    await opened.open()
    yield opened
    await opened.close()
