"""Streaming sealed files out in bounded memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

READ_BYTES = 256 * 1024


def file_chunks(src: BinaryIO) -> Iterator[bytes]:
    """Yield ``src`` in chunks and close it at the end (or when the client goes away)."""
    try:
        while chunk := src.read(READ_BYTES):
            yield chunk
    finally:
        src.close()
