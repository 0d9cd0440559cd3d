"""Fixtures of the store tests: the S3 emulator (tests/store/s3emulator.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.store.s3emulator import EMULATOR_ENV, S3Emulator, start_emulator


@pytest.fixture(scope="module")
def s3_emulator() -> Iterator[S3Emulator]:
    """moto's S3 emulator on 127.0.0.1 for one test module, with stand-in keys in the
    environment; skips (or fails, AMANAT_REQUIRE_S3_EMULATOR=1) without moto."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in EMULATOR_ENV.items():
            patch.setenv(name, value)
        yield from start_emulator()
