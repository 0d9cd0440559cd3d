"""Bech32 (BIP 173) as age uses it: no 90-character limit, checksum over the lower case.

Recipients (``age1…``, ``age1pq1…``) and identities (``AGE-SECRET-KEY-1…``) are Bech32
strings. The checksum turns a mistyped or truncated key into an error instead of a
different key; strict decoding (no mixed case, zero padding bits) keeps each key to a
single spelling.
"""

from __future__ import annotations

from collections.abc import Sequence

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX = {c: i for i, c in enumerate(CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


class Bech32Error(ValueError):
    """The string is not valid Bech32."""


def _polymod(values: Sequence[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GENERATOR[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: Sequence[int], from_bits: int, to_bits: int, *, pad: bool) -> bytes:
    acc = 0
    bits = 0
    out = bytearray()
    max_value = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & max_value)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & max_value)
    elif bits >= from_bits or (acc << (to_bits - bits)) & max_value:
        raise Bech32Error("invalid padding in the data part")
    return bytes(out)


def encode(hrp: str, data: bytes) -> str:
    """Encode ``data`` under the human-readable part ``hrp``.

    The result is lower case unless ``hrp`` is upper case (as for identities), in which
    case the whole string is upper case.
    """
    if not hrp or any(not 33 <= ord(c) <= 126 for c in hrp):
        raise Bech32Error("invalid human-readable part")
    if hrp.lower() != hrp and hrp.upper() != hrp:
        raise Bech32Error("mixed-case human-readable part")
    lower = hrp.lower()
    values = list(_convert_bits(data, 8, 5, pad=True))
    polymod = _polymod([*_hrp_expand(lower), *values, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    text = lower + "1" + "".join(CHARSET[v] for v in values + checksum)
    return text.upper() if hrp.upper() == hrp and hrp.lower() != hrp else text


def decode(text: str) -> tuple[str, bytes]:
    """Decode a Bech32 string into ``(hrp, data)``; the hrp keeps the string's case."""
    if text.lower() != text and text.upper() != text:
        raise Bech32Error("mixed case")
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text):
        raise Bech32Error("separator '1' missing or misplaced")
    hrp = text[:pos]
    if any(not 33 <= ord(c) <= 126 for c in hrp):
        raise Bech32Error("invalid character in the human-readable part")
    values = []
    for c in text[pos + 1 :].lower():
        index = _CHARSET_INDEX.get(c)
        if index is None:
            raise Bech32Error("invalid character in the data part")
        values.append(index)
    if _polymod([*_hrp_expand(hrp.lower()), *values]) != 1:
        raise Bech32Error("invalid checksum")
    return hrp, _convert_bits(values[:-6], 5, 8, pad=False)
