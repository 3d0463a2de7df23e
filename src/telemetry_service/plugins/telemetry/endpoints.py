"""Telemetry channel URLs: `{base}v3/send/{channel}` (Kibana's `get_telemetry_channel_endpoint`).

Kibana's channels are `kibana-snapshot` and `kibana-opt-in-reports`; ours are prefixed with
`telemetry.product` instead of `kibana`, and the base URLs come from `telemetry.endpoints`.
"""

from __future__ import annotations

from typing import Literal

import httpx

from .config import DEFAULT_PROD_ENDPOINT, DEFAULT_STAGING_ENDPOINT, TelemetryConfig

__all__ = [
    "ENDPOINT_VERSION",
    "ChannelName",
    "TelemetryEnv",
    "get_base_url",
    "get_channel",
    "get_channel_url",
    "get_opt_in_status_url",
    "get_telemetry_channel_endpoint",
    "get_telemetry_url",
    "is_placeholder_endpoint",
]

ChannelName = Literal["snapshot", "optInStatus"]
TelemetryEnv = Literal["prod", "staging"]

ENDPOINT_VERSION = "v3"
_CHANNEL_SUFFIXES: dict[str, str] = {"snapshot": "snapshot", "optInStatus": "opt-in-reports"}


def get_channel(product: str, channel: ChannelName, serverless_suffix: bool = False) -> str:
    """The channel name: `{product}-snapshot` or `{product}-opt-in-reports` (+`-serverless`)."""
    suffix = _CHANNEL_SUFFIXES.get(channel)
    if suffix is None:
        raise ValueError(f"Unknown telemetry channel {channel}.")
    name = f"{product}-{suffix}"
    return f"{name}-serverless" if serverless_suffix else name


def get_base_url(config: TelemetryConfig, env: TelemetryEnv) -> str:
    """The configured base URL (ending in `/`) of the `prod` or `staging` endpoint."""
    if env == "prod":
        return config.endpoints.prod
    if env == "staging":
        return config.endpoints.staging
    raise ValueError(f"Unknown telemetry endpoint env {env}.")


def get_channel_url(
    base_url: str, product: str, channel: ChannelName, serverless_suffix: bool = False
) -> httpx.URL:
    """`{base_url}v3/send/{channel}`; a missing trailing `/` on `base_url` is added."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    channel_name = get_channel(product, channel, serverless_suffix)
    return httpx.URL(f"{base}{ENDPOINT_VERSION}/send/{channel_name}")


def get_telemetry_channel_endpoint(
    config: TelemetryConfig,
    channel: ChannelName,
    env: TelemetryEnv | None = None,
    serverless_suffix: bool = False,
) -> httpx.URL:
    """The URL of `channel` on `env` (default: the configured `sendUsageTo`)."""
    base_url = get_base_url(config, env if env is not None else config.send_usage_to)
    return get_channel_url(base_url, config.product, channel, serverless_suffix)


def get_telemetry_url(config: TelemetryConfig) -> httpx.URL:
    """The snapshot channel URL of the configured `sendUsageTo` environment."""
    return get_telemetry_channel_endpoint(config, "snapshot")


def get_opt_in_status_url(config: TelemetryConfig) -> httpx.URL:
    """The opt-in status channel URL of the configured `sendUsageTo` environment."""
    return get_telemetry_channel_endpoint(config, "optInStatus")


def is_placeholder_endpoint(config: TelemetryConfig, env: TelemetryEnv | None = None) -> bool:
    """True while `env`'s endpoint (default: `sendUsageTo`'s) is still the shipped placeholder."""
    base_url = get_base_url(config, env if env is not None else config.send_usage_to)
    return base_url in (DEFAULT_PROD_ENDPOINT, DEFAULT_STAGING_ENDPOINT)
