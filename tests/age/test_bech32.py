"""Bech32 as age uses it: BIP 173 checksums, no length limit, one spelling per key."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.age import bech32

# BIP 173 "valid checksum" strings whose data part is also valid 8-bit data.
BIP173_VALID = [
    "A12UEL5L",
    "a12uel5l",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "?1ezyfcl",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
]

BIP173_INVALID = [
    "\x201nwldj5",  # HRP character out of range
    "\x7f1axkwrx",  # HRP character out of range
    "pzry9x0s0muk",  # no separator
    "1pzry9x0s0muk",  # empty HRP
    "x1b4n0q5v",  # invalid data character
    "li1dgmt3",  # checksum too short
    "de1lg7wt\xff",  # invalid character in checksum
    "A1G7SGD8",  # checksum computed over the upper-case HRP
    "10a06t8",  # empty HRP
    "1qzzfhee",  # empty HRP
    "a12UEL5L",  # mixed case
]


@pytest.mark.parametrize("text", BIP173_VALID)
def test_bip173_valid(text: str) -> None:
    hrp, data = bech32.decode(text)
    assert hrp == text[: text.rfind("1")]
    assert bech32.encode(hrp, data) == text


@pytest.mark.parametrize("text", BIP173_INVALID)
def test_bip173_invalid(text: str) -> None:
    with pytest.raises(bech32.Bech32Error):
        bech32.decode(text)


def test_no_length_limit() -> None:
    data = bytes(range(256)) * 5
    text = bech32.encode("age1pq", data)
    assert len(text) > 90
    assert bech32.decode(text) == ("age1pq", data)


def test_upper_case_hrp_gives_upper_case_string() -> None:
    text = bech32.encode("AGE-SECRET-KEY-", bytes(32))
    assert text == text.upper()
    assert bech32.decode(text) == ("AGE-SECRET-KEY-", bytes(32))
    assert bech32.decode(text.lower()) == ("age-secret-key-", bytes(32))


def test_nonzero_padding_bits_are_rejected() -> None:
    # One byte is 8 bits -> two 5-bit groups with 2 padding bits that must be zero.
    good = bech32.encode("age", b"\x00")
    values = [bech32.CHARSET.index(c) for c in good[4:-6]]
    values[-1] |= 1
    body = "".join(bech32.CHARSET[v] for v in values)
    polymod = bech32._polymod([*bech32._hrp_expand("age"), *values, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = "".join(bech32.CHARSET[(polymod >> 5 * (5 - i)) & 31] for i in range(6))
    with pytest.raises(bech32.Bech32Error, match="padding"):
        bech32.decode("age1" + body + checksum)


def test_excess_padding_group_is_rejected() -> None:
    values = [0, 0]  # 10 bits: one byte plus two padding bits; add a whole spare group
    values.append(0)
    polymod = bech32._polymod([*bech32._hrp_expand("age"), *values, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = "".join(bech32.CHARSET[(polymod >> 5 * (5 - i)) & 31] for i in range(6))
    text = "age1" + "".join(bech32.CHARSET[v] for v in values) + checksum
    with pytest.raises(bech32.Bech32Error, match="padding"):
        bech32.decode(text)


@pytest.mark.parametrize("hrp", ["", "a b", "Age"])
def test_encode_rejects_bad_hrp(hrp: str) -> None:
    with pytest.raises(bech32.Bech32Error):
        bech32.encode(hrp, b"x")


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=200), hrp=st.sampled_from(["age", "age1pq", "AGE-SECRET-KEY-PQ-"]))
def test_round_trip(data: bytes, hrp: str) -> None:
    assert bech32.decode(bech32.encode(hrp, data)) == (hrp, data)


@settings(max_examples=100, deadline=None)
@given(position=st.integers(min_value=0), replacement=st.sampled_from(bech32.CHARSET))
def test_any_single_substitution_is_detected(position: int, replacement: str) -> None:
    text = bech32.encode("age", bytes(range(32)))
    index = 4 + position % (len(text) - 4)
    if text[index] == replacement:
        return
    changed = text[:index] + replacement + text[index + 1 :]
    with pytest.raises(bech32.Bech32Error):
        bech32.decode(changed)
