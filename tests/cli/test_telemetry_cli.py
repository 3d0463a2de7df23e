"""``telemetry-service telemetry status|opt-in|opt-out`` as real processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_command

cli = run_command


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(f"path:\n  data: {tmp_path / 'data'}\n")
    return path


def status(config: Path, env: dict[str, str] | None = None) -> dict[str, object]:
    result = cli("telemetry", "status", "--json", "-c", str(config), cwd=config.parent, env=env)
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_opt_out_and_in_change_status(config: Path) -> None:
    assert status(config)["optedIn"] is True
    out = cli(
        "telemetry", "opt-out", "-c", str(config), "--app-version", "8.0.0", cwd=config.parent
    )
    assert out.returncode == 0, out.stderr
    assert "opted out" in out.stdout
    current = status(config)
    assert current["optedIn"] is False
    assert current["consent"] == {
        "optIn": False,
        "source": "saved-object",
        "locked": False,
        "reason": "the administrator's choice stored in the telemetry saved object",
    }
    assert cli("telemetry", "opt-in", "-c", str(config), cwd=config.parent).returncode == 0
    assert status(config)["optedIn"] is True


def test_do_not_track_is_named_as_the_reason(config: Path) -> None:
    data = status(config, env={"DO_NOT_TRACK": "1"})
    assert data["optedIn"] is False
    assert data["consent"]["source"] == "environment:DO_NOT_TRACK"  # type: ignore[index]
    assert data["consent"]["locked"] is True  # type: ignore[index]


def test_locked_config_refuses_opt_out_with_one_line(config: Path) -> None:
    config.write_text(config.read_text() + "telemetry:\n  allowChangingOptInStatus: false\n")
    result = cli("telemetry", "opt-out", "-c", str(config), cwd=config.parent)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]]
    assert "Not allowed to change Opt-in Status." in lines[0]
    assert "allowChangingOptInStatus is false" in lines[0]
    assert status(config)["optedIn"] is True


def test_human_status_mentions_the_decision(config: Path) -> None:
    result = cli(
        "telemetry", "status", "-c", str(config), cwd=config.parent, env={"COLUMNS": "200"}
    )
    assert result.returncode == 0
    assert "opted in" in result.stdout
    assert "config-default" in result.stdout
    assert "(placeholder)" in result.stdout


def test_help_works_without_config(tmp_path: Path) -> None:
    for args in (["--help"], ["telemetry", "--help"], ["telemetry", "status", "--help"]):
        result = cli(*args, cwd=tmp_path)
        assert result.returncode == 0
        assert "Usage" in result.stdout


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its mode and size."""
    return {str(p.relative_to(root)): (p.stat().st_mode, p.stat().st_size) for p in root.rglob("*")}


@pytest.mark.parametrize("data", ["empty", "missing"])
def test_status_creates_no_files(tmp_path: Path, config: Path, data: str) -> None:
    """Issue 11: ``telemetry status`` on a host that never ran answers without creating the
    store, the ``uuid`` file or ``path.data`` itself."""
    if data == "empty":
        (tmp_path / "data").mkdir()
    before = tree(tmp_path)
    answer = status(config)
    assert answer["optedIn"] is True
    assert answer["lastReported"] is None
    assert answer["history"] == []
    assert tree(tmp_path) == before


def test_status_of_a_host_that_ran_creates_no_files(tmp_path: Path, config: Path) -> None:
    """Its store and ``uuid`` exist: they are read in place, and nothing new is left behind."""
    out = cli("telemetry", "opt-out", "-c", str(config), cwd=config.parent)
    assert out.returncode == 0, out.stderr
    (tmp_path / "data" / "uuid").unlink()  # e.g. a store kept while path.data was cleaned
    before = tree(tmp_path)
    assert status(config)["optedIn"] is False
    assert tree(tmp_path) == before
