from __future__ import annotations

import base64

import pytest

from telemetry_service.wire import DecryptionError, MalformedPayloadError
from telemetry_service.wire.aes import decrypt_payload, derive_key, encrypt_payload, seal_with_key

# Computed with node 20's crypto module exactly as @elastic/node-crypto does it:
# pbkdf2Sync(passphrase, salt, 10000, 32, 'sha512'), aes-256-gcm, base64(salt|iv|tag|ct).
PASSPHRASE = bytes(range(32))
SALT = bytes([7]) * 64
IV = bytes(range(100, 112))
PLAINTEXT = '{"a":"naïve ☃","n":[1,2.5]}'.encode()
EXPECTED_KEY = "520098ad707c045e22f581083fe05e1701c69095ec4bc371a6a978adc33334aa"
EXPECTED = (
    "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHB2Rl"
    "ZmdoaWprbG1ub85YcqWluW9JUgxGLLbfuEXCLbvIiiQl9Dqq4PIGwjgXQj8i9eFzzc/7V466yLs="
)


def test_known_answer_from_node() -> None:
    assert derive_key(PASSPHRASE, SALT).hex() == EXPECTED_KEY
    assert encrypt_payload(PASSPHRASE, PLAINTEXT, salt=SALT, iv=IV) == EXPECTED
    assert decrypt_payload(PASSPHRASE, EXPECTED) == PLAINTEXT


def test_layout_is_salt_iv_tag_ciphertext() -> None:
    raw = base64.b64decode(encrypt_payload(PASSPHRASE, PLAINTEXT))
    assert len(raw) == 64 + 12 + 16 + len(PLAINTEXT)


def test_random_salt_and_iv_each_time() -> None:
    first = base64.b64decode(encrypt_payload(PASSPHRASE, PLAINTEXT))
    second = base64.b64decode(encrypt_payload(PASSPHRASE, PLAINTEXT))
    assert first[:76] != second[:76]
    assert decrypt_payload(PASSPHRASE, base64.b64encode(second).decode()) == PLAINTEXT


@pytest.mark.parametrize(
    ("part", "offset"), [("salt", 3), ("iv", 64 + 5), ("tag", 76 + 1), ("ciphertext", 92 + 2)]
)
def test_a_flipped_byte_in_any_part_fails_authentication(part: str, offset: int) -> None:
    raw = bytearray(base64.b64decode(EXPECTED))
    raw[offset] ^= 0x01
    with pytest.raises(DecryptionError):
        decrypt_payload(PASSPHRASE, base64.b64encode(raw).decode())


def test_wrong_passphrase_fails_authentication() -> None:
    with pytest.raises(DecryptionError):
        decrypt_payload(bytes(32), EXPECTED)


@pytest.mark.parametrize("encoded", ["not base64!", "QUJD", EXPECTED[:-4] + "-_-_", "é"])
def test_malformed_input(encoded: str) -> None:
    with pytest.raises(MalformedPayloadError):
        decrypt_payload(PASSPHRASE, encoded)


def test_rejects_bad_salt_or_iv_sizes() -> None:
    with pytest.raises(ValueError, match="salt"):
        encrypt_payload(PASSPHRASE, PLAINTEXT, salt=b"short", iv=IV)


@pytest.mark.parametrize("cut", [0, 1, 5, 16, len(PLAINTEXT)])
def test_pieces_are_sealed_as_their_join(cut: int) -> None:
    key = derive_key(PASSPHRASE, SALT)
    pieces = [PLAINTEXT[:cut], PLAINTEXT[cut:]]
    assert seal_with_key(key, SALT, pieces, iv=IV).decode() == EXPECTED
    assert seal_with_key(key, SALT, PLAINTEXT, iv=IV).decode() == EXPECTED
