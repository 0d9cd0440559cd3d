"""Guarantee 2 when a write fails: no file time to the second is left on the server's disk.

The server sets the access and modification times of what it writes back to the start of
the hour (vault/store/blobs.py ``blurring``). A write that fails half way (a full disk, a
failed rename) has already changed a time; each case below makes one step of the store fail
as a full disk would, and then every file and directory of the data directory must still
have its times on the hour.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.vaultkit import DevKeys, read_dev_keys
from vault.service.service import VaultService
from vault.service.setup import open_vault
from vault.store import NAMESPACE_SUBMISSIONS
from vault.store import blobs as blobs_module


def disk_full(*_: object, **__: object) -> Any:
    raise OSError(errno.ENOSPC, "No space left on device")


class FullDiskFile:
    """A staging file that takes the first half of a write, then reports a full disk."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def write(self, data: bytes) -> int:
        self._real.flush()
        os.write(self._real.fileno(), data[: len(data) // 2])
        disk_full()
        return 0  # pragma: no cover - disk_full raises

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class FullDatabase:
    """A connection whose writes reach the file, then fail as SQLite does on a full disk."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self._real = real

    def execute(self, sql: str, *args: Any) -> Any:
        cursor = self._real.execute(sql, *args)
        if sql.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            raise sqlite3.OperationalError("database or disk is full")
        return cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def committed_upload(service: VaultService, sealed: bytes) -> str:
    upload = service.create_upload()
    appender = service.begin_append(upload.id, 0, len(sealed))
    appender.write(sealed)
    appender.commit()
    return upload.id


def fail_staging_write(service: VaultService, dev: DevKeys, mp: pytest.MonkeyPatch) -> None:
    upload = service.create_upload()
    real_open = open
    mp.setattr(blobs_module, "open", lambda *a: FullDiskFile(real_open(*a)), raising=False)
    appender = service.begin_append(upload.id, 0)
    with pytest.raises(OSError, match="No space"):
        appender.write(dev.seal(b"testimony") * 50)


def fail_fsync(ending: str) -> Callable[[VaultService, DevKeys, pytest.MonkeyPatch], None]:
    """The fsync that ends an append (``commit`` or ``abort``) finds the disk full."""

    def fail(service: VaultService, dev: DevKeys, mp: pytest.MonkeyPatch) -> None:
        upload = service.create_upload()
        appender = service.begin_append(upload.id, 0)
        appender.write(dev.seal(b"testimony"))
        mp.setattr(blobs_module.os, "fsync", disk_full)
        with pytest.raises(OSError, match="No space"):
            getattr(appender, ending)()

    return fail


def fail_rename(service: VaultService, dev: DevKeys, mp: pytest.MonkeyPatch) -> None:
    upload_id = committed_upload(service, dev.seal(b"testimony"))
    mp.setattr(blobs_module.os, "rename", disk_full)
    with pytest.raises(OSError, match="No space"):
        service.finish_submission(upload_id)


def fail_database(service: VaultService, dev: DevKeys, mp: pytest.MonkeyPatch) -> None:
    store: Any = service.store
    mp.setattr(store, "_db", FullDatabase(store._db))
    with pytest.raises(sqlite3.OperationalError, match="full"):
        service.create_upload()


def fail_promote_row(service: VaultService, dev: DevKeys, mp: pytest.MonkeyPatch) -> None:
    upload_id = committed_upload(service, dev.seal(b"testimony"))
    store: Any = service.store
    mp.setattr(store, "_db", FullDatabase(store._db))
    with pytest.raises(sqlite3.OperationalError, match="full"):
        service.finish_submission(upload_id)


def fail_log_append(service: VaultService, dev: DevKeys, mp: pytest.MonkeyPatch) -> None:
    upload_id = committed_upload(service, dev.seal(b"testimony"))
    log: Any = service.audit_log
    real_append = log.append

    def append_then_fail(entries: Any) -> list[int]:
        real_append(entries)
        raise sqlite3.OperationalError("database or disk is full")

    mp.setattr(log, "append", append_then_fail)
    with pytest.raises(sqlite3.OperationalError, match="full"):
        service.finish_submission(upload_id)


def fail_quarantine(service: VaultService, dev: DevKeys, mp: pytest.MonkeyPatch) -> None:
    receipt = service.finish_submission(committed_upload(service, dev.seal(b"testimony")))
    mp.setattr(blobs_module.os, "rename", disk_full)
    store: Any = service.store
    with pytest.raises(OSError, match="No space"):
        store.blobs.quarantine(NAMESPACE_SUBMISSIONS, receipt.id)


FAILURES: dict[str, Callable[[VaultService, DevKeys, pytest.MonkeyPatch], None]] = {
    "a write to a staging file": fail_staging_write,
    "the fsync of a commit": fail_fsync("commit"),
    "the fsync of an abort": fail_fsync("abort"),
    "the rename of a finished upload": fail_rename,
    "a row of the metadata database": fail_database,
    "the row of a finished upload": fail_promote_row,
    "the audit log's append": fail_log_append,
    "a move to quarantine": fail_quarantine,
}


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"


@pytest.mark.parametrize("step", sorted(FAILURES))
def test_a_failed_write_leaves_only_hours(step: str, data_dir: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    opened = open_vault(data_dir, dev=True)
    try:
        dev = read_dev_keys(data_dir)
        with monkeypatch.context() as mp:
            FAILURES[step](opened.service, dev, mp)
        precise = []
        for path in [data_dir, *data_dir.rglob("*")]:
            if "dev" in path.relative_to(data_dir).parts:
                continue  # the throwaway keys of --dev, written at start
            st = path.stat()
            if st.st_mtime % 3600 or (path.is_file() and st.st_atime % 3600):
                precise.append(str(path.relative_to(data_dir)))
        assert precise == [], f"after a failure of {step}: times to the second on {precise}"
    finally:
        opened.service.close()
