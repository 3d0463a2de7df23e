"""The privacy rules of the public statistics, enforced here and nowhere else.

What ``/public`` publishes is built only from these functions, so that no figure can single out
a deployment:

- **No identity, no free text.** The only strings published are the vendor's own words from the
  config (field paths, titles, the allow-listed keyword values of ``public.fields``, the event
  types of ``public.events``), UTC dates, and versions of the form ``MAJOR.MINOR[.PATCH]`` with
  an optional ``-alpha``/``-beta``/``-rc``/``-snapshot`` suffix. A cluster's uuid, name, labels,
  address or any other value it sent as text is never read into a published string:
  :func:`check_field` refuses at config load a field whose values could be free text (a
  ``keyword`` field without its list of ``values``, or a field named like an identity: ``*_id``,
  ``*uuid``, ``*name``, ``label``, ``ip``, ``host``, ``url``, ``email``, …), and
  :func:`check_word` refuses listed values and event types that look like identifiers (UUIDs,
  long hex strings, IP addresses, anything but short words of letters, digits, ``._+-``).
- **Every bucket holds at least k deployments** (``public.minClusters``). :func:`fold` names a
  value only when at least k deployments have it; the others go to an anonymous ``other``
  bucket, itself published only when it holds 0 or at least k deployments (else ``null``).
- **Numbers are counts and quantiles over at least k deployments**: :func:`count` publishes a
  count of at least k (else ``null``), :func:`over` any figure about at least k deployments
  (an event type's events on a day), :func:`quantiles` the 25th, 50th, 75th and 90th
  percentiles of at least k values (never a minimum, maximum or single value), :func:`share` a
  split whose both sides hold at least k.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, TypeVar

from ..analysis import parse_field_path, percentile

__all__ = [
    "FIELD_KINDS",
    "IDENTITY_WORDS",
    "QUANTILES",
    "FieldKind",
    "check_field",
    "check_word",
    "count",
    "fold",
    "is_version",
    "over",
    "quantiles",
    "share",
]

T = TypeVar("T")
FieldKind = Literal["keyword", "boolean", "number"]
FIELD_KINDS: tuple[FieldKind, ...] = ("keyword", "boolean", "number")
QUANTILES = (25, 50, 75, 90)
#: Words of a field name that say its values identify or describe one deployment.
IDENTITY_WORDS = frozenset(
    {
        "uuid", "guid", "id", "ids", "name", "names", "label", "labels", "ip", "ips", "ipv4",
        "ipv6", "host", "hosts", "hostname", "hostnames", "address", "addresses", "email",
        "emails", "url", "urls", "uri", "path", "paths", "title", "description", "message",
        "comment", "text", "tag", "tags", "username", "user", "owner", "fqdn", "domain",
    }
)  # fmt: skip
_MAX_WORD = 64
_WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_HEX_RUN = re.compile(r"[0-9a-fA-F]{16,}")
_UUID = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)
_IPV4 = re.compile(r"(^|[^0-9])\d{1,3}(\.\d{1,3}){3}($|[^0-9])")
_VERSION = re.compile(r"^\d{1,4}\.\d{1,4}(\.\d{1,4})?(-(alpha|beta|rc|snapshot)\.?\d{0,4})?$", re.I)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _words(segment: str) -> list[str]:
    return [w.lower() for w in re.split(r"[_\-\s]+", _CAMEL.sub("_", segment)) if w]


def check_word(value: str, what: str) -> None:
    """Raise ValueError unless `value` is a short word that cannot be an identifier."""
    if not 0 < len(value) <= _MAX_WORD or not _WORD.match(value):
        raise ValueError(
            f"{what} {value!r} must be 1 to {_MAX_WORD} letters, digits or '._+-', "
            "starting with a letter or digit"
        )
    if _UUID.search(value) or _HEX_RUN.search(value) or _IPV4.search(value):
        raise ValueError(f"{what} {value!r} looks like an identifier or an address")


def check_field(path: str, kind: str, values: Sequence[str]) -> None:
    """Refuse a ``public.fields`` entry whose values could identify a deployment or be free
    text (ValueError saying why): see the module docstring."""
    segments = parse_field_path(path)
    identity = IDENTITY_WORDS.intersection(_words(segments[-1]))
    if identity:
        raise ValueError(
            f"{path!r} names an identity or free text ({', '.join(sorted(identity))}): "
            "such values are never published"
        )
    if kind == "keyword":
        if not values:
            raise ValueError(
                f"{path!r} is a keyword field: its values are free text unless you list the "
                "ones that may be published in `values` (the others count as other)"
            )
        for value in values:
            check_word(value, f"value of {path!r}")
        if len(set(values)) != len(values):
            raise ValueError(f"the values of {path!r} must be unique")
    elif values:
        raise ValueError(f"`values` is for keyword fields; {path!r} is a {kind} field")


def is_version(value: str | None) -> bool:
    """A version that may be named: ``8.13.0``, ``8.14``, ``9.0.0-rc1``, ``8.1.0-SNAPSHOT``."""
    return value is not None and bool(_VERSION.match(value))


def over(deployments: int, figure: T, k: int) -> T | None:
    """A figure about `deployments` deployments (their count, their events): published when
    they are at least `k`, else None."""
    return figure if deployments >= k else None


def count(deployments: int, k: int) -> int | None:
    """A count of deployments: published when it is at least `k`, else None."""
    return over(deployments, deployments, k)


def fold(
    counts: Iterable[tuple[str | None, int]], k: int, *, named: Callable[[str], bool]
) -> dict[str, Any]:
    """``{"buckets": [{"value", "deployments"}], "other": n}`` of (value, deployments)
    pairs, each value once: the values that `named`
    allows and at least `k` deployments share, the most common first; every other deployment
    (None too) in ``other``, itself None when it is between 1 and k - 1."""
    buckets: list[tuple[str, int]] = []
    other = 0
    for value, deployments in counts:
        if value is not None and deployments >= k and named(value):
            buckets.append((value, deployments))
        else:
            other += deployments
    buckets.sort(key=lambda item: (-item[1], item[0]))
    return {
        "buckets": [{"value": v, "deployments": n} for v, n in buckets],
        "other": other if other == 0 or other >= k else None,
    }


def quantiles(values: Iterable[float], k: int) -> dict[str, Any] | None:
    """``{"deployments": n, "quantiles": {"25": …, "90": …}}`` of the finite `values` (one per
    deployment), or None when fewer than `k` deployments hold one."""
    ordered = sorted(v for v in values if math.isfinite(v))
    if len(ordered) < k:
        return None
    return {
        "deployments": len(ordered),
        "quantiles": {str(q): percentile(ordered, q) for q in QUANTILES},
    }


def share(yes: int, no: int, k: int) -> dict[str, Any]:
    """``{"yes", "no", "share"}`` of a split of deployments; all None unless both sides hold
    at least `k` (a small side would otherwise be named by the difference)."""
    if yes >= k and no >= k:
        return {"yes": yes, "no": no, "share": yes / (yes + no)}
    return {"yes": None, "no": None, "share": None}
