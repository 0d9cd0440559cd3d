"""The room held back for investigators (vault/service/room.py) and what counts as a full
disk."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest

from vault.service.room import ROOM_NAME, EmergencyRoom, disk_full


def test_held_released_once_and_held_again(tmp_path: Path) -> None:
    room = EmergencyRoom(tmp_path, size=3 * 1024 * 1024 + 5)
    assert not room.held
    assert room.ensure() and room.held
    assert (tmp_path / ROOM_NAME).stat().st_size == 3 * 1024 * 1024 + 5
    assert oct((tmp_path / ROOM_NAME).stat().st_mode & 0o777) == "0o600"
    assert room.ensure()  # already held: nothing written
    assert room.release()
    assert not room.release()  # nothing left to give
    assert not room.held
    assert room.ensure() and room.held
    assert not list(tmp_path.glob(".*part"))


def test_not_held_without_space_for_it_and_as_much_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    room = EmergencyRoom(tmp_path, size=1024 * 1024)
    real = os.statvfs(tmp_path)

    class Small:
        f_frsize = real.f_frsize
        f_bavail = (2 * 1024 * 1024 - 1) // real.f_frsize

    monkeypatch.setattr(os, "statvfs", lambda _path: Small())
    assert not room.ensure() and not room.held


def test_a_write_that_fails_leaves_no_partial_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    room = EmergencyRoom(tmp_path, size=1024)

    def no_space(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    assert not room.ensure()
    assert list(tmp_path.iterdir()) == []


def test_what_counts_as_a_full_disk() -> None:
    assert disk_full(OSError(errno.ENOSPC, "full"))
    assert disk_full(OSError(errno.EDQUOT, "quota"))
    assert disk_full(sqlite3.OperationalError("database or disk is full"))
    try:
        try:
            raise OSError(errno.ENOSPC, "full")
        except OSError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert disk_full(outer)
    assert not disk_full(OSError(errno.EACCES, "denied"))
    assert not disk_full(sqlite3.OperationalError("database is locked"))
    assert not disk_full(ValueError("x"))
