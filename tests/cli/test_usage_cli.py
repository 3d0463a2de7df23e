"""``usage check [--fix]`` and ``telemetry preview`` as real processes."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any, cast

from telemetry_service.cli.usage import _live_problems
from telemetry_service.plugins.telemetry_collection_manager.root_schema import payload_schema
from telemetry_service.plugins.usage_collection import (
    CollectorFetchContext,
    CollectorSet,
    UsageCollectionSetup,
    validate_value,
)
from telemetry_service.plugins.usage_collection.counters import UsageCountersService
from telemetry_service.plugins.usage_collection.schema import schema_from_json

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "telemetry_service.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_the_repository_schemas_are_current() -> None:
    result = cli("usage", "check", cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "usage check passed" in result.stdout


def copy_stored(tmp_path: Path) -> None:
    shutil.copytree(REPO / "schema", tmp_path / "schema")
    shutil.copytree(REPO / "docs", tmp_path / "docs")


def test_check_fails_on_a_changed_schema_and_passes_after_fix(tmp_path: Path) -> None:
    copy_stored(tmp_path)
    plugins = json.loads((tmp_path / "schema" / "plugins.json").read_text())
    telemetry = plugins["properties"]["telemetry"]["properties"]
    telemetry["usage_fetcher"]["type"] = "long"
    del telemetry["labels"]
    (tmp_path / "schema" / "plugins.json").write_text(json.dumps(plugins))

    failed = cli("usage", "check", cwd=tmp_path)
    assert failed.returncode == 1
    assert "collector [telemetry]: schema changed" in failed.stdout
    assert "+labels" in failed.stdout
    assert "usage_fetcher (long -> keyword)" in failed.stdout
    assert failed.stderr.strip().startswith("error: 1 problem(s)")

    fixed = cli("usage", "check", "--fix", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert (tmp_path / "docs" / "payload.md").read_text().count("`opt_in_status`") == 1
    assert cli("usage", "check", cwd=tmp_path).returncode == 0


def test_check_fails_on_a_stale_payload_doc(tmp_path: Path) -> None:
    """docs/payload.md is checked like the stored schemas: it must be what ``--fix`` writes.

    Kibana: packages/kbn-telemetry-tools/src/tools/tasks/check_matching_schemas_task.ts ("The
    following changes must be persisted in <file>. Run 'node scripts/telemetry_check --fix' to
    update.").
    """
    copy_stored(tmp_path)
    doc = tmp_path / "docs" / "payload.md"
    doc.write_text(doc.read_text().replace("`opt_in_status`", "`opt_in`"))

    stale = cli("usage", "check", cwd=tmp_path)
    assert stale.returncode == 1
    assert "docs/payload.md: out of date; run `telemetry-service usage check --fix`" in stale.stdout
    assert stale.stderr.strip().startswith("error: 1 problem(s)")

    doc.unlink()
    missing = cli("usage", "check", cwd=tmp_path)
    assert missing.returncode == 1
    assert "docs/payload.md: missing; run `telemetry-service usage check --fix`" in missing.stdout

    assert cli("usage", "check", "--fix", cwd=tmp_path).returncode == 0
    assert doc.read_text() == (REPO / "docs" / "payload.md").read_text()
    assert cli("usage", "check", cwd=tmp_path).returncode == 0


def test_check_fails_without_stored_schemas(tmp_path: Path) -> None:
    result = cli("usage", "check", cwd=tmp_path)
    assert result.returncode == 1
    assert "schema/plugins.json: missing" in result.stdout


def test_preview_matches_the_published_schema(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(f"path:\n  data: {tmp_path / 'data'}\n")
    out = tmp_path / "payload.json"
    result = cli("telemetry", "preview", "-c", str(config), "--output", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    payload = json.loads(out.read_text())
    plugins = json.loads((REPO / "schema" / "plugins.json").read_text())
    schema = payload_schema(schema_from_json(plugins))
    assert validate_value(schema, payload) == []
    assert payload["collection"] == "local"
    assert set(payload["stack_stats"]["kibana"]["plugins"]) >= {
        "telemetry",
        "usage_collector_stats",
    }
    # The check is not vacuous: a wrong type is a violation.
    payload["cluster_name"] = 42
    assert [v.path for v in validate_value(schema, payload)] == ["cluster_name"]


def test_preview_prints_to_stdout(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(f"path:\n  data: {tmp_path / 'data'}\n")
    result = cli("telemetry", "preview", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["collectionSource"] == "local"


def test_check_fails_on_stale_event_schemas_and_catalogue(tmp_path: Path) -> None:
    copy_stored(tmp_path)
    events = tmp_path / "schema" / "events"
    changed = json.loads((events / "sample_app_action.json").read_text())
    changed["properties"]["action"]["type"] = "long"
    (events / "sample_app_action.json").write_text(json.dumps(changed))
    (events / "platform_started.json").unlink()
    (events / "gone_event.json").write_text("{}")
    catalogue = tmp_path / "docs" / "events-catalogue.md"
    catalogue.write_text(catalogue.read_text().replace("## `page_view`", "## `page_viewed`"))

    failed = cli("usage", "check", cwd=tmp_path)
    assert failed.returncode == 1
    assert "event type [sample_app_action]: schema changed" in failed.stdout
    assert "event type [platform_started]: new, its schema is not stored" in failed.stdout
    assert "event type [gone_event]: removed" in failed.stdout
    assert "docs/events-catalogue.md: missing or out of date" in failed.stdout

    assert cli("usage", "check", "--fix", cwd=tmp_path).returncode == 0
    assert not (events / "gone_event.json").exists()
    assert json.loads((events / "platform_started.json").read_text())["channel"] == "server"
    assert "## `page_view` (browser)" in catalogue.read_text()
    assert cli("usage", "check", cwd=tmp_path).returncode == 0


def test_check_names_failed_collectors_and_the_paths_that_break_a_schema() -> None:
    """The live part of ``usage check`` reads ``usage_collector_stats`` of one bulk fetch (Kibana's
    telemetry_check runs no collector; ours also checks what they return)."""
    collectors = CollectorSet(logger=logging.getLogger("test.usage_check"))
    collectors.register_collector(
        collectors.make_usage_collector(
            type="bad",
            fetch=lambda _: {"n": "text", "m": 1, "extra": 2},
            schema={"n": {"type": "long"}, "m": {"type": "long"}},
        )
    )

    async def boom(_: CollectorFetchContext) -> dict[str, int]:
        raise RuntimeError("down")

    collectors.register_collector(
        collectors.make_usage_collector(type="boom", fetch=boom, schema={"n": {"type": "long"}})
    )
    counters = UsageCountersService(cast(Any, None))  # never started: it needs no store
    usage = UsageCollectionSetup(collectors, counters, partial(CollectorFetchContext))
    assert asyncio.run(_live_problems(usage)) == [
        "collector [boom]: fetch failed",
        "collector [bad]: live output does not match its schema: bad.n; bad.extra",
    ]
