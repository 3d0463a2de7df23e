"""The receiver's config: defaults, YAML, environment overrides, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from telemetry_service.receiver import ConfigError, hash_api_key, load_config
from telemetry_service.receiver.config import env_name, leaf_paths


def test_defaults() -> None:
    config = load_config({}, env={})
    assert (config.server.host, config.server.port) == ("127.0.0.1", 5602)
    assert config.server.max_body_bytes == 10 * 1024 * 1024
    assert config.products == ("telemetry-service",)
    assert config.retention.days == 400
    assert config.keys is None
    assert config.store_url == "sqlite:" + str(Path("receiver-data") / "receiver.db")
    assert config.auth.api_keys == ()


def test_yaml_file_with_dotted_keys(tmp_path: Path) -> None:
    path = tmp_path / "receiver.yml"
    key_hash = hash_api_key("k")
    path.write_text(
        "server.port: 7000\n"
        "server:\n  maxBodyBytes: 2048\n"
        "store.url: postgresql://db/telemetry\n"
        "products: [kibana, beats]\n"
        "retention: {days: 30}\n"
        f"auth.apiKeys:\n  - {{name: ops, role: admin, hash: '{key_hash}'}}\n"
    )
    config = load_config(path, env={})
    assert config.server.port == 7000
    assert config.server.max_body_bytes == 2048
    assert config.store_url == "postgresql://db/telemetry"
    assert config.products == ("kibana", "beats")
    assert config.retention.days == 30
    assert config.auth.api_keys[0].name == "ops"


def test_environment_overrides_every_key() -> None:
    env = {
        "TELEMETRY_RECEIVER_SERVER_PORT": "7001",
        "TELEMETRY_RECEIVER_KEYS": "/keys/private.json",
        "TELEMETRY_RECEIVER_PRODUCTS": '["kibana"]',
        "TELEMETRY_RECEIVER_LIMITS_MAXDEPTH": "50",
        "TELEMETRY_RECEIVER_STORE_URL": "sqlite:///x.db",
        "OTHER": "ignored",
    }
    config = load_config({"server": {"port": 1}}, env=env)
    assert config.server.port == 7001
    assert config.keys == Path("/keys/private.json")
    assert config.products == ("kibana",)
    assert config.limits.max_depth == 50
    assert config.store_url == "sqlite:///x.db"


def test_env_names_are_documented() -> None:
    import telemetry_service.receiver.config as module

    assert module.__doc__ is not None
    for path in leaf_paths():
        assert path in module.__doc__, path
    assert env_name("server.maxBodyBytes") == "TELEMETRY_RECEIVER_SERVER_MAXBODYBYTES"


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text("retention.days: 7\n")
    assert load_config(env={"TELEMETRY_RECEIVER_CONFIG": str(path)}).retention.days == 7


@pytest.mark.parametrize(
    ("raw", "env", "key", "words"),
    [
        ({"server": {"prot": 1}}, {}, "server.prot", "unknown key"),
        ({"server": {"port": "abc"}}, {}, "server.port", "valid integer"),
        ({"server": {"port": 70000}}, {}, "server.port", "65535"),
        ({"retention": {"days": 0}}, {}, "retention.days", "greater than or equal to 1"),
        ({"products": []}, {}, "products", "at least one product"),
        ({"products": ["a b"]}, {}, "products", "not a product name"),
        ({"products": ["a", "a"]}, {}, "products", "unique"),
        ({"store": {"url": "mysql://x"}}, {}, "store.url", "sqlite: or postgresql://"),
        (
            {"auth": {"apiKeys": [{"name": "x", "role": "root", "hash": "sha256:" + "0" * 64}]}},
            {},
            "auth.apiKeys.0.role",
            "admin",
        ),
        ({}, {"TELEMETRY_RECEIVER_NOPE": "1"}, "TELEMETRY_RECEIVER_NOPE", "matches no"),
        ({"limits": {"maxDepth": 1}}, {}, "limits.maxDepth", "greater than or equal"),
    ],
)
def test_errors_name_the_key(
    raw: dict[str, object], env: dict[str, str], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(raw, env=env)
    assert caught.value.key == key
    assert f"[{key}]" in str(caught.value)
    assert words in str(caught.value)


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yml", env={})
    bad = tmp_path / "bad.yml"
    bad.write_text("server: [\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(bad, env={})
    listing = tmp_path / "list.yml"
    listing.write_text("- a\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(listing, env={})


def test_overrides_are_validated() -> None:
    config = load_config({}, env={})
    changed = config.with_overrides(**{"server.port": 9000, "store.url": None})
    assert changed.server.port == 9000
    with pytest.raises(ConfigError, match=r"\[server.port\]"):
        config.with_overrides(**{"server.port": -1})
