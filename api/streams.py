"""Streaming sealed files out in bounded memory, whole or one byte range (RFC 9110 §14).

A client that needs only the start of a sealed file (the manifest, the first member of the
bundle; `VaultClient.download_prefix`) asks for ``Range: bytes=0-N`` and gets 206 with just
those bytes. One range per request: anything else the server does not serve as a range (several
ranges, another unit, a malformed header) gets the whole file, as RFC 9110 allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

READ_BYTES = 256 * 1024
_RANGE = re.compile(r"bytes=(?:([0-9]{1,18})-([0-9]{0,18})|-([0-9]{1,18}))")


class RangeNotSatisfiable(ValueError):
    """The range asks for bytes the file does not have (answered with 416)."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first byte, length) of the single range ``header`` asks of ``size`` bytes, clipped to
    the file; None to send the whole file (no header, or one that is not a single range).

    Raises RangeNotSatisfiable when the range starts at or past the end, or asks for an
    empty suffix.
    """
    match = _RANGE.fullmatch(header.strip()) if header is not None else None
    if match is None:
        return None
    first, last, suffix = match.groups()
    if suffix is not None:
        if int(suffix) == 0 or size == 0:
            raise RangeNotSatisfiable(f"the file has {size} bytes")
        start = max(0, size - int(suffix))
        return start, size - start
    start = int(first)
    if last and int(last) < start:
        return None  # an invalid range is ignored, not refused (RFC 9110 §14.1.1)
    if start >= size:
        raise RangeNotSatisfiable(f"the file has {size} bytes")
    end = size - 1 if not last else min(int(last), size - 1)
    return start, end - start + 1


def file_chunks(src: BinaryIO, length: int | None = None) -> Iterator[bytes]:
    """Yield ``src`` (at most ``length`` bytes of it, from where it stands) in chunks and
    close it at the end (or when the client goes away)."""
    remaining = length
    try:
        while remaining is None or remaining > 0:
            chunk = src.read(READ_BYTES if remaining is None else min(READ_BYTES, remaining))
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
    finally:
        src.close()
