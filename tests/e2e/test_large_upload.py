"""A 1 GiB sealed file through a real server in bounded memory, and an upload cut halfway
that resumes and completes with the right hash."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.vaultkit import read_dev_keys
from tests.e2e.conftest import ServerProcess
from vault import age
from vault.client import VaultClient

GIB = 1024 * 1024 * 1024
MIB = 1024 * 1024
RSS_LIMIT_KIB = 150 * 1024


class Zeros(io.RawIOBase):
    """``size`` zero bytes, produced on demand."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MIB):
            hasher.update(chunk)
    return hasher.hexdigest()


class CutOff(Exception):
    pass


def first_half_then_cut(path: Path, half: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        sent = 0
        while sent < half:
            chunk = f.read(min(MIB, half - sent))
            sent += len(chunk)
            yield chunk
    raise CutOff


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_one_gib_in_bounded_memory_and_resume(server: ServerProcess, tmp_path: Path) -> None:
    dev = read_dev_keys(server.data_dir)
    sealed_path = tmp_path / "big.age"
    with open(sealed_path, "wb") as dst:
        age.encrypt(io.BufferedReader(Zeros(GIB), 1 * MIB), dst, dev.recipients())
    size = sealed_path.stat().st_size
    digest = sha256_file(sealed_path)

    with VaultClient(server.url, timeout=300) as witness:
        with open(sealed_path, "rb") as src:
            receipt = witness.submit(src)
        assert receipt.sha256 == digest and receipt.size == size

        upload_id = witness.create_upload()
        half = size // 2
        with pytest.raises(CutOff):
            witness.append(upload_id, 0, first_half_then_cut(sealed_path, half), size)
        kept = witness.upload_offset(upload_id)
        assert 0 < kept <= half
        with open(sealed_path, "rb") as src:
            resumed = witness.upload(src, upload_id=upload_id, chunk_bytes=256 * MIB)
        assert resumed.sha256 == digest and resumed.size == size

    with VaultClient(server.url, timeout=300) as investigator:
        investigator.login(dev.investigator.key_id, dev.sign, dev.roster().log_vkey or "")
        sink = hashlib.sha256()

        class HashSink(io.RawIOBase):
            def writable(self) -> bool:
                return True

            def write(self, data: bytes) -> int:  # type: ignore[override]
                sink.update(data)
                return len(data)

        assert investigator.download(resumed.id, HashSink()) == digest  # type: ignore[arg-type]
    assert sink.hexdigest() == digest
    peak = server.peak_rss_kib()
    print(f"server peak RSS: {peak // 1024} MiB")
    assert peak < RSS_LIMIT_KIB, f"server peak RSS {peak} KiB"
