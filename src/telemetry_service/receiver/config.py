"""The receiver's configuration: one YAML file plus environment overrides.

Keys (defaults in brackets)::

    server.host            address to listen on [127.0.0.1]; a non-loopback address needs
                           auth.apiKeys
    server.port            port [5602]
    server.maxBodyBytes    largest accepted request body [10485760 = 10 MiB]
    server.workers         worker processes [1]
    server.loop            event loop: auto (uvloop when installed), asyncio or uvloop [auto]
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
    limits.maxEventBodyBytes  largest event batch body (NDJSON) [10485760 = 10 MiB]
    limits.maxEventLineBytes  largest line (one event) of an event batch [262144 = 256 KiB]
    limits.maxEventLines   most lines in one event batch [20000]
    logging.level          debug, info, warning or error [info]
    public.enabled         serve the public statistics at /public, without an API key [false]
    public.fields          payload fields published: [{path, kind: keyword|boolean|number,
                           values (keyword: the values that may be named), title}] [[]]
    public.events          event types published [[]]
    public.minClusters     the fewest deployments a published bucket or figure holds [10]
    public.refresh         how often the public figures are computed [1h]
    server.headerTimeoutSeconds  time a client has to send a request's line and headers [10]
    server.keepAliveSeconds  an idle keep-alive connection is closed after this [5]
    server.allowedHosts    Host names answered besides loopback ones (DNS rebinding) [[]]
    limits.bodyTimeoutSeconds  time to receive a whole ingest body; then 408 [30]
    limits.maxBufferedBytes  ingest body bytes held at once by a process; beyond, 429 [67108864]
    limits.decryptThreads  bodies parsed at once (at most one per core; one more decrypts) [2]
    limits.fieldsPayloadBytes  larger payloads are skipped by the field explorer [2097152]
    limits.trendWideSnapshots  most snapshots of over 10000 paths a field trend reads [2000]
    store.poolTimeoutSeconds  wait for a PostgreSQL connection before a 503 [2]
    store.foldInterval     how often the snapshots stored since are counted into the field
                           trend's aggregate, in the background [30s]
    store.foldBatch        snapshots counted in one batch of that fold [500]
    store.foldBatchBytes   payload text (characters) counted in one batch, at least one
                           snapshot [4194304 = 4 MiB]
    store.foldBatchCells   distinct field cells (rows) written by one such transaction,
                           at least one snapshot [10000]

Every key can be set by an environment variable named ``TELEMETRY_RECEIVER_`` followed by the
key path in upper case with dots replaced by underscores: ``server.port`` is
``TELEMETRY_RECEIVER_SERVER_PORT``, ``store.url`` is ``TELEMETRY_RECEIVER_STORE_URL``,
``keys`` is ``TELEMETRY_RECEIVER_KEYS``, ``limits.maxDepth`` is
``TELEMETRY_RECEIVER_LIMITS_MAXDEPTH``. Lists are given as JSON
(``TELEMETRY_RECEIVER_PRODUCTS='["kibana","beats"]'``,
``TELEMETRY_RECEIVER_AUTH_APIKEYS='[{"name":"ops","role":"admin","hash":"sha256:…"}]'``);
names are matched in any case.
``TELEMETRY_RECEIVER_CONFIG`` names the config file (default ``config/receiver.yml`` when it
exists). Any other variable with the prefix is an error, like an unknown key in the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from telemetry_service.common.config_file import (
    AuthConfig,
    Duration,
    Section,
    apply_env,
    config_errors_as,
    deep_merge,
    expand_dotted,
    first_error,
    leaf_paths,
    read_config_file,
)
from telemetry_service.common.event_loops import EventLoopName
from telemetry_service.common.log import LoggingConfig

from .errors import ConfigError
from .public.privacy import FieldKind, check_field, check_word

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "ENV_PREFIX",
    "WORKER_CONFIG_ENV",
    "ReceiverConfig",
    "load_config",
]

#: The one place where the receiver turns a config-file problem into its :class:`ConfigError`.
_config_errors = partial(config_errors_as, ConfigError)

ENV_PREFIX = "TELEMETRY_RECEIVER_"
CONFIG_ENV = "TELEMETRY_RECEIVER_CONFIG"
#: Set by ``receiver serve --workers N`` for its worker processes (the resolved config).
WORKER_CONFIG_ENV = "TELEMETRY_RECEIVER_WORKER_CONFIG"
_RESERVED_ENV = frozenset({CONFIG_ENV, WORKER_CONFIG_ENV})
DEFAULT_CONFIG_PATH = Path("config/receiver.yml")
_PRODUCT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ServerConfig(Section):
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=5602, ge=0, le=65535)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, alias="maxBodyBytes")
    workers: int = Field(default=1, ge=1, le=64)
    header_timeout_seconds: float = Field(default=10, gt=0, le=3600, alias="headerTimeoutSeconds")
    keep_alive_seconds: int = Field(default=5, ge=1, le=3600, alias="keepAliveSeconds")
    allowed_hosts: tuple[str, ...] = Field(default=(), alias="allowedHosts")
    loop: EventLoopName = "auto"


class PathConfig(Section):
    data: Path = Path("./receiver-data")


class StoreConfig(Section):
    url: str | None = None
    """``sqlite:///path/file.db`` or ``postgresql://…``; default: a SQLite file under path.data."""

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite:", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite: or postgresql://")
        return value

    pool_timeout_seconds: float = Field(default=2, gt=0, le=600, alias="poolTimeoutSeconds")
    fold_interval: Duration = Field(default=30.0, gt=0, le=86_400, alias="foldInterval")
    fold_batch: int = Field(default=500, ge=1, le=100_000, alias="foldBatch")
    fold_batch_bytes: int = Field(default=4 << 20, ge=1, alias="foldBatchBytes")
    fold_batch_cells: int = Field(default=10_000, ge=1, alias="foldBatchCells")


class RetentionConfig(Section):
    days: int = Field(default=400, ge=1, le=100_000)


class LimitsConfig(Section):
    max_inflated_bytes: int = Field(default=250_000, ge=32, alias="maxInflatedBytes")
    max_depth: int = Field(default=100, ge=2, le=1000, alias="maxDepth")
    max_in_flight: int = Field(default=64, ge=1, le=100_000, alias="maxInFlight")
    retry_after_seconds: int = Field(default=5, ge=1, le=3600, alias="retryAfterSeconds")
    max_event_body_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, le=1024**3, alias="maxEventBodyBytes"
    )
    max_event_line_bytes: int = Field(
        default=256 * 1024, ge=256, le=64 * 1024**2, alias="maxEventLineBytes"
    )
    max_event_lines: int = Field(default=20_000, ge=1, le=10_000_000, alias="maxEventLines")

    body_timeout_seconds: float = Field(default=30, gt=0, le=3600, alias="bodyTimeoutSeconds")
    max_buffered_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, alias="maxBufferedBytes")
    decrypt_threads: int = Field(default=2, ge=1, le=256, alias="decryptThreads")
    fields_payload_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024, le=1 << 30, alias="fieldsPayloadBytes"
    )
    trend_wide_snapshots: int = Field(default=2000, ge=1, alias="trendWideSnapshots")


class PublicFieldConfig(Section):
    """A payload field of the public statistics; refused when its values could be free text
    (the rules of ``public/privacy.py``)."""

    path: str
    kind: FieldKind
    values: tuple[str, ...] = Field(default=(), max_length=200)
    title: str | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _private(self) -> PublicFieldConfig:
        check_field(self.path, self.kind, self.values)
        return self


class PublicConfig(Section):
    enabled: bool = False
    fields: tuple[PublicFieldConfig, ...] = Field(default=(), max_length=100)
    events: tuple[str, ...] = Field(default=(), max_length=100)
    min_clusters: int = Field(default=10, ge=2, le=1_000_000, alias="minClusters")
    refresh: Duration = Field(default=3600.0, ge=60, le=7 * 86_400)

    @field_validator("fields")
    @classmethod
    def _unique_fields(cls, value: tuple[PublicFieldConfig, ...]) -> tuple[PublicFieldConfig, ...]:
        if len({field.path for field in value}) != len(value):
            raise ValueError("each path may be listed once")
        return value

    @field_validator("events")
    @classmethod
    def _events(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for event_type in value:
            check_word(event_type, "event type")
        if len(set(value)) != len(value):
            raise ValueError("each event type may be listed once")
        return value


class ReceiverConfig(Section):
    """The whole receiver config (see the module docstring for every key)."""

    server: ServerConfig = ServerConfig()
    path: PathConfig = PathConfig()
    keys: Path | None = None
    store: StoreConfig = StoreConfig()
    products: tuple[str, ...] = ("telemetry-service",)
    retention: RetentionConfig = RetentionConfig()
    auth: AuthConfig = AuthConfig()
    limits: LimitsConfig = LimitsConfig()
    logging: LoggingConfig = LoggingConfig()
    public: PublicConfig = PublicConfig()

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

    def misplaced_default_store(self, root: Path = Path("/")) -> Path | None:
        """Where versions before 0.2 put the default store, when it is there and the default
        file is not: they read ``sqlite:///DATA/receiver.db`` with a relative ``path.data`` as a
        path from the file system's root (``/receiver-data/receiver.db``)."""
        data = self.path.data
        if self.store.url or data.is_absolute():
            return None
        old = root / data / "receiver.db"
        return old if old.is_file() and not (data / "receiver.db").exists() else None

    def with_overrides(self, **patch: Any) -> ReceiverConfig:
        """A copy with dotted-path overrides applied (``{"server.port": 1}``), validated."""
        raw = self.model_dump(by_alias=True, mode="json")
        given = {path: value for path, value in patch.items() if value is not None}
        with _config_errors():
            return validate(deep_merge(raw, expand_dotted(given)))


def load_config(
    source: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> ReceiverConfig:
    """Read a mapping or YAML file (default: $TELEMETRY_RECEIVER_CONFIG, then
    config/receiver.yml if it exists), apply the environment and validate."""
    env = os.environ if env is None else env
    if source is None and env.get(CONFIG_ENV):
        source = env[CONFIG_ENV]
    with _config_errors():
        raw = read_config_file(source, DEFAULT_CONFIG_PATH)
        raw = apply_env(raw, env, ENV_PREFIX, leaf_paths(ReceiverConfig), _RESERVED_ENV)
    return validate(raw)


def validate(raw: Mapping[str, Any]) -> ReceiverConfig:
    """Validate raw config; the first problem becomes a :class:`ConfigError` naming its key."""
    with _config_errors():
        try:
            return ReceiverConfig.model_validate(raw)
        except ValidationError as exc:
            raise first_error(exc) from None
