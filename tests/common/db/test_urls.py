"""B1: one table of ``store.url`` forms, run through both servers' store openers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from telemetry_service.common.db import STORE_URL_FORMS, parse_store_url
from telemetry_service.core import ConfigError, open_store
from telemetry_service.receiver import load_config
from telemetry_service.receiver.storage import StoreError, open_report_store
from tests.receiver.support import write_private_keys
from tests.support.cli import run_command

pytestmark = pytest.mark.anyio

SIDES = ["host", "receiver"]


def opener(side: str, url: str | None, data: Path) -> Any:
    """The store of `side` for `url` (the receiver's default comes from its config)."""
    if side == "host":
        return open_store(url, data)
    return open_report_store(url or load_config({"path": {"data": str(data)}}, env={}).store_url)


#: ``store.url`` and the file it names, relative to the working directory ``{tmp}`` (an
#: absolute path: ``sqlite://{tmp}`` is the form ``sqlite:///ABS``, ``sqlite:///{tmp}`` is
#: ``sqlite:////ABS``, ``sqlite:{tmp}`` is ``sqlite:REL`` with an absolute path).
SQLITE_FORMS = [
    ("sqlite://{tmp}/three.db", "three.db"),
    ("sqlite:///{tmp}/four.db", "four.db"),
    ("sqlite:{tmp}/one.db", "one.db"),
    ("sqlite:rel/relative.db", "rel/relative.db"),
    ("sqlite:./dot.db", "dot.db"),
]


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize(("url", "file"), SQLITE_FORMS)
async def test_sqlite_forms_name_one_file_on_both_sides(
    side: str, url: str, file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    store = opener(side, url.format(tmp=work), tmp_path / "data")
    await store.open()
    await store.close()
    assert store.backend == "sqlite"
    assert (work / file).is_file()
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("side", "file"), [("host", "telemetry_service.db"), ("receiver", "receiver.db")]
)
async def test_default_is_a_file_under_path_data(
    side: str, file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = opener(side, None, Path("data"))  # relative, as the default ./data is
    await store.open()
    await store.close()
    assert (tmp_path / "data" / file).is_file()


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("url", ["postgresql://u@127.0.0.1:1/db", "postgres://u@127.0.0.1:1/db"])
def test_postgres_forms(side: str, url: str, tmp_path: Path) -> None:
    assert opener(side, url, tmp_path).backend == "postgresql"
    assert parse_store_url(url) == url


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("sqlite://data/a.db", '"sqlite://data/a.db" is ambiguous'),
        ("sqlite://", '"sqlite://" is ambiguous'),
        ("sqlite:", '"sqlite:" names no file'),
        ("mysql://user:secret@db/x", 'unknown scheme "mysql"'),
    ],
)
def test_other_forms_stop_start_up_naming_store_url_and_the_forms(
    side: str, url: str, problem: str, tmp_path: Path
) -> None:
    with pytest.raises((ConfigError, StoreError)) as caught:
        opener(side, url, tmp_path)
    message = str(caught.value)
    assert "store.url" in message
    assert f"{problem}: use {STORE_URL_FORMS}" in message
    assert "secret" not in message
    assert not list(tmp_path.iterdir())


def test_host_cli_prints_one_line(tmp_path: Path) -> None:
    env = {"TELEMETRY_SERVICE_STORE_URL": "sqlite://data/a.db"}
    result = run_command("telemetry", "status", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert result.stderr == (
        'error: invalid config [store.url]: "sqlite://data/a.db" is ambiguous: '
        f"use {STORE_URL_FORMS}\n"
    )


def test_receiver_cli_prints_one_line(tmp_path: Path) -> None:
    keys = write_private_keys(tmp_path / "k.json")
    args = ["--keys", str(keys), "--store", "sqlite://data/a.db", "--port", "0"]
    result = run_command("receiver", "serve", *args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        'error: cannot open the store: invalid store.url: "sqlite://data/a.db" is ambiguous: '
        f"use {STORE_URL_FORMS}\n"
    )
