"""The receiver's documentation examples (security review finding 13)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
_COMMON = ["password", "admin", "secret", "changeme", "123456", "letmein", "viewer", "ops", ""]


def test_example_key_hashes_are_not_of_guessable_words() -> None:
    """Finding 13: docs/receiver.md's example admin hash was sha256("password"), so a copied
    example made `password` an admin key."""
    hashes = set(re.findall(r"sha256:([0-9a-f]{64})", (DOCS / "receiver.md").read_text()))
    assert hashes
    guessable = {hashlib.sha256(word.encode()).hexdigest() for word in _COMMON}
    assert not hashes & guessable
