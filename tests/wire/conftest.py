from __future__ import annotations

from typing import Any

import pytest

from telemetry_service.wire import KeyPair, generate_key_pair


@pytest.fixture(scope="session")
def oaep_pair() -> KeyPair:
    """A 2048-bit key stamped RSA-OAEP (request-crypto 2.x)."""
    return generate_key_pair("kid-oaep", alg="RSA-OAEP")


@pytest.fixture(scope="session")
def oaep256_pair() -> KeyPair:
    """A 2048-bit key stamped RSA-OAEP-256 (request-crypto 3.x)."""
    return generate_key_pair("kid-oaep256", alg="RSA-OAEP-256")


@pytest.fixture(scope="session")
def private_jwks(oaep_pair: KeyPair, oaep256_pair: KeyPair) -> dict[str, Any]:
    """Both private keys in one set, as a receiver that rotates keys holds them."""
    return {"keys": [*oaep_pair.private_jwks["keys"], *oaep256_pair.private_jwks["keys"]]}


@pytest.fixture(scope="session")
def public_jwks(oaep_pair: KeyPair, oaep256_pair: KeyPair) -> dict[str, Any]:
    return {"keys": [*oaep_pair.public_jwks["keys"], *oaep256_pair.public_jwks["keys"]]}
