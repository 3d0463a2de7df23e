"""The receiver's config: defaults, YAML, environment overrides, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from telemetry_service.common.config_file import env_name, leaf_paths
from telemetry_service.receiver import ConfigError, Receiver, hash_api_key, load_config
from telemetry_service.receiver.config import ENV_PREFIX, ReceiverConfig
from telemetry_service.receiver.errors import StartupError


def test_defaults() -> None:
    config = load_config({}, env={})
    assert (config.server.host, config.server.port) == ("127.0.0.1", 5602)
    assert config.server.max_body_bytes == 10 * 1024 * 1024
    assert config.products == ("telemetry-service",)
    assert config.retention.days == 400
    assert config.keys is None
    assert config.store_url == "sqlite:" + str(Path("receiver-data") / "receiver.db")
    assert config.auth.api_keys == ()
    assert config.server.loop == "auto"


def test_yaml_file_sets_every_section(tmp_path: Path) -> None:
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
    for path in leaf_paths(ReceiverConfig):
        assert path in module.__doc__, path
    assert env_name(ENV_PREFIX, "server.maxBodyBytes") == "TELEMETRY_RECEIVER_SERVER_MAXBODYBYTES"


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text("retention.days: 7\n")
    assert load_config(env={"TELEMETRY_RECEIVER_CONFIG": str(path)}).retention.days == 7


@pytest.mark.parametrize(
    ("raw", "key", "words"),
    [
        ({"server": {"port": 70000}}, "server.port", "65535"),
        ({"retention": {"days": 0}}, "retention.days", "greater than or equal to 1"),
        ({"products": []}, "products", "at least one product"),
        ({"products": ["a b"]}, "products", "not a product name"),
        ({"products": ["a", "a"]}, "products", "unique"),
        ({"store": {"url": "mysql://x"}}, "store.url", "sqlite: or postgresql://"),
        ({"limits": {"maxDepth": 1}}, "limits.maxDepth", "greater than or equal"),
        ({"server": {"loop": "trio"}}, "server.loop", "'auto', 'asyncio' or 'uvloop'"),
    ],
)
def test_errors_name_the_key(raw: dict[str, object], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(raw, env={})
    assert caught.value.key == key
    assert f"[{key}]" in str(caught.value)
    assert words in str(caught.value)


def test_overrides_are_validated() -> None:
    config = load_config({}, env={})
    changed = config.with_overrides(**{"server.port": 9000, "store.url": None})
    assert changed.server.port == 9000
    with pytest.raises(ConfigError, match=r"\[server.port\]"):
        config.with_overrides(**{"server.port": -1})


def test_a_default_store_left_at_the_root_by_an_earlier_version_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before 0.2 the receiver read its default ``sqlite:///receiver-data/receiver.db`` from
    the file system's root: the data must not be silently left behind by the fixed default."""
    root, work = tmp_path / "root", tmp_path / "work"
    (root / "receiver-data").mkdir(parents=True)
    work.mkdir()
    monkeypatch.chdir(work)
    config = load_config({})
    assert config.misplaced_default_store(root) is None  # nothing at the old place

    (root / "receiver-data" / "receiver.db").write_bytes(b"SQLite format 3\x00")
    assert config.misplaced_default_store(root) == root / "receiver-data" / "receiver.db"

    (work / "receiver-data").mkdir()
    (work / "receiver-data" / "receiver.db").write_bytes(b"")
    assert config.misplaced_default_store(root) is None  # the default file is in use

    given = load_config({"store": {"url": "sqlite:other.db"}})
    assert (
        given.misplaced_default_store(root) is None
    )  # an explicit store.url is never second-guessed


def test_the_receiver_refuses_to_start_beside_a_misplaced_store(
    tmp_path: Path, keys_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "receiver-data" / "receiver.db"
    monkeypatch.setattr(ReceiverConfig, "misplaced_default_store", lambda self: old)
    with pytest.raises(StartupError) as refused:
        Receiver(load_config({"keys": str(keys_file)}, env={}))
    assert str(refused.value) == (
        f"the reports of an earlier version are in {old}: move that file (with its -wal and "
        f"-shm files) to receiver-data/, or set store.url to sqlite://{old}"
    )
