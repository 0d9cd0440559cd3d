"""Fixtures for the keys tests: cheap Argon2 parameters (passed explicitly, never by default)."""

from __future__ import annotations

import pytest

from keys.keyfile import KdfParams

# The smallest parameters Argon2id accepts: fast enough to unlock a file per flipped byte.
CHEAP_KDF = KdfParams(memory_kib=8, iterations=1, parallelism=1)


@pytest.fixture
def cheap_kdf() -> KdfParams:
    return CHEAP_KDF
