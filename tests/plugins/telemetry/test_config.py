"""The `telemetry.*` config model: Kibana's keys and defaults, our additions, clear errors."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from telemetry_service.plugins.telemetry.config import (
    DEFAULT_PROD_ENDPOINT,
    DEFAULT_STAGING_ENDPOINT,
    TelemetryConfig,
)


def _error_locs(data: dict[str, Any]) -> list[tuple[int | str, ...]]:
    with pytest.raises(ValidationError) as info:
        TelemetryConfig.model_validate(data)
    return [error["loc"] for error in info.value.errors()]


def test_defaults_match_kibana() -> None:
    config = TelemetryConfig()
    assert config.enabled is True
    assert config.opt_in is True
    assert config.allow_changing_opt_in_status is True
    assert config.send_usage_from == "server"
    assert config.send_usage_to == "prod"
    assert config.banner is True
    assert config.hide_privacy_statement is False
    assert config.labels.model_dump(exclude_none=True) == {}


def test_defaults_of_our_additions() -> None:
    config = TelemetryConfig()
    assert config.product == "telemetry-service"
    assert config.endpoints.prod == DEFAULT_PROD_ENDPOINT == "https://telemetry.invalid/"
    assert config.endpoints.staging == DEFAULT_STAGING_ENDPOINT
    assert config.encryption.jwks is None
    assert config.encryption.kid is None
    assert config.debug is False
    assert config.proxy.url is None
    assert config.proxy.no_proxy == ()
    assert config.ssl.certificate_authorities == ()
    assert (config.timeouts.connect, config.timeouts.read) == (10.0, 30.0)
    assert config.fetcher.enabled is True


def test_camel_case_keys_set_snake_case_attributes() -> None:
    config = TelemetryConfig.model_validate(
        {
            "optIn": False,
            "allowChangingOptInStatus": False,
            "sendUsageFrom": "browser",
            "sendUsageTo": "staging",
            "hidePrivacyStatement": True,
            "labels": {"ciBuildNumber": 12, "isPr": True, "prId": 7, "branch": "main"},
            "ssl": {"certificateAuthorities": ["/etc/ca.pem"]},
            "proxy": {"url": "http://proxy:3128", "noProxy": ["localhost"]},
        }
    )
    assert config.opt_in is False
    assert config.allow_changing_opt_in_status is False
    assert config.send_usage_from == "browser"
    assert config.send_usage_to == "staging"
    assert config.hide_privacy_statement is True
    assert config.labels.ci_build_number == 12
    assert config.labels.is_pr is True
    assert config.labels.pr_id == 7
    assert config.ssl.certificate_authorities == ("/etc/ca.pem",)
    assert config.proxy.no_proxy == ("localhost",)


def test_snake_case_names_are_accepted_too() -> None:
    config = TelemetryConfig.model_validate({"opt_in": False, "send_usage_from": "browser"})
    assert (config.opt_in, config.send_usage_from) == (False, "browser")


def test_dump_by_alias_round_trips() -> None:
    config = TelemetryConfig.model_validate({"optIn": False, "labels": {"gitRev": "abc"}})
    dumped = config.model_dump(by_alias=True)
    assert dumped["optIn"] is False
    assert dumped["labels"]["gitRev"] == "abc"
    assert TelemetryConfig.model_validate(dumped) == config


def test_model_is_frozen() -> None:
    config = TelemetryConfig()
    with pytest.raises(ValidationError):
        config.opt_in = False  # type: ignore[misc]


@pytest.mark.parametrize("value", [False, "false", "False", "FALSE"])
def test_enabled_false_forces_opt_out_and_locks(value: object) -> None:
    config = TelemetryConfig.model_validate(
        {"enabled": value, "optIn": True, "allowChangingOptInStatus": True}
    )
    assert config.enabled is False
    assert config.opt_in is False
    assert config.allow_changing_opt_in_status is False


def test_enabled_true_changes_nothing() -> None:
    config = TelemetryConfig.model_validate(
        {"enabled": True, "optIn": False, "allowChangingOptInStatus": False}
    )
    assert (config.opt_in, config.allow_changing_opt_in_status) == (False, False)


def test_enabled_false_survives_a_round_trip() -> None:
    config = TelemetryConfig(enabled=False)
    again = TelemetryConfig.model_validate({**config.model_dump(by_alias=True), "optIn": True})
    assert again.opt_in is False


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({"sendUsageFrom": "elsewhere"}, ("sendUsageFrom",)),
        ({"sendUsageTo": "dev"}, ("sendUsageTo",)),
        ({"optIn": "maybe"}, ("optIn",)),
        ({"allowChangingOptInStatus": []}, ("allowChangingOptInStatus",)),
        ({"hidePrivacyStatement": "x"}, ("hidePrivacyStatement",)),
        ({"labels": {"ciBuildNumber": "twelve"}}, ("labels", "ciBuildNumber")),
        ({"labels": {"branch": 5}}, ("labels", "branch")),
        ({"product": "Telemetry Service"}, ("product",)),
        ({"product": "-x"}, ("product",)),
        ({"product": ""}, ("product",)),
        ({"endpoints": {"prod": "ftp://host/"}}, ("endpoints", "prod")),
        ({"endpoints": {"staging": "not a url"}}, ("endpoints", "staging")),
        ({"endpoints": {"prod": "https:///path"}}, ("endpoints", "prod")),
        ({"endpoints": {"prod": "https://host/?a=1"}}, ("endpoints", "prod")),
        ({"endpoints": {"prod": "https://host/#frag"}}, ("endpoints", "prod")),
        ({"endpoints": {"prod": "https://host:99999/"}}, ("endpoints", "prod")),
        ({"timeouts": {"connect": 0}}, ("timeouts", "connect")),
        ({"timeouts": {"read": -1}}, ("timeouts", "read")),
        ({"timeouts": {"read": "inf"}}, ("timeouts", "read")),
        ({"proxy": {"url": "ftp://proxy"}}, ("proxy", "url")),
        ({"encryption": {"kid": ""}}, ("encryption", "kid")),
        ({"encryption": {"jwks": "{not json"}}, ("encryption", "jwks")),
        ({"encryption": {"jwks": '{"kty": "RSA"}'}}, ("encryption", "jwks")),
        ({"encryption": {"jwks": "  "}}, ("encryption", "jwks")),
        ({"encryption": {"jwks": 5}}, ("encryption", "jwks")),
        ({"encryption": {"jwks": ["keys"]}}, ("encryption", "jwks")),
        ({"timeouts": {"connect": "soon"}}, ("timeouts", "connect")),
        ({"timeouts": {"connect": "0s"}}, ("timeouts", "connect")),
        ({"fetcher": {"enabled": "sometimes"}}, ("fetcher", "enabled")),
    ],
)
def test_bad_values_name_the_kibana_key(data: dict[str, Any], loc: tuple[str, ...]) -> None:
    assert _error_locs(data) == [loc]


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({"url": "https://telemetry.elastic.co/"}, ("url",)),
        ({"optInStatusUrl": "x"}, ("optInStatusUrl",)),
        ({"labels": {"color": "red"}}, ("labels", "color")),
        ({"endpoints": {"dev": "https://x/"}}, ("endpoints", "dev")),
        ({"timeouts": {"write": 1}}, ("timeouts", "write")),
    ],
)
def test_unknown_keys_are_rejected(data: dict[str, Any], loc: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as info:
        TelemetryConfig.model_validate(data)
    (error,) = info.value.errors()
    assert error["type"] == "extra_forbidden"
    assert error["loc"] == loc


def test_error_message_names_allowed_values() -> None:
    with pytest.raises(ValidationError) as info:
        TelemetryConfig.model_validate({"sendUsageFrom": "elsewhere"})
    message = str(info.value)
    assert "sendUsageFrom" in message
    assert "'server'" in message
    assert "'browser'" in message
    assert "elsewhere" in message


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://telemetry.vendor.test", "https://telemetry.vendor.test/"),
        ("https://telemetry.vendor.test/", "https://telemetry.vendor.test/"),
        ("http://127.0.0.1:5602", "http://127.0.0.1:5602/"),
        ("https://vendor.test/telemetry", "https://vendor.test/telemetry/"),
        ("  https://vendor.test/  ", "https://vendor.test/"),
        ("HTTPS://vendor.test", "HTTPS://vendor.test/"),
    ],
)
def test_endpoints_are_normalised_to_end_with_a_slash(given: str, expected: str) -> None:
    config = TelemetryConfig.model_validate({"endpoints": {"prod": given, "staging": given}})
    assert config.endpoints.prod == expected
    assert config.endpoints.staging == expected


def test_product_pattern() -> None:
    assert TelemetryConfig(product="acme-app2").product == "acme-app2"
    assert _error_locs({"product": "acme_app"}) == [("product",)]
    assert _error_locs({"product": "acme-"}) == [("product",)]
    assert _error_locs({"product": "a" * 65}) == [("product",)]


def test_encryption_jwks_forms() -> None:
    inline = '{"keys": [{"kty": "RSA", "kid": "k1"}]}'
    assert TelemetryConfig.model_validate({"encryption": {"jwks": inline}}).encryption.jwks == {
        "keys": [{"kty": "RSA", "kid": "k1"}]
    }
    as_mapping: dict[str, list[object]] = {"keys": []}
    config = TelemetryConfig.model_validate({"encryption": {"jwks": as_mapping, "kid": "k1"}})
    assert config.encryption.jwks == as_mapping
    assert config.encryption.kid == "k1"
    path = "/etc/telemetry/public.jwks"
    assert TelemetryConfig.model_validate({"encryption": {"jwks": path}}).encryption.jwks == path


def test_single_ca_path_and_comma_separated_no_proxy() -> None:
    config = TelemetryConfig.model_validate(
        {
            "ssl": {"certificateAuthorities": "/etc/ca.pem"},
            "proxy": {"url": "socks5://proxy:1080", "noProxy": "localhost, .internal,,"},
        }
    )
    assert config.ssl.certificate_authorities == ("/etc/ca.pem",)
    assert config.proxy.no_proxy == ("localhost", ".internal")
    assert config.proxy.url == "socks5://proxy:1080"


def test_timeouts_accept_durations() -> None:
    timeouts = TelemetryConfig.model_validate(
        {"timeouts": {"connect": "500ms", "read": "2m"}}
    ).timeouts
    assert (timeouts.connect, timeouts.read) == (0.5, 120.0)
    assert TelemetryConfig.model_validate({"timeouts": {"read": 4}}).timeouts.read == 4.0


def test_labels_keep_numbers_as_given() -> None:
    labels = TelemetryConfig.model_validate({"labels": {"prId": 12, "ciBuildNumber": 1.5}}).labels
    assert labels.pr_id == 12
    assert type(labels.pr_id) is int
    assert labels.ci_build_number == 1.5
    assert labels.model_dump(by_alias=True, exclude_none=True) == {
        "prId": 12,
        "ciBuildNumber": 1.5,
    }


def test_key_paths_seen_by_the_core_config_loader() -> None:
    from telemetry_service.common.config_file import env_name, leaf_paths
    from telemetry_service.core.config import ENV_PREFIX

    paths = set(leaf_paths(TelemetryConfig, "telemetry."))
    assert {
        "telemetry.enabled",
        "telemetry.optIn",
        "telemetry.allowChangingOptInStatus",
        "telemetry.sendUsageFrom",
        "telemetry.labels.ciBuildNumber",
        "telemetry.endpoints.prod",
        "telemetry.encryption.jwks",
        "telemetry.proxy.noProxy",
        "telemetry.ssl.certificateAuthorities",
        "telemetry.timeouts.connect",
        "telemetry.fetcher.enabled",
    } <= paths
    assert env_name(ENV_PREFIX, "telemetry.optIn") == "TELEMETRY_SERVICE_TELEMETRY_OPTIN"
