"""PADMÉ padding lengths (vault.padding)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.padding import padme_length


def reference_padme(length: int) -> int:
    """The paper's algorithm written with floating-point logarithms (valid for small L)."""
    import math

    exponent = math.floor(math.log2(length))
    significant = math.floor(math.log2(exponent)) + 1
    last_bits = exponent - significant
    bit_mask = (1 << last_bits) - 1
    return (length + bit_mask) & ~bit_mask


@pytest.mark.parametrize(
    ("length", "padded"),
    [
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 3),
        (7, 7),
        (8, 8),
        (9, 10),
        (11, 12),
        (100, 104),
        (129, 144),
        (1000, 1024),
        (1025, 1088),
        (4097, 4352),
        (6656, 6656),
        (1_000_000, 1_015_808),
        (10**9, 1_006_632_960),
    ],
)
def test_known_values(length: int, padded: int) -> None:
    assert padme_length(length) == padded


def test_matches_the_papers_formula() -> None:
    for length in range(2, 70_000):
        assert padme_length(length) == reference_padme(length)


def test_negative_length_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        padme_length(-1)


def test_monotone_and_bounded_over_a_range() -> None:
    previous = 0
    worst = 0.0
    for length in range(1, 1 << 17):
        padded = padme_length(length)
        assert padded >= length
        assert padded >= previous
        worst = max(worst, (padded - length) / length)
        previous = padded
    assert worst <= 0.12
    assert worst == pytest.approx(15 / 129)  # the worst case: 129 → 144


@given(st.integers(min_value=1, max_value=1 << 64))
def test_properties_for_large_lengths(length: int) -> None:
    padded = padme_length(length)
    assert length <= padded <= length * 1.12
    assert padme_length(padded) == padded  # padding is idempotent
    assert padme_length(length + 1) >= padded


def test_leaks_few_distinct_lengths() -> None:
    # Lengths in [1 MiB, 2 MiB) have E = 20, S = 5: they pad to multiples of 2**15,
    # i.e. one of only 33 values (2**20 + k * 2**15 for k = 0..32).
    distinct = {padme_length(n) for n in range(1 << 20, 1 << 21, 97)}
    assert len(distinct) <= 33
