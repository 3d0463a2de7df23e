"""The packed body: base64url (no padding) of ``{"encryptedAESKey","encryptedPayload"}``.

request-crypto writes ``JSON.stringify({encryptedAESKey, encryptedPayload})`` in this key order
and encodes it with node-jose's ``base64url`` (no padding). This string is the HTTP body.

Bodies reach megabytes, so the encryptor and decryptor use the byte-level :func:`pack_parts` and
:func:`unpack_parts`: a body in exactly request-crypto's layout is cut apart without a JSON parser
(any other layout is parsed as JSON, as before).
"""

from __future__ import annotations

import binascii
import re

import orjson
import pybase64

from .errors import MalformedPayloadError

__all__ = [
    "b64decode_strict",
    "b64encode",
    "b64url_decode",
    "b64url_encode",
    "pack_body",
    "pack_parts",
    "unpack_body",
    "unpack_parts",
]

_URL_TO_STD = bytes.maketrans(b"-_", b"+/")
_URL_ALPHABET = b"-_"
_HEAD = b'{"encryptedAESKey":"'
_MIDDLE = b'","encryptedPayload":"'
_TAIL = b'"}'
# What a JSON string may not hold unescaped, or what would need unescaping.
_NOT_PLAIN = re.compile(rb'[\x00-\x1f"\\\x80-\xff]')
#: A byte outside both alphabets and padding: ``a2b_base64(strict_mode=True)`` refuses it.
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/_=-]")


def b64encode(data: bytes | memoryview) -> bytes:
    """Padded standard base64 of `data` (pybase64's SIMD encoder: about 1 ms for 6 MB, so
    the GIL is not held long enough to stall an event loop in another thread)."""
    return pybase64.b64encode(data)


def b64url_encode(data: bytes) -> str:
    """base64url without padding."""
    return pybase64.b64encode_as_string(data, _URL_ALPHABET, padded=False)


def b64url_decode(text: str | bytes) -> bytes:
    """Strict base64url decoding; padding is optional.

    Raises ``binascii.Error`` (or ``UnicodeEncodeError`` for non-ASCII text), both ValueErrors.
    Input in the url-safe alphabet takes pybase64's SIMD decoder; what it refuses goes through
    the ``binascii`` path, which alone decides what else is accepted (``+`` and ``/``, for
    one), so the accepted inputs and the errors are what they always were. A byte that no
    base64 alphabet holds is refused before that path copies the text (twice: a hostile body
    of random bytes is megabytes).
    """
    padded: str | bytes
    if isinstance(text, str):  # pybase64 reads ASCII text as it is: no copy into bytes
        simd = "+" not in text and "/" not in text
        padded = text + "=" * (-len(text) % 4) if simd else text
    else:
        simd = b"+" not in text and b"/" not in text
        padded = text + b"=" * (-len(text) % 4) if simd else text
    if simd:  # pybase64 reads "+" and "/" too, but warns that this will become an error
        try:
            return pybase64.b64decode(padded, _URL_ALPHABET, validate=True)
        except ValueError:
            pass
    data = text.encode("ascii") if isinstance(text, str) else text
    if len(data) % 4 == 1:
        raise binascii.Error("invalid base64url length")
    if _NOT_BASE64.search(data):
        raise binascii.Error("a character outside base64 and base64url")
    return binascii.a2b_base64(
        (data + b"=" * (-len(data) % 4)).translate(_URL_TO_STD), strict_mode=True
    )


def b64decode_strict(data: str | bytes | memoryview) -> bytes:
    """Strict standard base64 with pybase64's SIMD decoder; raises ``binascii.Error``.

    It accepts a subset of what ``a2b_base64(strict_mode=True)`` and ``base64.b64decode(
    validate=True)`` accept (it refuses excess padding such as ``"YWJj="``), with the same
    result: callers fall back to those for what it refuses (tests/wire/test_envelope.py).
    """
    return pybase64.b64decode(data, validate=True)


def pack_body(encrypted_key: str, encrypted_payload: str) -> str:
    """Pack the two parts into the body string."""
    document = {"encryptedAESKey": encrypted_key, "encryptedPayload": encrypted_payload}
    return b64url_encode(orjson.dumps(document))


def pack_parts(encrypted_key: bytes, encrypted_payload: bytes) -> str:
    """:func:`pack_body` of parts that are base64 or base64url text already (ASCII that JSON
    writes as it is: the caller makes them so), without a JSON writer."""
    return b64url_encode(b"".join((_HEAD, encrypted_key, _MIDDLE, encrypted_payload, _TAIL)))


def unpack_body(body: str | bytes) -> tuple[str, str]:
    """Return ``(encryptedAESKey, encryptedPayload)`` of a body (surrounding whitespace ignored)."""
    return _parse(_decode_body(body))


def unpack_parts(body: str | bytes) -> tuple[str, bytes | str]:
    """``(encryptedAESKey, payload)``: the payload already base64-decoded when the body has
    request-crypto's exact layout and a strict base64 payload, else its text (as
    :func:`unpack_body`; the caller decodes it then, with the same outcome as before)."""
    raw = _decode_body(body)
    middle = raw.find(_MIDDLE, len(_HEAD))
    fits = len(_HEAD) <= middle <= len(raw) - len(_MIDDLE) - len(_TAIL)
    if fits and raw.startswith(_HEAD) and raw.endswith(_TAIL):
        key = raw[len(_HEAD) : middle]
        if not _NOT_PLAIN.search(key):
            try:
                view = memoryview(raw)[middle + len(_MIDDLE) : -len(_TAIL)]
                return key.decode("ascii"), b64decode_strict(view)
            except ValueError:
                pass  # escapes, other members, lenient padding: parse it as JSON
    return _parse(raw)


def _decode_body(body: str | bytes) -> bytes:
    try:
        return b64url_decode(body.strip())
    except ValueError:
        raise MalformedPayloadError("the body is not valid base64url") from None


def _parse(raw: bytes) -> tuple[str, str]:
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
