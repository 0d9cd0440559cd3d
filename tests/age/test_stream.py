"""STREAM payload layer: chunk layout, sizes, and the in-memory paths."""

from __future__ import annotations

import io
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from vault import age
from vault.age import stream
from vault.age._io import PushbackReader, fill, readinto_of

FILE_KEY = bytes(range(16))
NONCE = bytes(range(16, 32))
CHUNK = stream.CHUNK_SIZE


def _seal(data: bytes) -> bytes:
    out = io.BytesIO()
    stream.encrypt_payload(FILE_KEY, NONCE, io.BytesIO(data), out)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 7])
def test_layout_matches_the_spec(size: int) -> None:
    data = os.urandom(size)
    sealed = _seal(data)
    assert sealed[:16] == NONCE
    assert len(sealed) == stream.encrypted_size(size)
    assert stream.plaintext_size(len(sealed)) == size
    aead = ChaCha20Poly1305(stream.payload_key(FILE_KEY, NONCE))
    body = sealed[16:]
    chunks = [body[i : i + CHUNK + 16] for i in range(0, len(body), CHUNK + 16)]
    opened = b""
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        opened += aead.decrypt(((index << 8) | last).to_bytes(12, "big"), chunk, None)
    assert opened == data
    out = bytearray(size)
    stream.decrypt_payload_into(FILE_KEY, NONCE, memoryview(sealed)[16:], memoryview(out))
    assert out == data
    in_memory = bytearray(len(sealed))
    stream.encrypt_payload_into(FILE_KEY, NONCE, memoryview(data), memoryview(in_memory))
    assert in_memory == sealed


@pytest.mark.parametrize(
    "size", [15, 16 + 0, CHUNK + 16 + 1, CHUNK + 16 + 16, 2 * (CHUNK + 16) + 5]
)
def test_impossible_payload_sizes(size: int) -> None:
    payload_size = 16 + size
    if size == 16:
        assert stream.plaintext_size(payload_size) == 0
        return
    with pytest.raises(age.PayloadError):
        stream.plaintext_size(payload_size)


def test_in_memory_rejects_a_full_last_chunk_not_marked_final() -> None:
    # Two chunks where the second is a full middle chunk: the final chunk is missing.
    sealed = _seal(os.urandom(3 * CHUNK))
    truncated = memoryview(sealed)[16 : 16 + 2 * (CHUNK + 16)]
    with pytest.raises(age.PayloadError, match="no final chunk"):
        stream.decrypt_payload_into(FILE_KEY, NONCE, truncated, memoryview(bytearray(2 * CHUNK)))
    with pytest.raises(age.PayloadError, match="no final chunk"):
        stream.decrypt_payload(FILE_KEY, NONCE, io.BytesIO(bytes(truncated)), io.BytesIO())


def test_in_memory_rejects_a_bad_middle_chunk() -> None:
    sealed = bytearray(_seal(os.urandom(2 * CHUNK + 5)))
    sealed[20] ^= 1
    out = memoryview(bytearray(2 * CHUNK + 5))
    with pytest.raises(age.PayloadError, match="authentication"):
        stream.decrypt_payload_into(FILE_KEY, NONCE, memoryview(sealed)[16:], out)


def test_short_final_chunk_errors() -> None:
    with pytest.raises(age.PayloadError, match="short final chunk"):
        stream.decrypt_payload(FILE_KEY, NONCE, io.BytesIO(bytes(10)), io.BytesIO())
    sealed = _seal(os.urandom(CHUNK))  # one full final chunk
    with pytest.raises(age.PayloadError, match="final chunk is empty"):
        # Re-encrypt as a middle chunk followed by an empty final chunk.
        aead = ChaCha20Poly1305(stream.payload_key(FILE_KEY, NONCE))
        middle = aead.encrypt((0).to_bytes(12, "big"), bytes(CHUNK), None)
        empty_final = aead.encrypt(((1 << 8) | 1).to_bytes(12, "big"), b"", None)
        stream.decrypt_payload(FILE_KEY, NONCE, io.BytesIO(middle + empty_final), io.BytesIO())
    assert len(sealed) == 16 + CHUNK + 16


class Trickle:
    """Returns at most three bytes per call, like a slow pipe."""

    def __init__(self, data: bytes) -> None:
        self._src = io.BytesIO(data)

    def readinto(self, buf: memoryview) -> int:
        return self._src.readinto(buf[:3])

    def read(self, size: int = -1) -> bytes:
        return self._src.read(min(size, 3) if size >= 0 else -1)

    def readline(self, size: int = -1) -> bytes:
        return self._src.readline(size)


def test_short_reads_are_handled() -> None:
    data = os.urandom(CHUNK + 100)
    sealed = _seal(data)
    out = io.BytesIO()
    stream.decrypt_payload(FILE_KEY, NONCE, Trickle(sealed[16:]), out)
    assert out.getvalue() == data
    resealed = io.BytesIO()
    stream.encrypt_payload(FILE_KEY, NONCE, Trickle(data), resealed)
    assert resealed.getvalue() == sealed


def test_fill_and_readinto_fallback() -> None:
    class ReadOnly:
        def __init__(self) -> None:
            self.src = io.BytesIO(b"abcdef")

        def read(self, size: int = -1) -> bytes:
            return self.src.read(min(size, 2))

        def readline(self, size: int = -1) -> bytes:
            return b""

    buf = bytearray(10)
    assert fill(readinto_of(ReadOnly()), memoryview(buf)) == 6
    assert buf[:6] == b"abcdef"


def test_pushback_reader() -> None:
    reader = PushbackReader(b"ab\ncd", io.BytesIO(b"ef\ngh"))
    assert reader.readline() == b"ab\n"
    assert reader.readline(1) == b"c"
    assert reader.readline() == b"def\n"
    assert reader.read(-1) == b"gh"
    reader = PushbackReader(b"abc", io.BytesIO(b"def"))
    assert reader.read(2) == b"ab"
    assert reader.read() == b"cdef"
    assert reader.read() == b""
    reader = PushbackReader(b"abc", io.BytesIO(b"def"))
    buf = bytearray(2)
    assert reader.readinto(buf) == 2 and buf == b"ab"
    assert reader.readline(-1) == b"cdef"
    reader = PushbackReader(b"", io.BytesIO(b"xyz\n"))
    assert reader.readline() == b"xyz\n"
