"""Strict PEM armor: canonical output, one accepted spelling, streaming decode."""

from __future__ import annotations

import base64
import io

import pytest

from vault import age
from vault.age import armor

BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
END = b"-----END AGE ENCRYPTED FILE-----"


@pytest.mark.parametrize("size", [0, 1, 47, 48, 49, 96, 1000, 48 * 1024 + 5])
def test_round_trip_and_shape(size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    text = armor.armor(data)
    lines = text.split(b"\n")
    assert lines[0] == BEGIN
    assert lines[-2] == END and lines[-1] == b""
    body = lines[1:-2]
    assert all(len(line) == 64 for line in body[:-1])
    assert all(0 < len(line) <= 64 for line in body)
    assert armor.unarmor(text) == data


@pytest.mark.parametrize("size", [0, 5, 48, 100, 5000])
@pytest.mark.parametrize("step", [1, 7, 48, 1000])
def test_streaming_writer_matches_one_shot(size: int, step: int) -> None:
    data = bytes(i % 7 for i in range(size))
    out = io.BytesIO()
    writer = armor.ArmoredWriter(out)
    for i in range(0, size, step):
        writer.write(data[i : i + step])
    writer.close()
    writer.close()  # idempotent
    assert out.getvalue() == armor.armor(data)
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"x")


def test_crlf_and_surrounding_whitespace_are_accepted() -> None:
    text = armor.armor(b"hello world")
    crlf = text.replace(b"\n", b"\r\n")
    assert armor.unarmor(b" \t\r\n\n" + crlf + b"\r\n  \n") == b"hello world"


def _armored(body_lines: list[bytes]) -> bytes:
    return b"\n".join([BEGIN, *body_lines, END]) + b"\n"


GOOD_LINE = base64.b64encode(bytes(48))
SHORT_LINE = base64.b64encode(b"abc")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"", "unexpected end"),
        (b"\n" * 1100 + BEGIN + b"\n" + END + b"\n", "leading whitespace"),
        (b" " * 2000 + b"\n" + BEGIN, "line too long"),
        (BEGIN + b"\n" + END + b"\n" + b" " * 1025, "trailing whitespace"),
        (BEGIN + b"\n" + END + b"\nx", "after the END"),
        (_armored([SHORT_LINE, GOOD_LINE]), "short line must be the last"),
        (_armored([GOOD_LINE, b"", SHORT_LINE]), "empty line"),
        (_armored([GOOD_LINE + b"AAAA"]), "line too long"),
        (_armored([b"YQ"]), "malformed"),
        (_armored([b"YR=="]), "not canonical"),
        (BEGIN + b"\n" + GOOD_LINE + b"\n", "unexpected end"),
        (b"garbage\n" + _armored([SHORT_LINE]), "BEGIN"),
    ],
)
def test_rejects(text: bytes, message: str) -> None:
    with pytest.raises(age.ArmorError, match=message):
        armor.unarmor(text)


def test_data_before_an_error_is_returned_first() -> None:
    lines = [GOOD_LINE] * 3 + [b"!!!!"]
    reader = armor.armored_reader(io.BytesIO(_armored(lines)))
    assert reader.read(144) == bytes(144)
    with pytest.raises(age.ArmorError):
        reader.read(1)
    with pytest.raises(age.ArmorError):  # the error sticks
        reader.read(1)


def test_reader_reports_end_of_file_repeatedly() -> None:
    reader = armor.armored_reader(io.BytesIO(armor.armor(b"abc")))
    assert reader.read() == b"abc"
    assert reader.read() == b""
    assert reader.readinto(bytearray(10)) == 0


def test_small_reads() -> None:
    data = bytes(range(200))
    reader = armor.armored_reader(io.BytesIO(armor.armor(data)))
    raw = reader.raw
    got = bytearray()
    buf = bytearray(5)
    while n := raw.readinto(buf):
        got += buf[:n]
    assert bytes(got) == data


class Trickle:
    """A source that returns at most seven bytes per read."""

    def __init__(self, data: bytes) -> None:
        self._src = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._src.read(7 if size < 0 else min(size, 7))

    def readline(self, size: int = -1) -> bytes:
        raise AssertionError("the armor decoder reads blocks, not lines")


@pytest.mark.parametrize("crlf", [False, True])
def test_tiny_reads_from_the_source(crlf: bool) -> None:
    data = bytes(range(256)) * 3
    text = b"\n \n" + armor.armor(data) + b" \t\n" * 40
    if crlf:
        text = text.replace(b"\n", b"\r\n")
    assert armor.armored_reader(Trickle(text)).read() == data


def test_line_without_newline_is_bounded() -> None:
    with pytest.raises(age.ArmorError, match="line too long"):
        armor.unarmor(BEGIN + b"\n" + b"A" * 200_000)


@pytest.mark.parametrize("size", [48 * 1365, 48 * 1366, 48 * 1367, 48 * 3000 + 1])
def test_bulk_and_line_paths_agree_across_block_boundaries(size: int) -> None:
    data = bytes(i % 253 for i in range(size))
    text = armor.armor(data)
    assert armor.unarmor(text) == data
    assert armor.unarmor(text.replace(b"\n", b"\r\n")) == data
    line = size // 48 // 2  # a full line in the middle
    broken = bytearray(text)
    broken[len(BEGIN) + 1 + line * 65 + 10] = ord("*")
    reader = armor.armored_reader(io.BytesIO(bytes(broken)))
    with pytest.raises(age.ArmorError, match="malformed"):
        reader.read()
    prefix = armor.armored_reader(io.BytesIO(bytes(broken))).read(line * 48)
    assert prefix == data[: line * 48]
