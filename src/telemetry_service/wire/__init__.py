"""Wire format of the telemetry payloads, byte-compatible with ``@elastic/request-crypto``.

A body is ``base64url(JSON {"encryptedAESKey": JWE, "encryptedPayload": base64})``: the payload
under AES-256-GCM with a PBKDF2-SHA512 key derived from a random 32-byte passphrase, and the
passphrase in a compact JWE for the receiver's RSA key (``RSA-OAEP`` as in request-crypto 2.x,
or ``RSA-OAEP-256`` as in 3.x; ``A128CBC-HS256``; ``zip: DEF``).

>>> pair = generate_key_pair("k1")
>>> body = Encryptor(pair.public_jwks, "k1").encrypt({"hello": "world"})
>>> Decryptor(pair.private_jwks).decrypt(body)
b'{"hello":"world"}'

The channels, URLs, headers and export format of both ends are in :mod:`.protocol`.
This package imports nothing else of telemetry_service.
"""

from __future__ import annotations

from .decryptor import (
    DEFAULT_MAX_INFLATED_BYTES,
    DEFAULT_MAX_INPUT_BYTES,
    Decryptor,
    DecryptResult,
)
from .encryptor import Encryptor
from .errors import (
    DecryptionError,
    InflateLimitError,
    KeySetError,
    MalformedPayloadError,
    PayloadTooLargeError,
    UnknownKeyError,
    WireError,
)
from .jsonc import compact_json
from .keys import (
    DEFAULT_KEY_WRAP,
    KEY_WRAP_ALGORITHMS,
    JWKSSource,
    KeyPair,
    generate_key_pair,
    load_jwks,
)
from .protocol import CONTENT_ENCODING
from .protocol import HEADER_CONTENT_ENCODING as CONTENT_ENCODING_HEADER

__all__ = [
    "CONTENT_ENCODING",
    "CONTENT_ENCODING_HEADER",
    "DEFAULT_KEY_WRAP",
    "DEFAULT_MAX_INFLATED_BYTES",
    "DEFAULT_MAX_INPUT_BYTES",
    "KEY_WRAP_ALGORITHMS",
    "DecryptResult",
    "DecryptionError",
    "Decryptor",
    "Encryptor",
    "InflateLimitError",
    "JWKSSource",
    "KeyPair",
    "KeySetError",
    "MalformedPayloadError",
    "PayloadTooLargeError",
    "UnknownKeyError",
    "WireError",
    "compact_json",
    "generate_key_pair",
    "load_jwks",
]
