"""STREAM payload layer: chunk layout, sizes, and the in-memory paths."""

from __future__ import annotations

import io
import os
import random
import threading
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# --- Parallel STREAM: batches of chunks sealed and opened on worker threads. ---------------

SMALL_BATCHES = [1, 2, 3]


def _sizes_around(batch_chunks: int) -> list[int]:
    """Plaintext sizes at and around chunk and batch boundaries, over a few batches."""
    sizes = {0, 1, 17}
    for chunks in range(1, 3 * batch_chunks + 2):
        for delta in (-1, 0, 1):
            sizes.add(chunks * CHUNK + delta)
    return sorted(sizes)


def _seal_with(data: bytes, threads: int, batch_chunks: int = stream.BATCH_CHUNKS) -> bytes:
    out = io.BytesIO()
    stream.encrypt_payload(
        FILE_KEY, NONCE, io.BytesIO(data), out, threads=threads, batch_chunks=batch_chunks
    )
    return out.getvalue()


class Recorder:
    """A writer that keeps every write, copied (the caller reuses its buffers)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.writes.append(bytes(data))
        return len(data)

    def value(self) -> bytes:
        return b"".join(self.writes)


def _open_with(
    payload: bytes, threads: int, batch_chunks: int = stream.BATCH_CHUNKS
) -> tuple[bytes, str | None]:
    """What decryption released, and its error message (None when it succeeded)."""
    out = Recorder()
    try:
        stream.decrypt_payload(
            FILE_KEY, NONCE, io.BytesIO(payload), out, threads=threads, batch_chunks=batch_chunks
        )
    except age.PayloadError as exc:
        return out.value(), str(exc)
    return out.value(), None


@pytest.mark.parametrize("batch_chunks", SMALL_BATCHES)
def test_parallel_and_serial_seal_identically(batch_chunks: int) -> None:
    data = os.urandom(3 * batch_chunks * CHUNK + CHUNK + 1)
    for size in _sizes_around(batch_chunks):
        serial = _seal_with(data[:size], threads=1)
        for threads in (2, 3):
            assert _seal_with(data[:size], threads, batch_chunks) == serial, (size, threads)
        assert _open_with(serial[16:], 2, batch_chunks) == (data[:size], None), size


@pytest.mark.parametrize(
    "chunks", [stream.BATCH_CHUNKS - 1, stream.BATCH_CHUNKS, 2 * stream.BATCH_CHUNKS + 1]
)
@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_default_batches_seal_and_open_like_serial(chunks: int, delta: int) -> None:
    data = os.urandom(chunks * CHUNK + delta)
    serial = _seal_with(data, threads=1)
    assert _seal_with(data, threads=2) == serial
    assert _open_with(serial[16:], threads=2) == (data, None)
    in_memory = bytearray(len(serial))
    stream.encrypt_payload_into(FILE_KEY, NONCE, memoryview(data), memoryview(in_memory), threads=2)
    assert in_memory == serial
    out = bytearray(len(data))
    stream.decrypt_payload_into(
        FILE_KEY, NONCE, memoryview(serial)[16:], memoryview(out), threads=2
    )
    assert out == data


def _aead() -> ChaCha20Poly1305:
    return ChaCha20Poly1305(stream.payload_key(FILE_KEY, NONCE))


def _chunk(index: int, plaintext: bytes, last: bool) -> bytes:
    return _aead().encrypt(((index << 8) | last).to_bytes(12, "big"), plaintext, None)


def _damaged_payloads() -> dict[str, bytes]:
    """Payloads (nonce excluded) damaged in every way the chunk rules distinguish."""
    plain = [os.urandom(CHUNK) for _ in range(9)]
    good = [_chunk(i, p, last=False) for i, p in enumerate(plain)]
    cases: dict[str, bytes] = {}
    body = b"".join(good[:8]) + _chunk(8, b"tail", last=True)
    for k in range(9):
        flipped = bytearray(body)
        flipped[k * (CHUNK + 16) + 100 if k < 8 else -3] ^= 1
        cases[f"bad tag in chunk {k}"] = bytes(flipped)
    for cut in (0, 1, 15, 16, 17, CHUNK + 16, CHUNK + 17, 5 * (CHUNK + 16), len(body) - 1):
        cases[f"truncated to {cut}"] = body[:cut]
    cases["no final chunk"] = b"".join(good[:6])
    cases["trailing byte"] = body + b"x"
    cases["trailing chunk"] = body + _chunk(9, b"more", last=True)
    for k in (0, 2, 3, 5):  # a full chunk sealed as final, then more chunks
        early_end = b"".join(good[:k]) + _chunk(k, plain[k], last=True)
        cases[f"full final chunk {k} then data"] = early_end + b"".join(good[k + 1 : 7])
        cases[f"full final chunk {k}, complete"] = early_end
    cases["empty final chunk after full ones"] = b"".join(good[:4]) + _chunk(4, b"", last=True)
    cases["empty final chunk alone"] = _chunk(0, b"", last=True)
    cases["short final chunk"] = b"".join(good[:4]) + b"x" * 10
    cases["chunks swapped"] = good[1] + good[0] + _chunk(2, b"end", last=True)
    return cases


@pytest.mark.parametrize("batch_chunks", [1, 2, 3, 4, stream.BATCH_CHUNKS])
@pytest.mark.parametrize("threads", [2, 3])
def test_parallel_open_releases_exactly_what_serial_releases(
    batch_chunks: int, threads: int
) -> None:
    for name, payload in _damaged_payloads().items():
        serial = _open_with(payload, threads=1)
        assert _open_with(payload, threads, batch_chunks) == serial, name


def test_corruption_mid_batch_releases_exactly_the_earlier_chunks() -> None:
    data = os.urandom(10 * CHUNK + 5)
    sealed = _seal_with(data, threads=1)[16:]
    for k in range(11):  # batches of 4: chunk k is at every position within a batch
        damaged = bytearray(sealed)
        damaged[k * (CHUNK + 16) + 7] ^= 0x80
        released, error = _open_with(bytes(damaged), threads=2, batch_chunks=4)
        assert error is not None and "authentication" in error
        assert released == data[: k * CHUNK], k


def test_trailing_data_and_missing_final_chunk_release_all_authentic_chunks() -> None:
    data = os.urandom(8 * CHUNK)
    sealed = _seal_with(data, threads=1)[16:]
    assert _open_with(sealed + b"\0", threads=2, batch_chunks=4) == (data, stream._TRAILING)
    # Drop the final chunk: the remaining seven are authentic middle chunks.
    released, error = _open_with(sealed[: 7 * (CHUNK + 16)], threads=2, batch_chunks=4)
    assert (released, error) == (data[: 7 * CHUNK], "the payload is truncated (no final chunk)")


class FailingAfter:
    """A reader that serves ``data`` and then fails (a disk or network error)."""

    def __init__(self, data: bytes) -> None:
        self._src = io.BytesIO(data)

    def readinto(self, buf: memoryview) -> int:
        n = self._src.readinto(buf)
        if not n:
            raise OSError(5, "Input/output error")
        return n

    def read(self, size: int = -1) -> bytes:
        raise OSError(5, "Input/output error")

    def readline(self, size: int = -1) -> bytes:
        return b""


def test_a_read_error_after_a_bad_chunk_reports_the_bad_chunk() -> None:
    data = os.urandom(8 * CHUNK)
    sealed = bytearray(_seal_with(data, threads=1)[16:])
    batch = 4 * (CHUNK + 16)
    good = bytes(sealed[:batch])
    sealed[2 * (CHUNK + 16)] ^= 1
    bad = bytes(sealed[:batch])
    for threads in (1, 2):
        out = Recorder()
        with pytest.raises(age.PayloadError, match="authentication"):
            stream.decrypt_payload(
                FILE_KEY, NONCE, FailingAfter(bad), out, threads=threads, batch_chunks=4
            )
        assert out.value() == data[: 2 * CHUNK]
        out = Recorder()
        with pytest.raises(OSError, match="Input/output"):
            stream.decrypt_payload(
                FILE_KEY, NONCE, FailingAfter(good), out, threads=threads, batch_chunks=4
            )
        assert out.value() == data[: 4 * CHUNK]


def test_a_read_error_after_a_full_final_chunk_is_raised() -> None:
    # A batch ending in a full chunk sealed as final: whether data follows is unknown.
    plain = [os.urandom(CHUNK) for _ in range(4)]
    payload = b"".join(_chunk(i, plain[i], last=i == 3) for i in range(4))
    for threads in (1, 2):
        out = Recorder()
        with pytest.raises(OSError, match="Input/output"):
            stream.decrypt_payload(
                FILE_KEY, NONCE, FailingAfter(payload), out, threads=threads, batch_chunks=4
            )
        assert out.value() == b"".join(plain)


class Exploding:
    """ChaCha20Poly1305 that fails (not with InvalidTag) on one chunk counter."""

    def __init__(self, key: bytes, counter: int) -> None:
        self._aead = ChaCha20Poly1305(key)
        self._counter = counter
        self.threads: set[str] = set()

    def _check(self, nonce: bytes) -> None:
        self.threads.add(threading.current_thread().name)
        if int.from_bytes(nonce, "big") >> 8 == self._counter:
            raise MemoryError("simulated failure in a worker")

    def encrypt_into(self, nonce: bytes, data: memoryview, aad: None, out: memoryview) -> int:
        self._check(nonce)
        return self._aead.encrypt_into(nonce, data, aad, out)

    def decrypt_into(self, nonce: bytes, data: memoryview, aad: None, out: memoryview) -> int:
        self._check(nonce)
        return self._aead.decrypt_into(nonce, data, aad, out)


@pytest.mark.parametrize("counter", [0, 5, 11])
def test_worker_exceptions_propagate(monkeypatch: pytest.MonkeyPatch, counter: int) -> None:
    data = os.urandom(12 * CHUNK + 3)
    sealed = _seal_with(data, threads=1)
    created: list[Exploding] = []

    def factory(key: bytes) -> Exploding:
        created.append(Exploding(key, counter))
        return created[-1]

    monkeypatch.setattr(stream, "ChaCha20Poly1305", factory)
    with pytest.raises(MemoryError, match="simulated"):
        _seal_with(data, threads=2, batch_chunks=4)
    out = Recorder()
    with pytest.raises(MemoryError, match="simulated"):
        stream.decrypt_payload(
            FILE_KEY, NONCE, io.BytesIO(sealed[16:]), out, threads=2, batch_chunks=4
        )
    assert len(out.value()) <= counter * CHUNK  # nothing at or after the failing chunk
    assert any(name.startswith("age-") for e in created for name in e.threads)
    assert not [t for t in threading.enumerate() if t.name.startswith("age-")]


def test_in_memory_worker_exceptions_propagate(monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom((2 * stream.BATCH_CHUNKS + 1) * CHUNK)
    sealed = _seal_with(data, threads=1)
    failing = stream.BATCH_CHUNKS + 3  # in the second thread's share
    monkeypatch.setattr(stream, "ChaCha20Poly1305", lambda key: Exploding(key, failing))
    with pytest.raises(MemoryError, match="simulated"):
        stream.encrypt_payload_into(
            FILE_KEY, NONCE, memoryview(data), memoryview(bytearray(len(sealed))), threads=2
        )
    with pytest.raises(MemoryError, match="simulated"):
        stream.decrypt_payload_into(
            FILE_KEY, NONCE, memoryview(sealed)[16:], memoryview(bytearray(len(data))), threads=2
        )


def test_in_memory_parallel_open_reports_the_first_failure() -> None:
    data = os.urandom((2 * stream.BATCH_CHUNKS + 1) * CHUNK)
    sealed = _seal_with(data, threads=1)[16:]
    out = memoryview(bytearray(len(data)))
    truncated = sealed[: 2 * stream.BATCH_CHUNKS * (CHUNK + 16)]  # final chunk dropped
    with pytest.raises(age.PayloadError, match="no final chunk"):
        stream.decrypt_payload_into(FILE_KEY, NONCE, memoryview(truncated), out, threads=2)
    damaged = bytearray(truncated)
    damaged[5] ^= 1  # the first thread's first chunk fails before the missing final one
    with pytest.raises(age.PayloadError, match="authentication"):
        stream.decrypt_payload_into(FILE_KEY, NONCE, memoryview(damaged), out, threads=2)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(0, 7 * CHUNK + 40),
    seed=st.integers(0, 2**32),
    threads=st.integers(1, 3),
    batch_chunks=st.integers(1, 3),
)
def test_round_trip_across_batch_boundaries(
    size: int, seed: int, threads: int, batch_chunks: int
) -> None:
    data = random.Random(seed).randbytes(size)
    sealed = _seal_with(data, threads, batch_chunks)
    assert len(sealed) == stream.encrypted_size(size)
    assert _open_with(sealed[16:], threads, batch_chunks) == (data, None)
    assert _open_with(sealed[16:], threads=1) == (data, None)


def test_thread_and_batch_arguments_are_checked() -> None:
    assert 1 <= stream.default_threads() <= stream.MAX_THREADS
    with pytest.raises(ValueError, match="threads"):
        _seal_with(b"x", threads=0)
    with pytest.raises(ValueError, match="batch_chunks"):
        _seal_with(b"x", threads=2, batch_chunks=0)
    with pytest.raises(ValueError, match="batch_chunks"):
        _open_with(b"x" * 20, threads=2, batch_chunks=0)


def test_the_default_is_parallel_and_one_thread_starts_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[int] = []
    real_pool = stream._pool

    def counting_pool(threads: int, name: str) -> Any:
        started.append(threads)
        return real_pool(threads, name)

    monkeypatch.setattr(stream, "_pool", counting_pool)
    monkeypatch.setattr(stream, "default_threads", lambda: 2)
    data = os.urandom(3 * CHUNK)
    sealed = _seal_with(data, threads=1, batch_chunks=1)
    assert _open_with(sealed[16:], threads=1, batch_chunks=1) == (data, None)
    assert started == []
    assert _seal_with(data[:CHUNK], threads=2, batch_chunks=2) == _seal_with(data[:CHUNK], 1)
    assert started == []  # one batch: no thread is worth starting
    out = io.BytesIO()
    stream.encrypt_payload(FILE_KEY, NONCE, io.BytesIO(data), out, batch_chunks=1)
    assert out.getvalue() == sealed and started == [2]
