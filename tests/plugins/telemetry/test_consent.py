"""decide_consent: the environment, ``telemetry.enabled``, then Kibana's rules with the config's
lock (``T/server/fetcher.ts`` and ``T/server/plugin.ts`` pass ``config.allowChangingOptInStatus``
to ``getTelemetryOptIn``)."""

from __future__ import annotations

from typing import Any

import pytest

from telemetry_service.plugins.telemetry.config import TelemetryConfig
from telemetry_service.plugins.telemetry.consent import decide_consent

OPTED_OUT = {"enabled": False, "lastVersionChecked": "8.0.0"}
OPTED_IN = {"enabled": True, "lastVersionChecked": "8.0.0"}


@pytest.mark.parametrize(
    ("config", "saved", "value", "locked"),
    [
        # a legacy stored lock: the stored choice decides, and it cannot be changed
        ({"optIn": True}, {**OPTED_OUT, "allowChangingOptInStatus": False}, False, True),
        ({"optIn": True}, {"allowChangingOptInStatus": False}, True, True),
        ({"optIn": False}, {**OPTED_IN, "allowChangingOptInStatus": False}, True, True),
        # the config's lock: telemetry.optIn decides (Kibana's rule 1)
        ({"optIn": True, "allowChangingOptInStatus": False}, OPTED_OUT, True, True),
        ({"optIn": False, "allowChangingOptInStatus": False}, OPTED_IN, False, True),
        # a stored "allowed" does not unlock the config's lock
        (
            {"optIn": False, "allowChangingOptInStatus": False},
            {**OPTED_IN, "allowChangingOptInStatus": True},
            False,
            True,
        ),
        # unlocked: the stored choice decides
        ({"optIn": True}, OPTED_OUT, False, False),
        ({"optIn": False}, {}, None, False),
    ],
)
def test_only_the_configs_lock_lets_the_config_decide(
    config: dict[str, Any], saved: dict[str, Any], value: bool | None, locked: bool
) -> None:
    consent = decide_consent(TelemetryConfig.model_validate(config), saved, "8.0.0", {})
    assert (consent.value, consent.locked) == (value, locked)


def test_a_legacy_stored_lock_says_why_it_is_locked() -> None:
    saved = {**OPTED_OUT, "allowChangingOptInStatus": False}
    consent = decide_consent(TelemetryConfig.model_validate({}), saved, "8.0.0", {})
    assert consent.source == "saved-object"
    assert "legacy allowChangingOptInStatus: false" in consent.reason
