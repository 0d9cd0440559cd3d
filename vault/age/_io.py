"""Minimal stream interfaces used by the header parser, STREAM and armor code.

Reading goes through ``readline`` (header, armor lines) and ``readinto`` or ``read``
(payload) so that nothing is read past the part being parsed and memory stays constant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Reader(Protocol):
    """What decryption needs from its input (any binary file object has it)."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readline(self, size: int = -1, /) -> bytes: ...


class Writer(Protocol):
    """What encryption and decryption need from their output.

    Like ``io.BufferedIOBase.write``, ``write`` must consume the buffer before returning:
    the caller reuses it for the next chunk.
    """

    def write(self, data: bytes | bytearray | memoryview, /) -> int | None: ...


def readinto_of(src: Reader) -> Callable[[memoryview], int]:
    """``src.readinto`` when it has one, else an equivalent built on ``src.read``."""
    readinto: Callable[[memoryview], int] | None = getattr(src, "readinto", None)
    if readinto is not None:
        return readinto

    def read_into(buf: memoryview) -> int:
        data = src.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    return read_into


def fill(readinto: Callable[[memoryview], int], buf: memoryview) -> int:
    """Call ``readinto`` until ``buf`` is full or the input ends; return the count."""
    got = readinto(buf)
    want = len(buf)
    while got and got < want:
        n = readinto(buf[got:])
        if not n:
            break
        got += n
    return got or 0


def read_full(src: Reader, buf: memoryview) -> int:
    """Fill ``buf`` from ``src`` until it is full or ``src`` ends; return the count."""
    return fill(readinto_of(src), buf)


class PushbackReader:
    """A reader that returns ``prefix`` first and then the rest of ``src``.

    Used to look at the first byte of an input (armored or binary?) on streams that
    cannot seek or peek.
    """

    def __init__(self, prefix: bytes, src: Reader) -> None:
        self._prefix = prefix
        self._src = src
        self._readinto = readinto_of(src)

    def read(self, size: int = -1, /) -> bytes:
        if not self._prefix:
            return self._src.read(size)
        if size < 0:
            data = self._prefix + self._src.read()
            self._prefix = b""
            return data
        data = self._prefix[:size]
        self._prefix = self._prefix[size:]
        return data

    def readinto(self, buf: memoryview | bytearray, /) -> int:
        if not self._prefix:
            return self._readinto(memoryview(buf))
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def readline(self, size: int = -1, /) -> bytes:
        if not self._prefix:
            return self._src.readline(size)
        newline = self._prefix.find(b"\n")
        end = len(self._prefix) if newline < 0 else newline + 1
        if 0 <= size < end:
            end = size
        data = self._prefix[:end]
        self._prefix = self._prefix[end:]
        if data.endswith(b"\n") or len(data) == size:
            return data
        rest = self._src.readline(-1 if size < 0 else size - len(data))
        return data + rest
