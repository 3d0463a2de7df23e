"""``telemetry-service receiver …`` commands (in-process, through typer's runner)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import anyio
import pytest
from typer.testing import CliRunner

from telemetry_service.cli.errors import CliFailure
from telemetry_service.cli.receiver import receiver_app
from telemetry_service.receiver import EXPORT_FORMAT, open_report_store

from .support import OPT_IN, SNAPSHOT, encrypt, headers, opt_in, snapshot, write_private_keys

runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(receiver_app, list(args), catch_exceptions=True)


def count(url: str, cluster: str | None = None) -> int:
    async def run() -> int:
        store = open_report_store(url)
        await store.open()
        try:
            return await store.count_reports(cluster)
        finally:
            await store.close()

    return anyio.run(run)


def test_keys_generate(tmp_path: Path) -> None:
    result = invoke("keys", "generate", "--kid", "prod-1", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "receiver.private.jwks.json" in result.output
    private = tmp_path / "receiver.private.jwks.json"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    again = invoke("keys", "generate", "--kid", "prod-2", "--out", str(tmp_path))
    assert isinstance(again.exception, CliFailure)
    assert "--append" in str(again.exception)
    rotated = invoke("keys", "generate", "--kid", "prod-2", "--out", str(tmp_path), "--append")
    assert rotated.exit_code == 0
    assert "prod-1, prod-2" in rotated.output
    public = json.loads((tmp_path / "receiver.public.jwks.json").read_text())
    assert [k["kid"] for k in public["keys"]] == ["prod-1", "prod-2"]


def export_item(payload: dict[str, Any], channel: str = SNAPSHOT) -> dict[str, Any]:
    return {
        "format": EXPORT_FORMAT,
        "url": f"https://telemetry.example/v3/send/{channel}",
        "channel": channel,
        "headers": headers(payload["cluster_uuid"]),
        "body": encrypt(payload),
    }


def test_import_an_air_gapped_export(tmp_path: Path) -> None:
    keys = write_private_keys(tmp_path / "k.json")
    store = f"sqlite:///{tmp_path / 'r.db'}"
    export = tmp_path / "export.json"
    export.write_text(json.dumps(export_item(snapshot("c-1"))))
    args = ("import", str(export), "--keys", str(keys), "--store", store)
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "1 of 1 reports imported" in result.output
    again = invoke(*args)
    assert again.exit_code == 0
    assert "duplicate" in again.output
    assert count(store) == 1


def test_import_a_list_with_a_bad_item(tmp_path: Path) -> None:
    keys = write_private_keys(tmp_path / "k.json")
    store = f"sqlite:///{tmp_path / 'r.db'}"
    bad = export_item(snapshot("c-3"))
    bad["headers"]["X-Elastic-Cluster-ID"] = "other"
    by_url = export_item(opt_in("c-2"), OPT_IN)
    del by_url["channel"]
    export = tmp_path / "export.json"
    export.write_text(json.dumps([export_item(snapshot("c-1")), by_url, bad]))
    result = invoke("import", str(export), "--keys", str(keys), "--store", store)
    assert isinstance(result.exception, CliFailure)
    assert "1 of 3 reports were refused" in str(result.exception)
    assert "2 of 3 reports imported" in result.output
    assert count(store) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not a JSON file"),
        ('{"format": "other"}', "format"),
        (json.dumps({"format": EXPORT_FORMAT, "body": 1}), "body"),
        (json.dumps({"format": EXPORT_FORMAT, "body": "x", "url": "https://x/"}), "channel"),
        (json.dumps([1]), "not a JSON object"),
    ],
)
def test_import_refuses_what_is_not_an_export(tmp_path: Path, content: str, message: str) -> None:
    keys = write_private_keys(tmp_path / "k.json")
    export = tmp_path / "export.json"
    export.write_text(content)
    result = invoke(
        "import", str(export), "--keys", str(keys), "--store", f"sqlite:///{tmp_path}/r.db"
    )
    assert isinstance(result.exception, CliFailure)
    assert message in str(result.exception)


def test_import_needs_keys(tmp_path: Path) -> None:
    result = invoke("import", str(tmp_path / "x.json"), "--store", f"sqlite:///{tmp_path}/r.db")
    assert isinstance(result.exception, CliFailure)
    assert "--keys" in str(result.exception)


def test_forget(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    keys = write_private_keys(tmp_path / "k.json")
    store = f"sqlite:///{tmp_path / 'r.db'}"
    export = tmp_path / "export.json"
    export.write_text(json.dumps([export_item(snapshot("c-1")), export_item(snapshot("c-2"))]))
    assert invoke("import", str(export), "--keys", str(keys), "--store", store).exit_code == 0
    caplog.set_level("INFO", logger="telemetry_service.receiver.audit")
    result = invoke("forget", "c-1", "--store", store)
    assert result.exit_code == 0, result.output
    assert "1 reports deleted" in result.output
    assert count(store) == 1
    assert any("deletion request by CLI user" in r.getMessage() for r in caplog.records)
    nothing = invoke("forget", "c-1", "--store", store)
    assert nothing.exit_code == 0
    assert "nothing deleted" in nothing.output


def test_serve_refuses_an_unsafe_key_file(tmp_path: Path) -> None:
    keys = write_private_keys(tmp_path / "k.json", mode=0o644)
    result = invoke("serve", "--keys", str(keys), "--store", f"sqlite:///{tmp_path}/r.db")
    assert isinstance(result.exception, CliFailure)
    assert "readable or writable by group or others (mode 0644)" in str(result.exception)


def test_serve_refuses_a_public_address_without_api_keys(tmp_path: Path) -> None:
    keys = write_private_keys(tmp_path / "k.json")
    result = invoke("serve", "--keys", str(keys), "--host", "0.0.0.0")
    assert isinstance(result.exception, CliFailure)
    assert "refusing to listen on 0.0.0.0" in str(result.exception)


def test_serve_needs_keys_and_a_valid_config(tmp_path: Path) -> None:
    result = invoke("serve", "--store", f"sqlite:///{tmp_path}/r.db")
    assert isinstance(result.exception, CliFailure)
    assert "no private key set" in str(result.exception)
    bad = invoke("serve", "--port", "70000")
    assert isinstance(bad.exception, CliFailure)
    assert "[server.port]" in str(bad.exception)


def test_serve_says_when_the_store_cannot_be_opened(tmp_path: Path) -> None:
    keys = write_private_keys(tmp_path / "k.json")
    result = invoke("serve", "--keys", str(keys), "--store", "postgresql://nobody@127.0.0.1:1/x")
    assert isinstance(result.exception, CliFailure)
    assert "cannot open the store: cannot connect to the PostgreSQL store" in str(result.exception)
