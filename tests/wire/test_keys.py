from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

from telemetry_service.wire import KeyPair, KeySetError, generate_key_pair, load_jwks
from telemetry_service.wire.keys import load_keys

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


def test_generated_pair_shape(oaep_pair: KeyPair) -> None:
    (private,) = oaep_pair.private_jwks["keys"]
    (public,) = oaep_pair.public_jwks["keys"]
    assert list(private) == ["kty", "kid", "use", "alg", "e", "n", "d", "p", "q", "dp", "dq", "qi"]
    assert list(public) == ["kty", "kid", "use", "alg", "e", "n"]
    assert private["kid"] == public["kid"] == "kid-oaep"
    assert (private["kty"], private["use"], private["alg"], private["e"]) == (
        "RSA",
        "enc",
        "RSA-OAEP",
        "AQAB",
    )
    assert {k: private[k] for k in public} == public
    assert RSAKey.import_key(public).get_op_key("encrypt").key_size == 2048


def test_generates_4096_bit_rsa_oaep_256_keys() -> None:
    pair = generate_key_pair("big", alg="RSA-OAEP-256", bits=4096)
    (public,) = pair.public_jwks["keys"]
    assert public["alg"] == "RSA-OAEP-256"
    assert RSAKey.import_key(public).get_op_key("encrypt").key_size == 4096
    assert load_keys(pair.private_jwks, private=True)["big"].key.is_private


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kid": ""}, "kid"),
        ({"kid": "k", "alg": "RSA1_5"}, "alg"),
        ({"kid": "k", "bits": 1024}, "bits"),
    ],
)
def test_generate_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_key_pair(**kwargs)


def test_load_from_dict_json_text_bytes_and_paths(tmp_path: Path, oaep_pair: KeyPair) -> None:
    text = json.dumps(oaep_pair.public_jwks)
    file = tmp_path / "public.jwks.json"
    file.write_text(text)
    sources: list[Any] = [
        oaep_pair.public_jwks,
        text,
        "\n  " + text,
        text.encode(),
        file,
        str(file),
    ]
    for source in sources:
        assert load_jwks(source) == oaep_pair.public_jwks


def test_public_load_drops_private_members(oaep_pair: KeyPair) -> None:
    loaded = load_jwks(oaep_pair.private_jwks)
    assert loaded == oaep_pair.public_jwks
    assert not PRIVATE_MEMBERS & set(loaded["keys"][0])


def test_private_load_keeps_private_members_and_unknown_ones_are_dropped(
    oaep_pair: KeyPair,
) -> None:
    jwks = {"keys": [{**oaep_pair.private_jwks["keys"][0], "x5c": ["..."], "ext": True}]}
    assert load_jwks(jwks, private=True) == oaep_pair.private_jwks


def test_input_is_not_modified(oaep_pair: KeyPair) -> None:
    jwks = json.loads(json.dumps(oaep_pair.private_jwks))
    load_jwks(jwks)
    assert jwks == oaep_pair.private_jwks


def test_key_without_alg_or_use_is_accepted(oaep_pair: KeyPair) -> None:
    bare = {k: v for k, v in oaep_pair.public_jwks["keys"][0].items() if k not in ("alg", "use")}
    assert load_jwks({"keys": [bare]}) == {"keys": [bare]}
    assert load_keys({"keys": [bare]}, private=False)["kid-oaep"].alg is None


def _replace(pair: KeyPair, **changes: Any) -> dict[str, Any]:
    key = {**pair.private_jwks["keys"][0], **changes}
    return {"keys": [{k: v for k, v in key.items() if v is not None}]}


def _small_key() -> dict[str, Any]:
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    n = numbers.public_numbers().n.to_bytes(128, "big")
    return {"kty": "RSA", "kid": "small", "e": "AQAB", "n": base64.urlsafe_b64encode(n).decode()}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda p: "[]", "JSON object"),
        (lambda p: {"keys": []}, "no keys"),
        (lambda p: {"keys": ["x"]}, "JSON object"),
        (lambda p: _replace(p, kid=None), "kid must be"),
        (lambda p: _replace(p, kty="EC"), "kty"),
        (lambda p: _replace(p, use="sig"), "use"),
        (lambda p: _replace(p, alg="RSA1_5"), "alg"),
        (lambda p: _replace(p, n=None), "'n' is missing"),
        (lambda p: _replace(p, n="AQAB"), "at least 2048 bits"),
        (lambda p: _replace(p, n="!!"), "not a valid RSA key"),
        (lambda p: {"keys": [_small_key()]}, "at least 2048 bits"),
        (lambda p: {"keys": [p.private_jwks["keys"][0]] * 2}, "duplicate kid"),
    ],
)
def test_invalid_key_sets_are_refused_without_key_material(
    oaep_pair: KeyPair, build: Any, message: str
) -> None:
    with pytest.raises(KeySetError, match=message) as caught:
        load_jwks(build(oaep_pair))
    text = str(caught.value)
    private = oaep_pair.private_jwks["keys"][0]
    assert all(private[m][:16] not in text for m in ("n", "d", "p", "q"))


def test_private_load_needs_private_members(oaep_pair: KeyPair) -> None:
    with pytest.raises(KeySetError, match="private key member 'd' is missing"):
        load_jwks(oaep_pair.public_jwks, private=True)


def test_unreadable_sources(tmp_path: Path) -> None:
    with pytest.raises(KeySetError, match="cannot read key set file"):
        load_jwks(tmp_path / "missing.json")
    with pytest.raises(KeySetError, match="not valid JSON"):
        load_jwks('{"keys": [')
    with pytest.raises(KeySetError, match="cannot be read from int"):
        load_jwks(42)  # type: ignore[arg-type]
    assert isinstance(KeySetError("x"), ValueError)


def test_private_key_with_bad_private_members(oaep_pair: KeyPair) -> None:
    with pytest.raises(KeySetError, match="not a valid RSA key"):
        load_jwks(_replace(oaep_pair, d="AAAA"), private=True)
