"""Security review finding 11 (host side): what the host writes under ``path.data`` (the ``uuid``
file, the SQLite store and its ``-wal`` / ``-shm``) is 0600 in 0700 folders, whatever the umask.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from telemetry_service.core import Platform
from telemetry_service.core.private_files import make_private_dir, write_private

pytestmark = pytest.mark.anyio


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o000, 0o022], ids=["umask-000", "umask-022"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


async def test_the_hosts_files_in_path_data_are_private(tmp_path: Path, umask: int) -> None:
    data = tmp_path / "deep" / "data"
    async with Platform(config={"path": {"data": str(data)}}, background=False) as platform:
        await platform.store.update("telemetry", "telemetry", {"enabled": True}, upsert={})
        store = data / "telemetry_service.db"
        files = [data / "uuid", store, *(p for p in data.glob("telemetry_service.db-*"))]
        assert len(files) >= 3  # the store's -wal at least, while it is open
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert mode(data) == 0o700
        assert mode(data.parent) == 0o700  # a parent the host had to create, too
    assert mode(store) == 0o600


async def test_an_older_wider_store_and_uuid_are_narrowed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with Platform(config={"path": {"data": str(data)}}, background=False):
        pass
    for name in ("uuid", "telemetry_service.db"):
        (data / name).chmod(0o644)
    async with Platform(config={"path": {"data": str(data)}}, background=False) as platform:
        assert platform.instance_uuid
        assert mode(data / "uuid") == 0o600
        assert mode(data / "telemetry_service.db") == 0o600


def test_an_existing_folder_is_left_as_the_administrator_made_it(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    make_private_dir(tmp_path)
    write_private(tmp_path / "new" / "file", "x")
    assert mode(tmp_path) == 0o755
    assert mode(tmp_path / "new") == 0o700
    assert mode(tmp_path / "new" / "file") == 0o600
    assert (tmp_path / "new" / "file").read_text() == "x"
