"""Strict text helpers shared by the key file, card and roster parsers.

Everything this package writes has exactly one encoding, and every parser here accepts only
that encoding: a flipped bit can never yield a file that still parses to the same (or a
different but plausible) key. Base64 is checked by re-encoding; names are checked against a
fixed set of Unicode rules so two people reading a roster see the same thing.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

_B64_PADDED = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_B64_RAW = re.compile(r"[A-Za-z0-9+/]*")

# Longest accepted investigator name, in UTF-8 bytes.
MAX_NAME_BYTES = 200
# Longest accepted organization origin (a signed-note key name), in UTF-8 bytes.
MAX_ORIGIN_BYTES = 200

# Format characters that some scripts need inside words (Persian, Uyghur, Indic): ZWNJ, ZWJ.
_ALLOWED_FORMAT_CHARS = frozenset({"\u200c", "\u200d"})


def b64encode(data: bytes, *, padded: bool = True) -> str:
    """Standard base64 (RFC 4648 §4), with or without ``=`` padding."""
    text = base64.b64encode(data).decode("ascii")
    return text if padded else text.rstrip("=")


def b64decode_strict(text: str, *, padded: bool = True) -> bytes | None:
    """Decode canonical standard base64, or return None.

    Canonical means: only the standard alphabet, padding exactly as ``b64encode`` writes it
    (or none at all when ``padded`` is False), and zero unused trailing bits. Re-encoding the
    result must give back ``text``, so no two strings decode to the same bytes.
    """
    pattern = _B64_PADDED if padded else _B64_RAW
    if not pattern.fullmatch(text):
        return None
    candidate = text if padded else text + "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(candidate, validate=True)
    except (binascii.Error, ValueError):
        return None
    if b64encode(data, padded=padded) != text:
        return None
    return data


def name_problem(name: str) -> str | None:
    """Say what is wrong with an investigator name, or return None if it is acceptable.

    A name is shown to people deciding whom to trust, so it must read the same everywhere:
    Unicode NFC, 1 to 200 UTF-8 bytes, letters of any script, marks, digits, punctuation,
    symbols and single ASCII spaces between words; no control, private-use, unassigned or
    bidirectional-override characters (only ZWNJ and ZWJ among format characters), no other
    kind of space, no leading, trailing or doubled space.
    """
    if not name:
        return "the name is empty"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"the name is longer than {MAX_NAME_BYTES} bytes"
    if unicodedata.normalize("NFC", name) != name:
        return "the name is not in Unicode normal form C"
    if name != name.strip(" ") or "  " in name:
        return "the name has a leading, trailing or doubled space"
    for ch in name:
        category = unicodedata.category(ch)
        if ch == " " or ch in _ALLOWED_FORMAT_CHARS:
            continue
        if category[0] == "C" or category in ("Zs", "Zl", "Zp"):
            return f"the name contains the character U+{ord(ch):04X}, which is not allowed"
    return None


def origin_problem(origin: str) -> str | None:
    """Say what is wrong with an organization origin, or return None if it is acceptable.

    The origin is the name of the organization's signed-note key (e.g. ``example.org/amanat``):
    printable ASCII without spaces or ``+``, 1 to 200 bytes.
    """
    if not origin:
        return "the origin is empty"
    if len(origin) > MAX_ORIGIN_BYTES:
        return f"the origin is longer than {MAX_ORIGIN_BYTES} bytes"
    if not all("!" <= ch <= "~" and ch != "+" for ch in origin):
        return "the origin must be printable ASCII without spaces or '+'"
    return None
