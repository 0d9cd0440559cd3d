"""`atomic_output`: no partial file on failure; fsync only where durability is promised.

The age-compatible `encrypt` / `decrypt -o` commands write like `age` does (renamed into
place, not fsynced); every other output (key files, sealed testimony, case folders) is
fsynced, file and directory, before the command reports success.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from vault.cli import main
from vault.cli.common import atomic_output


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        calls.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    return calls


@pytest.mark.parametrize("durable", [True, False])
def test_output_appears_whole_with_or_without_fsync(
    tmp_path: Path, fsyncs: list[int], durable: bool
) -> None:
    target = tmp_path / "out"
    with atomic_output(str(target), durable=durable) as out:
        out.write(b"first half ")
        assert not target.exists()
        out.write(b"second half")
    assert target.read_bytes() == b"first half second half"
    assert len(fsyncs) == (2 if durable else 0)  # the file, then its directory
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("durable", [True, False])
def test_a_failure_leaves_no_partial_file(tmp_path: Path, durable: bool) -> None:
    target = tmp_path / "out"
    with pytest.raises(RuntimeError), atomic_output(str(target), durable=durable) as out:
        out.write(b"partial")
        raise RuntimeError("failed half way")
    assert list(tmp_path.iterdir()) == []


def test_durable_is_the_default(tmp_path: Path, fsyncs: list[int]) -> None:
    with atomic_output(str(tmp_path / "key")) as out:
        out.write(b"k")
    assert len(fsyncs) == 2


def test_age_commands_write_like_age(
    tmp_path: Path, fsyncs: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "x.key"
    assert main(["keygen", "--x25519", "-o", str(key)]) == 0
    recipient = re.search(r"age1\w+", key.read_text())
    assert recipient is not None
    fsyncs.clear()
    plain, sealed, opened = tmp_path / "p", tmp_path / "s", tmp_path / "o"
    plain.write_bytes(os.urandom(5 * 1024 * 1024 + 3))  # several batches
    assert main(["encrypt", "-r", recipient.group(), "-o", str(sealed), str(plain)]) == 0
    assert main(["decrypt", "-i", str(key), "-o", str(opened), str(sealed)]) == 0
    assert opened.read_bytes() == plain.read_bytes()
    assert fsyncs == []
    damaged = bytearray(sealed.read_bytes())
    damaged[len(damaged) // 2] ^= 1  # batches before it authenticate and are written
    sealed.write_bytes(bytes(damaged))
    opened.unlink()
    assert main(["decrypt", "-i", str(key), "-o", str(opened), str(sealed)]) == 1
    assert "damaged" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p", "s", "x.key"]
