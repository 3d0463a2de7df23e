"""The receiver's configuration: one YAML file plus environment overrides.

Keys (defaults in brackets)::

    server.host            address to listen on [127.0.0.1]; a non-loopback address needs
                           auth.apiKeys
    server.port            port [5602]
    server.maxBodyBytes    largest accepted request body [10485760 = 10 MiB]
    server.workers         worker processes [1]
    path.data              folder of the default SQLite store [./receiver-data]
    keys                   the private key set (JWKS file, mode 0600); required by
                           ``receiver serve`` and ``receiver import`` [none]
    store.url              sqlite:///FILE or postgresql://… [SQLite file path.data/receiver.db]
    products               accepted channel prefixes [["telemetry-service"]]
    retention.days         reports older than this are deleted daily [400]
    auth.apiKeys           [{name, role: admin|viewer, hash: "sha256:<hex>"}] for the APIs [[]]
    limits.maxInflatedBytes  largest inflated JWE (zip: DEF) [250000]
    limits.maxDepth        deepest nesting of the decrypted JSON [100]
    limits.maxInFlight     ingest requests handled at once before answering 429 [64]
    limits.retryAfterSeconds  the Retry-After of 429 and 503 answers [5]

Every key can be set by an environment variable named ``TELEMETRY_RECEIVER_`` followed by the
key path in upper case with dots replaced by underscores: ``server.port`` is
``TELEMETRY_RECEIVER_SERVER_PORT``, ``store.url`` is ``TELEMETRY_RECEIVER_STORE_URL``,
``keys`` is ``TELEMETRY_RECEIVER_KEYS``, ``limits.maxDepth`` is
``TELEMETRY_RECEIVER_LIMITS_MAXDEPTH``. Lists are given as JSON
(``TELEMETRY_RECEIVER_PRODUCTS='["kibana","beats"]'``,
``TELEMETRY_RECEIVER_AUTH_APIKEYS='[{"name":"ops","role":"admin","hash":"sha256:…"}]'``).
``TELEMETRY_RECEIVER_CONFIG`` names the config file (default ``config/receiver.yml`` when it
exists). Any other variable with the prefix is an error, like an unknown key in the file.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "ENV_PREFIX",
    "WORKER_CONFIG_ENV",
    "ApiKeyConfig",
    "ReceiverConfig",
    "env_name",
    "leaf_paths",
    "load_config",
]

ENV_PREFIX = "TELEMETRY_RECEIVER_"
CONFIG_ENV = "TELEMETRY_RECEIVER_CONFIG"
#: Set by ``receiver serve --workers N`` for its worker processes (the resolved config).
WORKER_CONFIG_ENV = "TELEMETRY_RECEIVER_WORKER_CONFIG"
_RESERVED_ENV = frozenset({CONFIG_ENV, WORKER_CONFIG_ENV})
DEFAULT_CONFIG_PATH = Path("config/receiver.yml")
_PRODUCT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ServerConfig(_Section):
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=5602, ge=0, le=65535)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, alias="maxBodyBytes")
    workers: int = Field(default=1, ge=1, le=64)


class PathConfig(_Section):
    data: Path = Path("./receiver-data")


class StoreConfig(_Section):
    url: str | None = None
    """``sqlite:///path/file.db`` or ``postgresql://…``; default: a SQLite file under path.data."""

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite:", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite: or postgresql://")
        return value


class RetentionConfig(_Section):
    days: int = Field(default=400, ge=1, le=100_000)


class ApiKeyConfig(_Section):
    """One API key: only its SHA-256 hash is kept (``sha256:<hex>``), as in the host's config."""

    name: str = Field(min_length=1, max_length=200)
    role: Literal["admin", "viewer"]
    hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")


class AuthConfig(_Section):
    api_keys: tuple[ApiKeyConfig, ...] = Field(default=(), alias="apiKeys")


class LimitsConfig(_Section):
    max_inflated_bytes: int = Field(default=250_000, ge=32, alias="maxInflatedBytes")
    max_depth: int = Field(default=100, ge=2, le=1000, alias="maxDepth")
    max_in_flight: int = Field(default=64, ge=1, le=100_000, alias="maxInFlight")
    retry_after_seconds: int = Field(default=5, ge=1, le=3600, alias="retryAfterSeconds")


class ReceiverConfig(_Section):
    """The whole receiver config (see the module docstring for every key)."""

    server: ServerConfig = ServerConfig()
    path: PathConfig = PathConfig()
    keys: Path | None = None
    store: StoreConfig = StoreConfig()
    products: tuple[str, ...] = ("telemetry-service",)
    retention: RetentionConfig = RetentionConfig()
    auth: AuthConfig = AuthConfig()
    limits: LimitsConfig = LimitsConfig()

    @field_validator("products")
    @classmethod
    def _products(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("list at least one product")
        for product in value:
            if not _PRODUCT.match(product):
                raise ValueError(
                    f"{product!r} is not a product name (letters, digits, '.', '_', '-')"
                )
        if len(set(value)) != len(value):
            raise ValueError("products must be unique")
        return value

    @property
    def store_url(self) -> str:
        """``store.url``, or the default SQLite file under ``path.data``."""
        return self.store.url or f"sqlite:{self.path.data / 'receiver.db'}"

    def with_overrides(self, **patch: Any) -> ReceiverConfig:
        """A copy with dotted-path overrides applied (``{"server.port": 1}``), validated."""
        raw = self.model_dump(by_alias=True, mode="json")
        for path, value in patch.items():
            if value is None:
                continue
            node = raw
            *parents, last = path.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = value
        return validate(raw)


def leaf_paths(model: type[BaseModel] = ReceiverConfig, prefix: str = "") -> Iterator[str]:
    """Every settable key path (aliases, dotted)."""
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from leaf_paths(annotation, key + ".")
        else:
            yield key


def env_name(path: str) -> str:
    """The environment variable that overrides a key path."""
    return ENV_PREFIX + path.replace(".", "_").upper()


def load_config(
    source: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> ReceiverConfig:
    """Read a mapping or YAML file (default: $TELEMETRY_RECEIVER_CONFIG, then
    config/receiver.yml if it exists), apply the environment and validate."""
    env = os.environ if env is None else env
    if source is None and env.get(CONFIG_ENV):
        source = env[CONFIG_ENV]
    raw = _read(source)
    return validate(_apply_env(raw, env))


def validate(raw: Mapping[str, Any]) -> ReceiverConfig:
    """Validate raw config; the first problem becomes a :class:`ConfigError` naming its key."""
    try:
        return ReceiverConfig.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            raise ConfigError(key, "unknown key") from None
        shown = json.dumps(error.get("input"), default=str)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(key, f"got {shown}: {message}") from None


def _read(source: Mapping[str, Any] | str | os.PathLike[str] | None) -> dict[str, Any]:
    if source is None:
        if not DEFAULT_CONFIG_PATH.is_file():
            return {}
        source = DEFAULT_CONFIG_PATH
    if isinstance(source, Mapping):
        return _expand_dotted(copy.deepcopy(dict(source)))
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("", f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError("", f"config file {path} is not valid YAML{line}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("", f"config file {path} must hold a mapping of keys")
    return _expand_dotted(data)


def _expand_dotted(data: Mapping[Any, Any]) -> dict[str, Any]:
    """``server.port: 1`` in a file means ``server: {port: 1}``."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise ConfigError(str(key), "keys must be strings")
        node = out
        *parents, last = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(key, "conflicts with a value given for a parent key")
            node = child
        if isinstance(value, Mapping):
            value = _expand_dotted(value)
            if isinstance(node.get(last), dict):
                value = {**node[last], **value}
        node[last] = value
    return out


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    by_env = {env_name(path): path for path in leaf_paths()}
    out = copy.deepcopy(raw)
    for name, value in sorted(env.items()):
        if not name.upper().startswith(ENV_PREFIX) or name.upper() in _RESERVED_ENV:
            continue
        path = by_env.get(name.upper())
        if path is None:
            raise ConfigError(name, "environment variable matches no receiver config key")
        node = out
        *parents, last = path.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[last] = _parse_env_value(value)
    return out


def _parse_env_value(value: str) -> Any:
    stripped = value.strip()
    if stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return value
    if stripped in ("null", "~"):
        return None
    return value
