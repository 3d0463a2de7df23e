"""The opt-in config and its questions (spec 1.5, ``ebt:.../opt_in_config.ts``).

``{"global": {"enabled": bool, "shippers": {name: bool}}, "event_types": {type: {"enabled": bool,
"shippers": {name: bool}}}}``. Whatever is not said counts as opted in, but only while
``global.enabled`` is true. Pure functions of the config, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NotRequired, TypedDict

__all__ = ["OptInConfig", "OptInConfigDict", "OptInRule"]


class OptInRule(TypedDict):
    enabled: bool
    shippers: NotRequired[Mapping[str, bool]]


#: What ``AnalyticsClient.opt_in`` takes (Kibana's ``OptInConfig``).
OptInConfigDict = TypedDict(
    "OptInConfigDict",
    {"global": OptInRule, "event_types": NotRequired[Mapping[str, OptInRule]]},
)


class OptInConfig:
    """A parsed opt-in config; an invalid one raises ValueError."""

    __slots__ = ("_event_types", "_global", "_global_shippers")

    def __init__(self, config: Mapping[str, object]) -> None:
        glob = config.get("global")
        if not isinstance(glob, Mapping) or not isinstance(glob.get("enabled"), bool):
            raise ValueError('An opt-in config needs {"global": {"enabled": true|false}}.')
        self._global: bool = glob["enabled"]
        self._global_shippers = _shippers(glob)
        types = config.get("event_types") or {}
        if not isinstance(types, Mapping):
            raise ValueError("opt-in event_types must map event types to rules.")
        self._event_types: dict[str, tuple[bool, dict[str, bool]]] = {
            str(name): (bool(rule.get("enabled", True)), _shippers(rule))
            for name, rule in types.items()
            if isinstance(rule, Mapping)
        }

    def is_opted_in(self) -> bool:
        """``global.enabled``."""
        return self._global

    def is_event_type_opted_in(self, event_type: str) -> bool:
        """False unless globally opted in; then ``event_types[t].enabled``, true when absent."""
        if not self._global:
            return False
        rule = self._event_types.get(event_type)
        return rule is None or rule[0]

    def is_shipper_opted_in(self, shipper: str, event_type: str | None = None) -> bool:
        """The global shipper rule and, given a type, that type's rule and its shipper rule."""
        if not self._global or not self._global_shippers.get(shipper, True):
            return False
        if event_type is None:
            return True
        rule = self._event_types.get(event_type)
        return rule is None or (rule[0] and rule[1].get(shipper, True))


def _shippers(rule: Mapping[str, object]) -> dict[str, bool]:
    shippers = rule.get("shippers") or {}
    if not isinstance(shippers, Mapping):
        raise ValueError("opt-in shippers must map shipper names to true|false.")
    return {str(k): bool(v) for k, v in shippers.items()}
