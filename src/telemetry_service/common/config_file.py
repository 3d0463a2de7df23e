"""Config files and their environment overlay, as both servers read them.

A config is one YAML mapping; Kibana-style dotted keys (``server.port: 1``) mean nesting. Every
settable key path (:func:`leaf_paths`) can be overridden by an environment variable named by
:func:`env_name`: the side's prefix, then the path in upper case with dots replaced by
underscores. Variable names are matched case-insensitively; a variable with the prefix that
matches no key is an error. Problems raise :class:`ConfigFileError`, which each side turns into
its own ``ConfigError`` in one place. :data:`Duration` is a config value in seconds that files may
write as ``"500ms"``, ``"5s"`` or ``"1h"`` (both servers' durations).
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

__all__ = [
    "ApiKeyConfig",
    "AuthConfig",
    "ConfigFileError",
    "Duration",
    "Section",
    "apply_env",
    "config_errors_as",
    "deep_merge",
    "env_name",
    "expand_dotted",
    "first_error",
    "leaf_paths",
    "parse_duration",
    "read_config_file",
]


class ConfigFileError(Exception):
    """A config problem: ``key`` is the key path ("" for the file as a whole)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"[{key}]: {message}" if key else message)


@contextmanager
def config_errors_as(error: Callable[[str, str], Exception]) -> Iterator[None]:
    """Raise ``error(key, message)`` for a :class:`ConfigFileError` raised inside the block."""
    try:
        yield
    except ConfigFileError as exc:
        raise error(exc.key, exc.message) from None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: object) -> float:
    """Seconds from a number (seconds) or a string such as ``"500ms"``, ``"5s"``, ``"2h"``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 5s, 500ms or 2h")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ValueError("expected a duration such as 5s, 500ms or 2h")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""A duration in seconds; config files may write ``"5s"``, ``"500ms"`` or a number of seconds."""


class Section(BaseModel):
    """Base of config sections: unknown keys are errors, aliases and field names both work."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ApiKeyConfig(Section):
    """One API key: only its SHA-256 hash is kept (``sha256:<hex>``)."""

    name: str = Field(min_length=1, max_length=200)
    role: Literal["admin", "viewer"]
    hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")


class AuthConfig(Section):
    api_keys: tuple[ApiKeyConfig, ...] = Field(default=(), alias="apiKeys")


def read_config_file(
    source: Mapping[str, Any] | str | os.PathLike[str] | None, default_path: Path
) -> dict[str, Any]:
    """A mapping as given, a YAML file, or ``default_path`` if it exists; dotted keys expanded."""
    if source is None:
        if not default_path.is_file():
            return {}
        source = default_path
    if isinstance(source, Mapping):
        return expand_dotted(copy.deepcopy(dict(source)))
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError("", f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigFileError("", f"config file {path} is not valid YAML{line}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigFileError(
            "", f"config file {path} must hold a mapping of keys, not a list or value"
        )
    return expand_dotted(data)


def expand_dotted(data: Mapping[Any, Any]) -> dict[str, Any]:
    """``server.port: 1`` means ``server: {port: 1}``; both forms may be mixed."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise ConfigFileError(str(key), "keys must be strings")
        node = out
        *parents, last = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigFileError(key, "conflicts with a value given for a parent key")
            node = child
        value = expand_dotted(value) if isinstance(value, Mapping) else value
        if isinstance(node.get(last), dict) and isinstance(value, dict):
            node[last] = deep_merge(node[last], value)
        else:
            node[last] = value
    return out


def deep_merge(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``patch`` merged in, mappings key by key (neither argument changes)."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def leaf_paths(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every settable key path of a config model (aliases, dotted)."""
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from leaf_paths(annotation, key + ".")
        else:
            yield key


def env_name(prefix: str, path: str) -> str:
    """The variable that overrides a key path: ``env_name("X_", "a.bC") == "X_A_BC"``."""
    return prefix + path.replace(".", "_").upper()


def apply_env(
    raw: dict[str, Any],
    env: Mapping[str, str],
    prefix: str,
    known_paths: Iterable[str],
    reserved: Iterable[str] = (),
) -> dict[str, Any]:
    """``raw`` with every variable named ``prefix*`` (any case) set at its key path.

    Variables in ``reserved`` are skipped; any other one that names no key in ``known_paths`` is
    an error. Values are strings; ``[…]`` and ``{…}`` are read as JSON, ``null`` and ``~`` as None.
    """
    by_env = {env_name(prefix, path): path for path in known_paths}
    skipped = {name.upper() for name in reserved}
    out = copy.deepcopy(raw)
    for name, value in sorted(env.items()):
        upper = name.upper()
        if not upper.startswith(prefix) or upper in skipped:
            continue
        path = by_env.get(upper)
        if path is None:
            raise ConfigFileError(name, "environment variable matches no config key")
        node = out
        *parents, last = path.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
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


def first_error(exc: ValidationError, prefix: str = "") -> ConfigFileError:
    """The first problem of a validation, as one line naming its key (under ``prefix``)."""
    error = exc.errors()[0]
    loc = ".".join(str(part) for part in error["loc"])
    key = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
    if error["type"] == "extra_forbidden":
        return ConfigFileError(key, "unknown key")
    shown = json.dumps(error.get("input"), default=str)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ConfigFileError(key, f"got {shown}: {str(error['msg']).removeprefix('Value error, ')}")
