from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from telemetry_service.core import ConfigError, Duration, Platform, Plugin
from telemetry_service.core.config import ConfigService, parse_duration


class DemoSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
    opt_in: bool = Field(default=True, alias="optIn")
    buffer: Duration = 5.0
    labels: dict[str, str] = {}
    limit: int = Field(default=3, ge=1, le=10)


def service(raw: dict[str, Any], env: dict[str, str] | None = None) -> ConfigService:
    svc = ConfigService(raw, env or {})
    svc.register("demo", DemoSchema)
    svc.validate()
    return svc


def test_defaults() -> None:
    svc = service({})
    assert svc.get("demo") == DemoSchema()
    assert svc.core.server.port == 5601
    assert svc.core.server.host == "127.0.0.1"


@pytest.mark.parametrize(
    ("raw", "key", "fragment"),
    [
        ({"demo": {"nope": 1}}, "demo.nope", "unknown key"),
        ({"demo": {"optIn": "maybe"}}, "demo.optIn", '"maybe"'),
        ({"demo": {"limit": 11}}, "demo.limit", "less than or equal to 10"),
        ({"demo": {"buffer": "5 parsecs"}}, "demo.buffer", "duration"),
        ({"elsewhere": {}}, "elsewhere", "unknown key"),
        ({"demo": 3}, "demo", "expected a mapping"),
    ],
)
def test_errors_name_the_key_value_and_rule(raw: dict[str, Any], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        service(raw)
    message = str(info.value)
    assert f"[{key}]" in message
    assert fragment in message
    assert "\n" not in message


def test_environment_overrides_every_key() -> None:
    env = {
        "TELEMETRY_SERVICE_DEMO_OPTIN": "false",
        "TELEMETRY_SERVICE_DEMO_BUFFER": "250ms",
        "TELEMETRY_SERVICE_DEMO_LABELS": '{"env": "prod"}',
        "TELEMETRY_SERVICE_SERVER_PORT": "7000",
        "UNRELATED": "1",
    }
    svc = service({"demo": {"optIn": True, "limit": 4}}, env)
    assert svc.get("demo") == DemoSchema(optIn=False, buffer=0.25, labels={"env": "prod"}, limit=4)
    assert svc.core.server.port == 7000


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(5, 5.0), ("5s", 5.0), ("500ms", 0.5), ("2m", 120.0), ("1h", 3600.0), ("1.5", 1.5)],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", [True, "-1s", "soon", None])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


def test_update_revalidates_and_keeps_old_value_on_error() -> None:
    svc = service({"demo": {"limit": 2}})
    svc.update({"demo": {"limit": 5}})
    assert svc.get("demo").limit == 5  # type: ignore[attr-defined]
    with pytest.raises(ConfigError):
        svc.update({"demo": {"limit": 50}})
    assert svc.get("demo").limit == 5  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_plugin_enabled_false_disables_without_validating_the_rest(tmp_path: Path) -> None:
    class Demo(Plugin):
        id = "demo"
        config_schema = DemoSchema

    cfg = {"path": {"data": str(tmp_path)}, "demo": {"enabled": False}}
    async with Platform(config=cfg, plugins=[Demo()]) as platform:
        assert "demo" not in platform.start_contracts
    with pytest.raises(ConfigError, match=r"\[demo.enabled\]"):
        async with Platform(config={"demo": {"enabled": "perhaps"}}, plugins=[Demo()]):
            pass


@pytest.mark.parametrize(
    ("content", "key"),
    [("telemetri:\n  optIn: true\n", "telemetri"), ("server:\n  port: [1]\n", "server.port")],
)
def test_serve_with_bad_config_exits_1_with_one_line(
    tmp_path: Path, content: str, key: str
) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(content)
    result = subprocess.run(
        [sys.executable, "-m", "telemetry_service.cli.main", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"[{key}]" in lines[0]
    assert "Traceback" not in result.stderr
