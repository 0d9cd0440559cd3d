"""Guarantee 2 on a seized server disk: no precise time of a witness's action.

* After submissions, replies and roster changes, every file and directory of the data
  directory has its access and modification times on the hour, and every time written in
  any file (SQLite rows, log entries, WAL) is an hour (``YYYY-MM-DDTHH:00Z``).
* What a witness does without writing (fetch the roster, poll the mailbox, ask an upload's
  offset, download a reply) changes no time of any file and creates no file: SQLite keeps
  its WAL index in memory (no ``-shm`` file stamped by every read) and blobs are read
  without updating their access time.
* Ids are random: 128 bits from the system's CSPRNG, not a clock (a time-ordered id would
  be a timestamp of the submission).

Limit (SECURITY.md): the inode change time (ctime) of a file written by a submission
cannot be set by any process; only an encrypted volume hides it.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.vaultkit import DevKeys, read_dev_keys
from vault import age
from vault.service.mailbox import mailbox_id
from vault.service.service import Investigator, VaultService
from vault.service.setup import OpenedVault, open_vault
from vault.store import is_valid_id, new_id

TIME = re.compile(rb"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d))?")


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[tuple[OpenedVault, DevKeys, Path]]:
    data_dir = tmp_path / "data"
    opened = open_vault(data_dir, dev=True)
    yield opened, read_dev_keys(data_dir), data_dir
    opened.service.close()


def _submit(service: VaultService, sealed: bytes) -> str:
    upload = service.create_upload()
    appender = service.begin_append(upload.id, 0, len(sealed))
    appender.write(sealed)
    appender.commit()
    return service.finish_submission(upload.id).id


def _reply(service: VaultService, dev: DevKeys, mailbox: str) -> str:
    sealed = age.encrypt_bytes(b"reply", [age.X25519Identity.generate().recipient()])
    upload_id, appender = service.begin_reply(len(sealed), mailbox)
    appender.write(sealed)
    appender.commit()
    who = Investigator(dev.investigator.key_id, dev.investigator.name, ("admin", "reader"))
    return service.finish_reply(who, upload_id, mailbox).id


def _entries(root: Path) -> list[Path]:
    return [root, *sorted(root.rglob("*"))]


def _times(root: Path) -> dict[str, tuple[int, int, int]]:
    """(atime, mtime, ctime) in ns of every file and directory under ``root``."""
    found = {}
    for path in _entries(root):
        st = path.lstat()
        found[str(path.relative_to(root))] = (st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns)
    return found


def test_times_on_disk_are_hours(vault: tuple[OpenedVault, DevKeys, Path]) -> None:
    opened, dev, data_dir = vault
    service = opened.service
    for number in range(3):
        _submit(service, dev.seal(f"testimony {number}".encode()))
    _reply(service, dev, mailbox_id(secrets.token_bytes(32)))
    service.create_upload()  # one left in progress
    for path in _entries(data_dir):
        if path.parent.name == "dev" or path.name == "dev":
            continue  # throwaway keys of --dev, written at start
        st = path.stat()
        assert st.st_mtime % 3600 == 0, f"{path} mtime {st.st_mtime}"
        # A directory's access time is set by whoever lists it (this test, for one).
        if path.is_file():
            assert st.st_atime % 3600 == 0, f"{path} atime {st.st_atime}"
    for path in data_dir.rglob("*"):
        if path.is_file() and path.parent.name != "dev":
            for match in TIME.finditer(path.read_bytes()):
                minute, second = match.group(5), match.group(6)
                assert minute == b"00" and second in (None, b"00"), (
                    f"{path} holds a precise time {match.group(0)!r}")


def test_witness_reads_leave_no_time_on_disk(
        vault: tuple[OpenedVault, DevKeys, Path]) -> None:
    opened, dev, data_dir = vault
    service = opened.service
    _submit(service, dev.seal(b"testimony"))
    secret = secrets.token_bytes(32)
    reply_id = _reply(service, dev, mailbox_id(secret))
    pending = service.create_upload()
    _times(data_dir)  # reading the directories once settles their own access times
    before = _times(data_dir)
    time.sleep(0.02)

    # Everything a witness can do that writes nothing.
    assert service.roster_text() == dev.roster_text
    [waiting] = service.replies(secret)
    assert waiting.id == reply_id
    record, src = service.open_reply(secret, reply_id)
    with src:
        assert len(src.read()) == record.size
    assert service.upload_status(pending.id).offset == 0
    assert service.replies(secrets.token_bytes(32)) == []

    after = _times(data_dir)
    assert sorted(after) == sorted(before), "a read created or removed a file"
    changed = {path: (before[path], after[path]) for path in before
               if before[path] != after[path]}
    assert changed == {}, f"a read changed the times of {sorted(changed)}"
    assert not any(name.endswith("vault.sqlite3-shm") for name in after)


def test_ids_are_random_not_time_ordered() -> None:
    ids = [new_id() for _ in range(600)]
    assert len(set(ids)) == len(ids) and all(is_valid_id(i) for i in ids)
    # Any clock-derived scheme (UUIDv1/v6/v7, ULID, KSUID, a counter) keeps some hex digit
    # nearly constant across ids made within a second; random ids use all 16 values at
    # every position (the chance that one of 32 positions misses 5 values is < 1e-100).
    for position in range(32):
        values = {i[position] for i in ids}
        assert len(values) >= 12, f"position {position} takes only {sorted(values)}"
    assert ids != sorted(ids)


def test_submission_id_is_not_the_upload_id(vault: tuple[OpenedVault, DevKeys, Path]) -> None:
    """The witness knows its upload id; the stored testimony goes by a fresh one, and the
    staging file is gone (renamed), so the upload id names nothing on disk afterwards."""
    opened, dev, data_dir = vault
    service = opened.service
    sealed = dev.seal(b"testimony")
    upload = service.create_upload()
    appender = service.begin_append(upload.id, 0, len(sealed))
    appender.write(sealed)
    appender.commit()
    receipt = service.finish_submission(upload.id)
    assert receipt.id != upload.id
    names = [p.name for p in data_dir.rglob("*")]
    assert not any(upload.id in name for name in names)
    assert receipt.id in names
    assert os.path.exists(data_dir / "blobs" / "submissions" / receipt.id)
    # The row is gone from the database (its old page may linger in the WAL until the
    # next checkpoint: SECURITY.md).
    assert service.store._db.execute(  # type: ignore[attr-defined]
        "SELECT COUNT(*) FROM uploads WHERE id = ?", (upload.id,)).fetchone() == (0,)


def test_quiet_open_falls_back_when_noatime_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """O_NOATIME is refused for files owned by another user: the read still works."""
    from vault.store import blobs

    path = tmp_path / "blob"
    path.write_bytes(b"sealed")
    real_open = os.open
    tried: list[int] = []

    def refusing_open(name: object, flags: int, *args: object) -> int:
        tried.append(flags)
        if flags & getattr(os, "O_NOATIME", 0):
            raise PermissionError(1, "Operation not permitted")
        return real_open(name, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(blobs.os, "open", refusing_open)
    with blobs.open_quietly(path) as f:
        assert f.read() == b"sealed"
    assert len(tried) == (2 if getattr(os, "O_NOATIME", 0) else 1)
