"""PADMÉ padding lengths: hide how long a testimony is.

A sealed testimony's ciphertext length reveals its plaintext length, and a length can
identify a witness (one distinctive photo, one long statement). Before sealing, the plaintext
bundle is padded with zero bytes up to ``padme_length(n)``, the PADMÉ function of Nikitin et
al., "Reducing Metadata Leakage from Encrypted Files and Communication with PURBs"
(PETS 2019, §4.3):

    E = floor(log2 L), S = floor(log2 E) + 1, lastBits = E - S,
    bitMask = 2**lastBits - 1, padded = (L + bitMask) & ~bitMask

``L`` is rounded up until its lowest ``E - S`` bits are zero, so a padded length leaks
O(log log L) bits about ``L``. The overhead is below 2**-S of ``L``; its worst case over all
lengths is 11.63 % (L = 129 → 144), within the paper's 12 % bound.
"""

from __future__ import annotations

__all__ = ["padme_length"]


def padme_length(length: int) -> int:
    """Return the PADMÉ-padded length for a plaintext of ``length`` bytes (≥ ``length``).

    Lengths 0 and 1 are returned unchanged (there is nothing to round). Raises ValueError for
    a negative length.
    """
    if length < 0:
        raise ValueError(f"a length cannot be negative (got {length})")
    if length < 2:
        return length
    exponent = length.bit_length() - 1  # E = floor(log2 L)
    significant = exponent.bit_length()  # S = floor(log2 E) + 1  (E >= 1 here)
    last_bits = exponent - significant
    bit_mask = (1 << last_bits) - 1
    return (length + bit_mask) & ~bit_mask
