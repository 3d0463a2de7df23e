"""The packed body: base64url (no padding) of ``{"encryptedAESKey","encryptedPayload"}``.

request-crypto writes ``JSON.stringify({encryptedAESKey, encryptedPayload})`` in this key order
and encodes it with node-jose's ``base64url`` (no padding). This string is the HTTP body.
"""

from __future__ import annotations

import base64
import binascii

import orjson

from .errors import MalformedPayloadError

__all__ = ["b64url_decode", "b64url_encode", "pack_body", "unpack_body"]

_URL_TO_STD = bytes.maketrans(b"-_", b"+/")


def b64url_encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str | bytes) -> bytes:
    """Strict base64url decoding; padding is optional.

    Raises ``binascii.Error`` (or ``UnicodeEncodeError`` for non-ASCII text), both ValueErrors.
    """
    data = text.encode("ascii") if isinstance(text, str) else text
    if len(data) % 4 == 1:
        raise binascii.Error("invalid base64url length")
    padded = data + b"=" * (-len(data) % 4)
    return binascii.a2b_base64(padded.translate(_URL_TO_STD), strict_mode=True)


def pack_body(encrypted_key: str, encrypted_payload: str) -> str:
    """Pack the two parts into the body string."""
    document = {"encryptedAESKey": encrypted_key, "encryptedPayload": encrypted_payload}
    return b64url_encode(orjson.dumps(document))


def unpack_body(body: str | bytes) -> tuple[str, str]:
    """Return ``(encryptedAESKey, encryptedPayload)`` of a body (surrounding whitespace ignored)."""
    try:
        raw = b64url_decode(body.strip())
    except ValueError:
        raise MalformedPayloadError("the body is not valid base64url") from None
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MalformedPayloadError("the body is not a JSON document") from None
    if not isinstance(document, dict):
        raise MalformedPayloadError("the body is not a JSON object")
    key, payload = document.get("encryptedAESKey"), document.get("encryptedPayload")
    if not isinstance(key, str) or not isinstance(payload, str):
        raise MalformedPayloadError(
            'the body needs string members "encryptedAESKey" and "encryptedPayload"'
        )
    return key, payload
