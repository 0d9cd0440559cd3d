"""The header codec: canonical encoding, strict parsing, limits, MAC binding."""

from __future__ import annotations

import io

import pytest

from vault import age
from vault.age import format as fmt

FILE_KEY = bytes(range(16))


def _header(*stanzas: age.Stanza) -> bytes:
    return fmt.encode_header(list(stanzas), FILE_KEY)


@pytest.mark.parametrize("size", [0, 1, 47, 48, 49, 96, 200])
def test_encode_parse_round_trip(size: int) -> None:
    stanza = age.Stanza("example.org/test", ("a", "b!"), bytes(range(size)))
    encoded = _header(stanza, age.Stanza("other", (), b"x"))
    src = io.BytesIO(encoded + b"PAYLOAD")
    info = age.inspect_header(src)
    assert info.stanzas == (stanza, age.Stanza("other", (), b"x"))
    assert info.length == len(encoded)
    assert src.read() == b"PAYLOAD"  # nothing past the header was consumed
    assert info.verify_mac(FILE_KEY)
    assert not info.verify_mac(bytes(16))
    lines = stanza.encode().split(b"\n")
    assert all(len(line) == 64 for line in lines[1:-2])
    assert len(lines[-2]) < 64


def test_full_body_line_is_followed_by_an_empty_line() -> None:
    assert age.Stanza("t", (), bytes(48)).encode().endswith(b"A" * 64 + b"\n\n")


@pytest.mark.parametrize("words", [("",), ("a b",), ("é",), ("t", ""), ("t", "\x7f")])
def test_encode_rejects_invalid_arguments(words: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="stanza arguments"):
        age.Stanza(words[0], words[1:], b"").encode()


def test_encode_requires_a_stanza() -> None:
    with pytest.raises(ValueError, match="at least one stanza"):
        fmt.encode_header([], FILE_KEY)


def test_mac_covers_the_header() -> None:
    encoded = _header(age.Stanza("t", ("x",), b"body"))
    changed = encoded.replace(b"-> t x", b"-> t y")
    assert not age.inspect_header(io.BytesIO(changed)).verify_mac(FILE_KEY)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"", "empty"),
        (b"age-encryption.org/v1", "ends early"),
        (b"age-encryption.org/v2\n", "unsupported"),
        (b"age-encryption.org/v1\r\n", "CRLF"),
        (b"not age\n", "not an age file"),
        (b"age-encryption.org/v1\n--- " + b"A" * 43 + b"\n", "no recipient stanza"),
        (b"age-encryption.org/v1\n-> t\n\n---\n", "malformed MAC line"),
        (b"age-encryption.org/v1\n-> t\n\n--- AAAA\n", "wrong length"),
        (b"age-encryption.org/v1\n-> t\n\n--- " + b"A" * 42 + b"=\n", "not canonical"),
        (b"age-encryption.org/v1\n-> t\xc3\xa9\n\n", "non-ASCII"),
        (b"age-encryption.org/v1\n-> t\n" + b"A" * 65 + b"\n", "longer than 64"),
        (b"age-encryption.org/v1\n-> t\nAB=\n", "not canonical"),
        (b"age-encryption.org/v1\n-> t\n\nfoo\n", "malformed header line"),
        (b"age-encryption.org/v1\n->  t\n\n", "invalid stanza argument"),
    ],
)
def test_parse_rejects(text: bytes, message: str) -> None:
    with pytest.raises(age.HeaderError, match=message):
        age.inspect_header(io.BytesIO(text))


def test_line_length_limit() -> None:
    text = b"age-encryption.org/v1\n-> " + b"a" * fmt.MAX_LINE + b"\n"
    with pytest.raises(age.HeaderError, match="line too long"):
        age.inspect_header(io.BytesIO(text))


def test_header_size_limit() -> None:
    stanza = b"-> " + b"a" * 60_000 + b"\n\n"
    count = fmt.MAX_HEADER // len(stanza) + 1
    text = b"age-encryption.org/v1\n" + stanza * count
    with pytest.raises(age.HeaderError, match="header too large"):
        age.inspect_header(io.BytesIO(text))


@pytest.mark.parametrize(
    ("text", "data"),
    [("", b""), ("AA", b"\x00"), ("AAA", b"\x00\x00"), ("AAAA", b"\x00\x00\x00"), ("/w", b"\xff")],
)
def test_b64decode_canonical(text: str, data: bytes) -> None:
    assert fmt.b64decode(text) == data
    assert fmt.b64decode(text.encode()) == data
    assert fmt.b64encode(data) == text


@pytest.mark.parametrize("text", ["A", "AB", "AA==", "AAA=", "A A", "AA\n", "-_", "é"])
def test_b64decode_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="canonical"):
        fmt.b64decode(text)
