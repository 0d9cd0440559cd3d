"""SealedFile: an age file regenerated piece by piece from any offset.

Every regeneration must be byte-identical to the file from that offset, the file must be
what ``encrypt_payload`` writes for the same key and nonce (so any age reader opens it), and
a plaintext of another length than declared must fail instead of yielding another file.
"""

from __future__ import annotations

import io
import os

import pytest

from vault import age
from vault.age import stream
from vault.age.sealing import PlaintextLengthError, SealedFile

CHUNK = stream.CHUNK_SIZE
IDENTITY = age.X25519Identity.generate()


def _whole(sealed: SealedFile, data: bytes, start: int = 0) -> bytes:
    pieces = list(sealed.pieces(io.BytesIO(data), start))
    assert all(0 < len(p) <= stream.ENCRYPTED_CHUNK_SIZE for p in pieces)
    return b"".join(pieces)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 7])
def test_the_file_is_an_age_file_of_the_declared_size(size: int) -> None:
    data = os.urandom(size)
    sealed = SealedFile([IDENTITY.recipient()], size)
    whole = _whole(sealed, data)
    assert len(whole) == sealed.size
    assert whole.startswith(sealed.header)
    assert age.decrypt_bytes(whole, [IDENTITY]) == data
    out = io.BytesIO()
    age.decrypt(io.BytesIO(whole), out, [IDENTITY], threads=2)
    assert out.getvalue() == data
    # The payload is exactly what the streaming encryption writes for this key and nonce.
    payload = io.BytesIO()
    stream.encrypt_payload(sealed._file_key, sealed._nonce, io.BytesIO(data), payload)
    assert whole[len(sealed.header) :] == payload.getvalue()


@pytest.mark.parametrize("size", [0, 5, CHUNK, 2 * CHUNK + 100])
def test_every_offset_regenerates_the_same_bytes(size: int) -> None:
    data = os.urandom(size)
    sealed = SealedFile([IDENTITY.recipient()], size)
    whole = _whole(sealed, data)
    header = len(sealed.header)
    body = header + stream.NONCE_SIZE
    offsets = {0, 1, header - 1, header, header + 1, body - 1, body, body + 1,
               body + stream.ENCRYPTED_CHUNK_SIZE - 1, body + stream.ENCRYPTED_CHUNK_SIZE,
               body + stream.ENCRYPTED_CHUNK_SIZE + 3, sealed.size - 1, sealed.size}
    for start in sorted(o for o in offsets if 0 <= o <= sealed.size):
        assert _whole(sealed, data, start) == whole[start:], start


def test_two_files_differ() -> None:
    data = b"the same testimony"
    first, second = (SealedFile([IDENTITY.recipient()], len(data)) for _ in range(2))
    assert _whole(first, data) != _whole(second, data)


def test_post_quantum_recipients() -> None:
    identity = age.MLKEM768X25519Identity.generate()
    data = os.urandom(CHUNK + 9)
    sealed = SealedFile([identity.recipient()], len(data))
    assert age.decrypt_bytes(_whole(sealed, data), [identity]) == data


def test_recipient_list_is_checked_as_for_encrypt() -> None:
    with pytest.raises(age.RecipientError):
        SealedFile([], 10)
    with pytest.raises(age.RecipientError, match="mix"):
        SealedFile([IDENTITY.recipient(), age.MLKEM768X25519Identity.generate().recipient()],
                   10)


def test_size_and_offset_limits() -> None:
    with pytest.raises(ValueError, match="negative"):
        SealedFile([IDENTITY.recipient()], -1)
    sealed = SealedFile([IDENTITY.recipient()], 10)
    for start in (-1, sealed.size + 1):
        with pytest.raises(ValueError, match="outside the sealed file"):
            sealed.pieces(io.BytesIO(bytes(10)), start)


@pytest.mark.parametrize("size", [0, 10, CHUNK, 2 * CHUNK])
def test_a_longer_plaintext_fails(size: int) -> None:
    sealed = SealedFile([IDENTITY.recipient()], size)
    with pytest.raises(PlaintextLengthError, match="longer"):
        _whole(sealed, bytes(size + 1))


@pytest.mark.parametrize(("declared", "given"), [(10, 9), (CHUNK + 1, CHUNK), (2 * CHUNK, 0)])
def test_a_shorter_plaintext_fails(declared: int, given: int) -> None:
    sealed = SealedFile([IDENTITY.recipient()], declared)
    with pytest.raises(PlaintextLengthError, match="ended before"):
        _whole(sealed, bytes(given))
    with pytest.raises(PlaintextLengthError, match="ended before"):
        _whole(sealed, bytes(given), sealed.size)


def test_a_source_without_readinto() -> None:
    class ReadOnly:
        def __init__(self, data: bytes) -> None:
            self._inner = io.BytesIO(data)

        def read(self, size: int = -1, /) -> bytes:
            return self._inner.read(min(size, 1000) if size >= 0 else size)

        def readline(self, size: int = -1, /) -> bytes:  # pragma: no cover - not used
            return self._inner.readline(size)

    data = os.urandom(CHUNK + 1)
    sealed = SealedFile([IDENTITY.recipient()], len(data))
    whole = b"".join(sealed.pieces(ReadOnly(data)))
    assert age.decrypt_bytes(whole, [IDENTITY]) == data
