"""The channel URLs of the configured endpoints (Kibana's `get_telemetry_channel_endpoint`).

Kibana's channels are `kibana-snapshot` and `kibana-opt-in-reports`; ours are prefixed with
`telemetry.product` instead of `kibana`, and the base URLs come from `telemetry.endpoints`.
The URL form itself is the wire protocol's (`telemetry_service.wire.protocol.channel_url`).
"""

from __future__ import annotations

from typing import Literal

import httpx

from telemetry_service.wire.protocol import ChannelKind, channel_url

from .config import DEFAULT_PROD_ENDPOINT, DEFAULT_STAGING_ENDPOINT, TelemetryConfig

__all__ = [
    "TelemetryEnv",
    "get_base_url",
    "get_opt_in_status_url",
    "get_telemetry_channel_endpoint",
    "get_telemetry_url",
    "is_placeholder_endpoint",
]

TelemetryEnv = Literal["prod", "staging"]


def get_base_url(config: TelemetryConfig, env: TelemetryEnv) -> str:
    """The configured base URL (ending in `/`) of the `prod` or `staging` endpoint."""
    if env == "prod":
        return config.endpoints.prod
    if env == "staging":
        return config.endpoints.staging
    raise ValueError(f"Unknown telemetry endpoint env {env}.")


def get_telemetry_channel_endpoint(
    config: TelemetryConfig, kind: ChannelKind, env: TelemetryEnv | None = None
) -> httpx.URL:
    """The URL of the `kind` channel on `env` (default: the configured `sendUsageTo`)."""
    base_url = get_base_url(config, env if env is not None else config.send_usage_to)
    return httpx.URL(channel_url(base_url, config.product, kind))


def get_telemetry_url(config: TelemetryConfig) -> httpx.URL:
    """The snapshot channel URL of the configured `sendUsageTo` environment."""
    return get_telemetry_channel_endpoint(config, "snapshot")


def get_opt_in_status_url(config: TelemetryConfig) -> httpx.URL:
    """The opt-in status channel URL of the configured `sendUsageTo` environment."""
    return get_telemetry_channel_endpoint(config, "opt-in-reports")


def is_placeholder_endpoint(config: TelemetryConfig, env: TelemetryEnv | None = None) -> bool:
    """True while `env`'s endpoint (default: `sendUsageTo`'s) is still the shipped placeholder."""
    base_url = get_base_url(config, env if env is not None else config.send_usage_to)
    return base_url in (DEFAULT_PROD_ENDPOINT, DEFAULT_STAGING_ENDPOINT)
