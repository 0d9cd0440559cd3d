"""The store contract, on every backend: staged uploads, durable promotion, records,
rosters, orphans, modes."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from vault.store import (
    ConflictError,
    NotFoundError,
    ReplyRecord,
    RosterRecord,
    Store,
    SubmissionRecord,
    is_valid_id,
    new_id,
    open_store,
    require_id,
)
from vault.store.postgres import PostgresStore
from vault.store.sqlite import EmbeddedStore

HOUR = "2026-11-21T05:00Z"


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Every backend of the Store seam passes the same contract: the embedded store, and
    PostgreSQL with its sealed files in the same directory layout (tests/conftest.py)."""
    if request.param == "sqlite":
        opened = open_store(tmp_path / "data")
        assert isinstance(opened, EmbeddedStore)
    else:
        opened = open_store(request.getfixturevalue("postgres_dsn"), blobs=tmp_path / "data")
        assert isinstance(opened, PostgresStore)
    yield opened
    opened.close()


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedStore]:
    """The embedded store alone, for what is about SQLite and its files."""
    opened = open_store(tmp_path / "data")
    assert isinstance(opened, EmbeddedStore)
    yield opened
    opened.close()


def staged(store: Store, data: bytes) -> str:
    upload_id = new_id()
    store.create_upload(upload_id, HOUR)
    writer = store.append_upload(upload_id, 0, HOUR)
    writer.write(data)
    assert writer.commit() == len(data)
    return upload_id


def test_ids() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100 and all(is_valid_id(i) for i in ids)
    for bad in ("", "..", "0" * 31, "0" * 32 + "\n", "A" * 32, "../" + "0" * 29):
        assert not is_valid_id(bad)
        with pytest.raises(NotFoundError):
            require_id(bad)


def test_append_commit_abort_and_offsets(store: Store) -> None:
    upload_id = staged(store, b"hello ")
    assert store.get_upload(upload_id).offset == 6
    with pytest.raises(ConflictError):
        store.append_upload(upload_id, 5, HOUR)
    writer = store.append_upload(upload_id, 6, HOUR)
    writer.write(b"junk")
    writer.abort()
    assert store.get_upload(upload_id).offset == 6
    writer = store.append_upload(upload_id, 6, "2026-11-21T06:00Z")
    writer.write(b"world")
    writer.commit()
    record = store.get_upload(upload_id)
    assert (record.offset, record.touched) == (11, "2026-11-21T06:00Z")
    with store.open_upload(upload_id) as f:
        assert f.read() == b"hello world"
    with pytest.raises(ConflictError):
        store.create_upload(upload_id, HOUR)
    store.delete_upload(upload_id)
    with pytest.raises(NotFoundError):
        store.get_upload(upload_id)
    for call in (lambda: store.get_upload(".."), lambda: store.create_upload("..", HOUR),
                 lambda: store.delete_upload("x")):
        with pytest.raises(NotFoundError):
            call()


def test_promote_list_open_delete(store: Store, tmp_path: Path) -> None:
    ids = []
    for n in range(5):
        upload_id = staged(store, b"sealed %d" % n)
        record = SubmissionRecord(new_id(), "ab" * 32, 8, HOUR, -1)
        store.promote_submission(upload_id, record)
        assert store.pending_submissions() == [record]
        store.set_submission_log_index(record.id, n)
        ids.append(record.id)
        with pytest.raises(NotFoundError):
            store.get_upload(upload_id)
    assert store.pending_submissions() == []
    page, cursor = store.list_submissions(0, 2)
    assert [r.id for r in page] == ids[:2]
    page, cursor = store.list_submissions(cursor, 10)
    assert [r.id for r in page] == ids[2:]
    assert store.list_submissions(cursor, 10) == ([], cursor)
    with store.open_submission(ids[0]) as f:
        assert f.read() == b"sealed 0"
    store.delete_submission(ids[0])
    with pytest.raises(NotFoundError):
        store.get_submission(ids[0])
    with pytest.raises(NotFoundError):
        store.open_submission(ids[0])
    with pytest.raises(NotFoundError):
        store.set_submission_log_index(ids[0], 9)
    assert not (tmp_path / "data" / "blobs" / "submissions" / ids[0]).exists()
    with pytest.raises(ConflictError):
        store.promote_submission(staged(store, b"x"), SubmissionRecord(ids[1], "", 1, HOUR, -1))


def test_replies_by_mailbox(store: Store) -> None:
    box = "cd" * 32
    reply = ReplyRecord(new_id(), box, "ef" * 32, 5, HOUR, -1)
    store.promote_reply(staged(store, b"reply"), reply)
    assert store.list_replies(box) == []  # not logged yet: invisible
    assert store.pending_replies() == [reply]
    store.set_reply_log_index(reply.id, 3)
    assert [r.id for r in store.list_replies(box)] == [reply.id]
    assert store.list_replies("00" * 32) == [] and store.list_replies("bad") == []
    with store.open_reply(box, reply.id) as f:
        assert f.read() == b"reply"
    for args in ((box, new_id()), ("00" * 32, reply.id), ("bad", reply.id), (box, "..")):
        with pytest.raises(NotFoundError):
            store.open_reply(*args)
    with pytest.raises(NotFoundError):
        store.promote_reply(staged(store, b"x"), ReplyRecord(new_id(), "../x", "", 1, HOUR, -1))
    with pytest.raises(NotFoundError):
        store.set_reply_log_index(new_id(), 1)


def test_roster_versions_only_grow(store: Store) -> None:
    assert store.current_roster() is None
    store.put_roster(RosterRecord(2, "two"))
    for version in (1, 2):
        with pytest.raises(ConflictError):
            store.put_roster(RosterRecord(version, "old"))
    store.put_roster(RosterRecord(5, "five"))
    assert store.current_roster() == RosterRecord(5, "five")


def test_orphans_and_stale_staging(store: Store, tmp_path: Path) -> None:
    data = tmp_path / "data"
    orphan = new_id()
    (data / "blobs" / "submissions" / orphan).write_bytes(b"left by a crash")
    (data / "blobs" / "replies" / "not-an-id").write_bytes(b"ignored")
    assert store.orphaned_blobs() == [("submissions", orphan)]
    store.delete_orphan("submissions", orphan)
    assert store.orphaned_blobs() == []
    stray = new_id()
    (data / "uploads" / f"{stray}.part").write_bytes(b"")
    old = new_id()
    store.create_upload(old, "2026-11-20T01:00Z")
    fresh = new_id()
    store.create_upload(fresh, HOUR)
    assert sorted(store.uploads_touched_before("2026-11-21T00:00Z")) == sorted([old, stray])


def test_modes_and_hour_times(store: Store, tmp_path: Path) -> None:
    data = tmp_path / "data"
    upload_id = staged(store, b"x")
    store.promote_submission(upload_id, SubmissionRecord(new_id(), "ab", 1, HOUR, 0))
    for path in [data, *data.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"
    for path in (data / "blobs").rglob("*"):
        assert path.stat().st_mtime % 3600 == 0
    store.close()


def test_promoting_to_an_id_in_use_is_refused_and_keeps_both(store: Store) -> None:
    first = SubmissionRecord(new_id(), "ab" * 32, 5, HOUR, 0)
    store.promote_submission(staged(store, b"first"), first)
    second = staged(store, b"other")
    with pytest.raises(ConflictError, match="submission id already used"):
        store.promote_submission(second, SubmissionRecord(first.id, "cd" * 32, 5, HOUR, 1))
    assert store.get_upload(second).offset == 5
    with store.open_submission(first.id) as f:
        assert f.read() == b"first"

    mailbox = "e" * 64
    reply = ReplyRecord(new_id(), mailbox, "ab" * 32, 5, HOUR, 0)
    store.promote_reply(staged(store, b"reply"), reply)
    again = staged(store, b"later")
    with pytest.raises(ConflictError, match="reply id already used"):
        store.promote_reply(again, ReplyRecord(reply.id, mailbox, "cd" * 32, 5, HOUR, 1))
    assert store.get_upload(again).offset == 5
    with store.open_reply(mailbox, reply.id) as f:
        assert f.read() == b"reply"


def _watch_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the path of every descriptor fsynced from now on (through /proc/self/fd)."""
    import os

    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


@pytest.mark.parametrize("durable", [True, False])
def test_a_promoted_blob_is_durable_however_it_was_staged(
        embedded: EmbeddedStore, monkeypatch: pytest.MonkeyPatch, durable: bool) -> None:
    """A one-request submission stages without waiting for the disk (nothing was
    acknowledged yet); promotion, which comes before the receipt, must then make the bytes
    and their name durable: the sealed file and its directory are fsynced, and the row is
    committed with synchronous=FULL."""
    store = embedded
    synced = _watch_fsyncs(monkeypatch)
    upload_id = new_id()
    store.create_upload(upload_id, HOUR, durable=durable)
    writer = store.append_upload(upload_id, 0, HOUR, durable=durable)
    writer.write(b"sealed bytes")
    writer.commit()
    staging = str(store.data_dir / "uploads" / f"{upload_id}.part")
    assert (staging in synced) is durable
    synced.clear()
    record = SubmissionRecord(new_id(), "00" * 32, 12, HOUR, -1)
    store.promote_submission(upload_id, record)
    blob = store.data_dir / "blobs" / "submissions" / record.id
    assert synced[0] == staging  # the bytes, fsynced before they are renamed into place
    assert str(blob.parent) in synced  # the new name
    assert blob.read_bytes() == b"sealed bytes"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again
