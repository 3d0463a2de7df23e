"""The SIMD base64 paths (pybase64) accept and refuse exactly what the stdlib paths did."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from telemetry_service.wire import MalformedPayloadError, aes
from telemetry_service.wire.envelope import b64decode_strict, b64url_decode

_URL_TO_STD = bytes.maketrans(b"-_", b"+/")


def stdlib_b64url_decode(data: bytes) -> bytes:
    """``b64url_decode`` as it was before pybase64 (binascii only)."""
    if len(data) % 4 == 1:
        raise binascii.Error("invalid base64url length")
    padded = data + b"=" * (-len(data) % 4)
    return binascii.a2b_base64(padded.translate(_URL_TO_STD), strict_mode=True)


def outcome(decode: Callable[[Any], bytes], data: object) -> bytes | type[BaseException]:
    try:
        return decode(data)
    except (ValueError, MalformedPayloadError) as exc:
        return type(exc)


# Text near base64: valid encodings, cut, padded too much or too little, with foreign bytes.
ALPHABET = b"ABCDYZabyz0189+/-_= \n\x00\xff"
near_base64 = st.one_of(
    st.binary(max_size=16).map(base64.b64encode),
    st.binary(max_size=16).map(lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=")),
    st.lists(st.sampled_from(ALPHABET), max_size=16).map(bytes),
    st.tuples(st.binary(max_size=12), st.text("=+/-_ \n", max_size=3), st.integers(0, 20)).map(
        lambda t: (lambda s: s[: t[2]] + t[1].encode() + s[t[2] :])(base64.b64encode(t[0]))
    ),
)
# An example takes microseconds: a machine stalled by other work is no failure.
no_deadline = settings(deadline=None)


@no_deadline
@given(near_base64)
@example(b"YWJj=")  # excess padding: strict_mode and validate=True read it, pybase64 does not
@example(b"YWJj==")
@example(b"YQ=")
@example(b"-_-_")
@example(b"+/+/")
def test_payload_base64_reads_what_validate_true_reads(data: bytes) -> None:
    expected = outcome(lambda d: base64.b64decode(d, validate=True), data)
    got = outcome(aes.b64decode, data)
    if isinstance(expected, bytes):
        assert got == expected
    else:
        assert got is MalformedPayloadError


@no_deadline
@given(near_base64)
def test_the_simd_decoder_accepts_a_subset_of_strict_mode_with_the_same_result(
    data: bytes,
) -> None:
    got = outcome(b64decode_strict, data)
    if isinstance(got, bytes):
        assert got == binascii.a2b_base64(data, strict_mode=True)
        assert got == base64.b64decode(data, validate=True)


@no_deadline
@given(near_base64)
@example(b"YQ==")  # padding is optional in base64url
@example(b"+/+/")  # the standard alphabet's two characters are read too, as before
@example(b"abcde")  # a length of 4n + 1
def test_body_base64url_reads_what_the_binascii_path_read(data: bytes) -> None:
    assert outcome(b64url_decode, data) == outcome(stdlib_b64url_decode, data)


@pytest.mark.parametrize("text", ["é", "YQ==\u00e9"])
def test_non_ascii_text_is_refused_as_before(text: str) -> None:
    with pytest.raises(UnicodeEncodeError):
        b64url_decode(text)
    with pytest.raises(MalformedPayloadError, match="not valid base64"):
        aes.b64decode(text)


@no_deadline
@given(near_base64)
def test_ascii_text_is_read_as_its_bytes(data: bytes) -> None:
    """Text goes to pybase64 as it is (no copy into bytes); the outcome is that of its bytes."""
    text = data.decode("latin-1")
    if not text.isascii():
        return
    assert outcome(b64url_decode, text) == outcome(stdlib_b64url_decode, data)
    assert outcome(aes.b64decode, text) == outcome(aes.b64decode, data)
