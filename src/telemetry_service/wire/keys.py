"""Key sets (JWKS): loading, validation and generation of RSA key pairs.

A usable key is ``kty: RSA`` with a unique ``kid``, ``use`` absent or ``enc``, ``alg`` absent,
``RSA-OAEP`` or ``RSA-OAEP-256``, and a modulus of at least 2048 bits. Members are written in
node-jose's order (``kty, kid, use, alg, e, n, d, p, q, dp, dq, qi``); other members are dropped.
"""

from __future__ import annotations

import binascii
import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeAlias

import orjson
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from .envelope import b64url_decode
from .errors import KeySetError, UnknownKeyError

__all__ = [
    "DEFAULT_KEY_WRAP",
    "KEY_WRAP_ALGORITHMS",
    "JWKSSource",
    "KeyPair",
    "LoadedKey",
    "generate_key_pair",
    "load_jwks",
    "load_key_set",
    "load_keys",
    "select_key",
]

RSA_OAEP = "RSA-OAEP"
RSA_OAEP_256 = "RSA-OAEP-256"
#: Key wraps of request-crypto: 2.x uses RSA-OAEP (SHA-1), 3.x RSA-OAEP-256.
KEY_WRAP_ALGORITHMS = (RSA_OAEP, RSA_OAEP_256)
#: The key wrap of a key without ``alg`` (node-jose's first choice for RSA keys).
DEFAULT_KEY_WRAP = RSA_OAEP
MIN_KEY_BITS = 2048
GENERATED_KEY_BITS = (2048, 3072, 4096)

_META_MEMBERS = ("kty", "kid", "use", "alg")
_PUBLIC_MEMBERS = ("e", "n")
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")

#: A key set: a mapping, JSON text (bytes, or a str starting with ``{``), or a file path.
JWKSSource: TypeAlias = Mapping[str, Any] | str | bytes | os.PathLike[str]


class KeyPair(NamedTuple):
    """A generated key pair, each half a JWKS dict holding one key."""

    private_jwks: dict[str, Any]
    public_jwks: dict[str, Any]


@dataclass(frozen=True, repr=False)
class LoadedKey:
    """One validated key: its id, declared ``alg`` (or None) and the joserfc key."""

    kid: str
    alg: str | None
    key: RSAKey

    def __repr__(self) -> str:
        return f"LoadedKey(kid={self.kid!r}, alg={self.alg!r})"


def load_jwks(source: JWKSSource, *, private: bool = False) -> dict[str, Any]:
    """Read and validate a key set; return it as a normalized JWKS dict.

    With ``private=False`` the result holds the public members only (private members are
    dropped). With ``private=True`` every key must carry its private members.
    Raises :class:`KeySetError` naming the key (by position and kid), never its material.
    """
    return {"keys": [jwk for jwk, _ in _validated(source, private=private)]}


def load_keys(source: JWKSSource, *, private: bool) -> dict[str, LoadedKey]:
    """Validate a key set and import its keys, by kid."""
    return load_key_set(source, private=private)[1]


def load_key_set(
    source: JWKSSource, *, private: bool
) -> tuple[dict[str, Any], dict[str, LoadedKey]]:
    """Read `source` once: the public JWKS dict and the imported keys by kid."""
    entries = _validated(source, private=private)
    public = {"keys": [_public_part(jwk) for jwk, _ in entries]}
    return public, {loaded.kid: loaded for _, loaded in entries}


def select_key(keys: Mapping[str, LoadedKey], kid: str | None) -> LoadedKey:
    """The key named `kid`, or :class:`UnknownKeyError`."""
    if kid is None or kid not in keys:
        raise UnknownKeyError(kid)
    return keys[kid]


def generate_key_pair(kid: str, alg: str = RSA_OAEP, bits: int = 2048) -> KeyPair:
    """Generate an RSA key pair for the wire format (``use: enc``, e = 65537)."""
    if not isinstance(kid, str) or not kid:
        raise ValueError("kid must be a non-empty string")
    if alg not in KEY_WRAP_ALGORITHMS:
        raise ValueError(f"alg must be one of {', '.join(KEY_WRAP_ALGORITHMS)}")
    if bits not in GENERATED_KEY_BITS:
        raise ValueError(f"bits must be one of {', '.join(map(str, GENERATED_KEY_BITS))}")
    material = RSAKey.generate_key(bits, private=True).as_dict(private=True)
    private_jwk = _ordered({"kty": "RSA", "kid": kid, "use": "enc", "alg": alg, **material})
    return KeyPair({"keys": [private_jwk]}, {"keys": [_public_part(private_jwk)]})


def _read(source: JWKSSource) -> object:
    """Parse `source` into a JSON value."""
    if isinstance(source, Mapping):
        return copy.deepcopy(dict(source))
    text: str | bytes
    if isinstance(source, bytes) or (isinstance(source, str) and source.lstrip()[:1] in ("{", "[")):
        text = source  # JSON text: bytes always, a str when it starts with { or [
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise KeySetError(f"cannot read key set file {str(path)!r}: {exc.strerror}") from None
    else:
        raise KeySetError(f"a key set cannot be read from {type(source).__name__}")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise KeySetError("the key set is not valid JSON") from None


def _validated(source: JWKSSource, *, private: bool) -> list[tuple[dict[str, Any], LoadedKey]]:
    document = _read(source)
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeySetError('a key set must be a JSON object with a "keys" list')
    if not document["keys"]:
        raise KeySetError("the key set holds no keys")
    result: list[tuple[dict[str, Any], LoadedKey]] = []
    seen: set[str] = set()
    for index, jwk in enumerate(document["keys"]):
        entry = _validate_key(index, jwk, private=private)
        if entry[1].kid in seen:
            raise KeySetError(f"key #{index}: duplicate kid {entry[1].kid!r}")
        seen.add(entry[1].kid)
        result.append(entry)
    return result


def _validate_key(index: int, jwk: object, *, private: bool) -> tuple[dict[str, Any], LoadedKey]:
    if not isinstance(jwk, dict):
        raise KeySetError(f"key #{index}: must be a JSON object")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise KeySetError(f"key #{index}: kid must be a non-empty string")
    where = f"key #{index} (kid {kid[:64]!r})"
    if jwk.get("kty") != "RSA":
        raise KeySetError(f'{where}: kty must be "RSA"')
    if jwk.get("use", "enc") != "enc":
        raise KeySetError(f'{where}: use must be "enc" or absent')
    alg = jwk.get("alg")
    if alg is not None and alg not in KEY_WRAP_ALGORITHMS:
        raise KeySetError(f"{where}: alg must be absent or one of {', '.join(KEY_WRAP_ALGORITHMS)}")
    wanted = _PUBLIC_MEMBERS + (_PRIVATE_MEMBERS if private else ())
    for member in wanted:
        if not isinstance(jwk.get(member), str) or not jwk[member]:
            kind = "private key" if member in _PRIVATE_MEMBERS else "key"
            raise KeySetError(f"{where}: {kind} member {member!r} is missing")
    material = {m: jwk[m] for m in wanted}
    try:
        modulus_bits = int.from_bytes(b64url_decode(jwk["n"]), "big").bit_length()
    except (binascii.Error, ValueError):
        raise KeySetError(f"{where}: not a valid RSA key") from None
    if modulus_bits < MIN_KEY_BITS:
        raise KeySetError(f"{where}: the modulus must have at least {MIN_KEY_BITS} bits")
    try:
        key = RSAKey.import_key({"kty": "RSA", **material})
    except (JoseError, ValueError, TypeError):
        raise KeySetError(f"{where}: not a valid RSA key") from None
    normalized = _ordered({m: jwk[m] for m in _META_MEMBERS if m in jwk} | material)
    return normalized, LoadedKey(kid=kid, alg=alg, key=key)


def _public_part(jwk: Mapping[str, Any]) -> dict[str, Any]:
    """`jwk` without its private members."""
    return {k: v for k, v in jwk.items() if k not in _PRIVATE_MEMBERS}


def _ordered(jwk: Mapping[str, Any]) -> dict[str, Any]:
    """The known members of `jwk`, in node-jose's order."""
    order = _META_MEMBERS + _PUBLIC_MEMBERS + _PRIVATE_MEMBERS
    return {m: jwk[m] for m in order if m in jwk}
