"""common.config_file: files, dotted keys, the environment overlay and keyed errors.

Most cases run through both servers' loaders (the host's ``load_raw_config`` + ``ConfigService``
and the receiver's ``load_config``), so the two sides cannot drift apart again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError

from telemetry_service import core, receiver
from telemetry_service.common.config_file import (
    ConfigFileError,
    Section,
    apply_env,
    deep_merge,
    env_name,
    expand_dotted,
    first_error,
    leaf_paths,
    read_config_file,
)
from telemetry_service.core.config import ConfigService, load_raw_config
from telemetry_service.receiver.config import ReceiverConfig, load_config


@dataclass(frozen=True)
class Side:
    """One server's way of loading its config, reduced to its server and auth sections."""

    prefix: str
    error: type[Exception]
    message: str
    auth_key: str
    reserved: str
    load: Callable[[Any, Mapping[str, str]], tuple[Any, Any]]


def _host(source: Any, env: Mapping[str, str]) -> tuple[Any, Any]:
    service = ConfigService(load_raw_config(source), env)
    service.validate()
    return service.core.server, service.core.server.auth


def _receiver(source: Any, env: Mapping[str, str]) -> tuple[Any, Any]:
    config = load_config(source, env=env)
    return config.server, config.auth


HOST = Side(
    "TELEMETRY_SERVICE_",
    core.ConfigError,
    "invalid config",
    "server.auth.apiKeys",
    "TELEMETRY_SERVICE_DEBUG",
    _host,
)
RECEIVER = Side(
    "TELEMETRY_RECEIVER_",
    receiver.ConfigError,
    "invalid receiver config",
    "auth.apiKeys",
    "TELEMETRY_RECEIVER_WORKER_CONFIG",
    _receiver,
)
SIDES = [pytest.param(HOST, id="host"), pytest.param(RECEIVER, id="receiver")]


def nested(path: str, value: Any) -> dict[str, Any]:
    return expand_dotted({path: value})


@pytest.mark.parametrize("side", SIDES)
def test_unreadable_invalid_or_non_mapping_files(side: Side, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("server: [\n")
    listing = tmp_path / "list.yml"
    listing.write_text("- a\n")
    for source, words in [
        (tmp_path / "missing.yml", "cannot read config file"),
        (bad, "not valid YAML at line 2"),
        (listing, "must hold a mapping"),
    ]:
        with pytest.raises(side.error) as caught:
            side.load(source, {})
        assert str(caught.value).startswith(f"{side.message}: ")
        assert words in str(caught.value)


@pytest.mark.parametrize("side", SIDES)
def test_yaml_file_mixes_dotted_and_nested_keys(side: Side, tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("server.port: 6000\nserver:\n  host: 0.0.0.0\n")
    server, _ = side.load(path, {})
    assert (server.host, server.port) == ("0.0.0.0", 6000)
    assert side.load(None, {})[0].host == "127.0.0.1"  # no file given, no default file here


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize(
    "spell", [str.upper, str.lower, str.title], ids=["upper", "lower", "mixed"]
)
def test_environment_names_match_in_any_case(side: Side, spell: Callable[[str], str]) -> None:
    """B2: ``telemetry_service_server_port`` works like ``telemetry_receiver_server_port``."""
    env = {spell(side.prefix + "SERVER_PORT"): "7000", spell(side.reserved): "x", "OTHER": "1"}
    assert side.load({"server": {"port": 1}}, env)[0].port == 7000


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("name", ["SERVER_PROT", "server_prot"])
def test_unknown_environment_variable_names_itself(side: Side, name: str) -> None:
    variable = (side.prefix.lower() if name.islower() else side.prefix) + name
    with pytest.raises(side.error) as caught:
        side.load({}, {variable: "1"})
    assert str(caught.value) == (
        f"{side.message} [{variable}]: environment variable matches no config key"
    )


@pytest.mark.parametrize("side", SIDES)
def test_environment_json_values_replace_the_file_value(side: Side) -> None:
    variable = env_name(side.prefix, side.auth_key)
    raw = nested(side.auth_key, [{"name": "old", "role": "viewer", "hash": "sha256:" + "0" * 64}])
    value = f' [{{"name": "ops", "role": "admin", "hash": "{core.hash_api_key("k")}"}}] '
    _, auth = side.load(raw, {variable: value})
    assert [(key.name, key.role) for key in auth.api_keys] == [("ops", "admin")]
    _, auth = side.load(raw, {variable.lower(): "[]"})
    assert auth.api_keys == ()


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        ("server.port", "abc", 'got "abc": Input should be a valid integer'),
        ("server.prot", 1, "unknown key"),
        ("apiKeys.0.name", "x" * 201, "at most 200 characters"),
        ("apiKeys.0.role", "root", "'admin' or 'viewer'"),
    ],
)
def test_errors_name_the_key_and_the_rule(side: Side, path: str, value: Any, words: str) -> None:
    if path.startswith("apiKeys"):
        entry = {"name": "ops", "role": "admin", "hash": core.hash_api_key("k")}
        entry[path.rsplit(".", 1)[1]] = value
        path, raw = side.auth_key + path.removeprefix("apiKeys"), nested(side.auth_key, [entry])
    else:
        raw = nested(path, value)
    with pytest.raises(side.error) as caught:
        side.load(raw, {})
    assert str(caught.value).startswith(f"{side.message} [{path}]: ")
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_dotted_keys_merge_deeply_and_report_conflicts() -> None:
    assert expand_dotted({"a.b.c": 1, "a": {"b": {"d": 2}}, "a.e": 3}) == {
        "a": {"b": {"c": 1, "d": 2}, "e": 3}
    }
    with pytest.raises(ConfigFileError) as caught:
        expand_dotted({"a": 1, "a.b": 2})
    assert (caught.value.key, caught.value.message) == (
        "a.b",
        "conflicts with a value given for a parent key",
    )
    with pytest.raises(ConfigFileError, match=r"^\[1\]: keys must be strings$"):
        expand_dotted({1: "x"})


def test_deep_merge_leaves_both_arguments_alone() -> None:
    base = {"a": {"b": 1, "c": [1]}, "d": 1}
    patch = {"a": {"b": 2}, "e": {"f": 3}}
    assert deep_merge(base, patch) == {"a": {"b": 2, "c": [1]}, "d": 1, "e": {"f": 3}}
    assert base == {"a": {"b": 1, "c": [1]}, "d": 1}
    assert patch == {"a": {"b": 2}, "e": {"f": 3}}


def test_mapping_sources_are_copied_and_expanded(tmp_path: Path) -> None:
    given = {"server.port": 1, "store": {"url": None}}
    assert read_config_file(given, tmp_path / "none.yml") == {
        "server": {"port": 1},
        "store": {"url": None},
    }
    assert given == {"server.port": 1, "store": {"url": None}}
    (tmp_path / "default.yml").write_text("")
    assert read_config_file(None, tmp_path / "default.yml") == {}


class _Inner(Section):
    max_depth: int = Field(default=1, alias="maxDepth")


class _Outer(Section):
    inner: _Inner = _Inner()
    names: tuple[str, ...] = ()


def test_leaf_paths_and_env_names_use_aliases() -> None:
    assert list(leaf_paths(_Outer)) == ["inner.maxDepth", "names"]
    assert list(leaf_paths(_Outer, "x.")) == ["x.inner.maxDepth", "x.names"]
    assert env_name("P_", "inner.maxDepth") == "P_INNER_MAXDEPTH"
    assert "auth.apiKeys" in set(leaf_paths(ReceiverConfig))


def test_apply_env_parses_json_and_null_and_skips_reserved() -> None:
    env = {
        "P_NAMES": '["a", "b"]',
        "P_INNER_MAXDEPTH": "null",
        "p_reserved": "anything",
        "P_BROKEN": "[not json",
    }
    paths = ["names", "inner.maxDepth", "broken"]
    raw = {"inner": 5}
    out = apply_env(raw, env, "P_", paths, reserved=["P_RESERVED"])
    assert out == {"names": ["a", "b"], "inner": {"maxDepth": None}, "broken": "[not json"}
    assert raw == {"inner": 5}


def test_first_error_names_the_key_under_a_prefix() -> None:
    class Model(BaseModel):
        port: int

    with pytest.raises(ValidationError) as caught:
        Model.model_validate({"port": "x" * 100})
    error = first_error(caught.value, "server")
    assert error.key == "server.port"
    assert error.message.startswith('got "' + "x" * 76 + "...: ")
    assert len(error.message.split(":")[0]) == len('got "') + 76 + 3
