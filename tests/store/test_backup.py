"""Backups, restores, fsck's complete checks and schema versions, on data directories made
from the committed predecessor fixture (tests/store/fixtures/datadir-v1.tar: a data directory
written by the release before schema versions, three submissions, log size 4).

Each test can fail: a restore that accepts a hostile member, a blob that changes without
fsck naming it, a deletion after the snapshot that leaves a backup without the blob its
database records, a newer data directory opened by this release.
"""

from __future__ import annotations

import io
import json
import os
import socket
import sqlite3
import tarfile
import time
from pathlib import Path

import pytest

from vault.cli import main
from vault.service.setup import SetupError, open_vault
from vault.store import NAMESPACE_SUBMISSIONS
from vault.store.backup import (
    CONTROL_SOCKET,
    MANIFEST_NAME,
    ArchiveError,
    BackupError,
    backup,
    restore,
    snapshot_of,
    take_snapshot,
    write_archive,
)
from vault.store.sqlite import DATABASE_NAME, SCHEMA_VERSION, EmbeddedStore, SchemaVersionError

FIXTURE = Path(__file__).parent / "fixtures" / "datadir-v1.tar"
# The fixture's last signed checkpoint (printed by make_predecessor_fixture.py).
FIXTURE_CHECKPOINT = (
    "amanat-log-4427b343\n4\ntvkEvkuLNGKFUyZ1lvcGDNrbfjoInZWA3hI3ygeL5cM=\n\n"
    "— amanat-log-4427b343 JtIdVDFWtWZcsiNsdxlPK28wqyY5h6kUTKIo1ZsWoVVBKYDq2ls8ANyVAlWeMTxFWXH"
    "QuxmMbblmDvuAx6rix8SKPQk=\n")
FIXTURE_IDS = ["d1dc7b20b3c09325685e0917554a93ca", "d3f0f770051d0f6db41f6ece97b07aca",
               "36fdfccb16cbccd3fc06eb6d8c68e198"]


def predecessor(tmp_path: Path, name: str = "data") -> Path:
    target = tmp_path / name
    target.mkdir(mode=0o700)
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(target, filter="data")
    return target


def fsck(capsys: pytest.CaptureFixture[str], data: Path) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(["fsck", "--data", str(data)])
    out, err = capsys.readouterr()
    return status, out, err


def user_version(data: Path) -> int:
    conn = sqlite3.connect(data / DATABASE_NAME)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


# --- schema versions ---------------------------------------------------------------------------


def test_predecessor_opens_with_the_same_log_root(tmp_path: Path) -> None:
    data = predecessor(tmp_path)
    assert user_version(data) == 0  # written before versions
    opened = open_vault(data)
    try:
        assert opened.service.log_checkpoint() == FIXTURE_CHECKPOINT
        records = opened.service.store.record_indices(NAMESPACE_SUBMISSIONS)
        assert sorted(records) == sorted(FIXTURE_IDS)
    finally:
        opened.close()
    assert user_version(data) == SCHEMA_VERSION
    opened = open_vault(data)  # and again, now at this release's version
    try:
        assert opened.service.log_checkpoint() == FIXTURE_CHECKPOINT
    finally:
        opened.close()


def test_newer_data_directory_refused_naming_both_versions(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = predecessor(tmp_path)
    conn = sqlite3.connect(data / DATABASE_NAME)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = {p: p.stat().st_mtime_ns for p in data.rglob("*")}
    with pytest.raises(SetupError) as refused:
        open_vault(data)
    message = str(refused.value)
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert f"reads schema version {SCHEMA_VERSION}" in message
    assert user_version(data) == SCHEMA_VERSION + 1
    assert {p: p.stat().st_mtime_ns for p in data.rglob("*")} == before  # nothing written
    status, _, err = fsck(capsys, data)
    assert status == 2
    assert f"schema version {SCHEMA_VERSION + 1}" in err
    with pytest.raises(SchemaVersionError):
        EmbeddedStore(data)


# --- fsck names what is wrong ------------------------------------------------------------------


def test_fsck_passes_the_predecessor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = fsck(capsys, predecessor(tmp_path))
    assert (status, err) == (0, "")
    assert "(size 4): 3 submissions held" in out


def test_fsck_names_a_corrupted_blob(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    data = predecessor(tmp_path)
    blob = data / "blobs" / "submissions" / FIXTURE_IDS[1]
    content = bytearray(blob.read_bytes())
    content[-10] ^= 0x01  # same size, one bit
    blob.write_bytes(bytes(content))
    status, _, err = fsck(capsys, data)
    assert status == 1
    assert (f"amanat: damaged: submission {FIXTURE_IDS[1]} (log entry 2): its sealed file "
            f"blobs/submissions/{FIXTURE_IDS[1]} has SHA-256 ") in err
    assert err.count("amanat: damaged:") == 1
    assert "1 damaged (listed above)" in err


def test_fsck_names_a_truncated_and_a_missing_blob(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = predecessor(tmp_path)
    truncated = data / "blobs" / "submissions" / FIXTURE_IDS[0]
    os.truncate(truncated, 1000)
    (data / "blobs" / "submissions" / FIXTURE_IDS[2]).unlink()
    status, _, err = fsck(capsys, data)
    assert status == 1
    assert (f"amanat: missing: submission {FIXTURE_IDS[0]} (log entry 1, ") in err
    assert "has a sealed file of 1000 bytes where the log records 1671" in err
    assert (f"amanat: missing: submission {FIXTURE_IDS[2]} (log entry 3, ") in err
    assert "has a database row but no sealed file" in err


def test_fsck_names_an_entry_that_disagrees_with_the_tree(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = predecessor(tmp_path)
    conn = sqlite3.connect(data / "auditlog.sqlite3")
    with conn:
        (entry,) = conn.execute("SELECT data FROM log_entries WHERE idx = 1").fetchone()
        conn.execute("UPDATE log_entries SET data = ? WHERE idx = 1",
                     (bytes(entry).replace(b"size 1671", b"size 1672"),))
    conn.close()
    status, _, err = fsck(capsys, data)
    assert status == 1
    assert err.startswith("amanat: damaged: the audit log (")
    assert "does not match" in err


def test_fsck_names_a_tree_that_disagrees_with_the_checkpoint(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = predecessor(tmp_path)
    conn = sqlite3.connect(data / "auditlog.sqlite3")
    with conn:
        assert conn.execute("UPDATE log_tree SET hash = ? WHERE level = 2 AND idx = 0",
                            (bytes(32),)).rowcount == 1
    conn.close()
    status, _, err = fsck(capsys, data)
    assert status == 1
    assert "amanat: damaged: the audit log" in err
    assert "is not the latest checkpoint's root" in err


def test_fsck_names_quarantined_files(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    data = predecessor(tmp_path)
    stray = "ab" * 16
    (data / "blobs" / "submissions" / stray).write_bytes(b"not sealed")
    status, out, err = fsck(capsys, data)
    assert status == 0, err
    assert (f"amanat: kept: quarantine/submissions/{stray}: a sealed file no log entry records "
            f"(submission id {stray}); kept, not served") in out


# --- backup and restore ------------------------------------------------------------------------


def test_backup_of_a_stopped_directory_restores_and_passes_fsck(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = predecessor(tmp_path)
    archive = tmp_path / "backup.tar"
    capsys.readouterr()
    assert main(["backup", "--data", str(data), "-o", str(archive)]) == 0
    out, _ = capsys.readouterr()
    assert "log size 4, 3 submissions" in out
    assert "holds the log key" in out
    assert archive.stat().st_mode & 0o777 == 0o600
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
    assert members[0].name == MANIFEST_NAME
    assert all(m.mtime == 0 and m.uid == 0 and m.uname == "" for m in members)
    names = {m.name for m in members}
    assert {"log.key", "org.vkey", "vault.sqlite3", "auditlog.sqlite3"} <= names
    assert {f"blobs/submissions/{i}" for i in FIXTURE_IDS} <= names
    assert not any(n.startswith(("uploads", "dev", "auth.secret", "snapshots")) for n in names)
    assert not (data / "snapshots").exists()
    restored = tmp_path / "restored"
    capsys.readouterr()
    assert main(["restore", str(archive), "--data", str(restored)]) == 0
    out, err = capsys.readouterr()
    assert "3 submissions held" in out, err
    opened = open_vault(restored)
    try:
        assert opened.service.log_checkpoint() == FIXTURE_CHECKPOINT
    finally:
        opened.close()


def test_backup_holds_no_login_tokens_or_uploads(tmp_path: Path) -> None:
    data = predecessor(tmp_path)
    store = EmbeddedStore(data)
    store.put_token("ff" * 32, "key", 2**40)
    store.create_upload("cd" * 16, "2026-01-01T00Z")
    store.close()
    backup(data, tmp_path / "b.tar")
    with tarfile.open(tmp_path / "b.tar") as tar:
        src = tar.extractfile("vault.sqlite3")
        assert src is not None
        copy = src.read()
    (tmp_path / "copy.sqlite3").write_bytes(copy)
    conn = sqlite3.connect(tmp_path / "copy.sqlite3")
    assert conn.execute("SELECT COUNT(*) FROM tokens").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM uploads").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 3
    conn.close()
    assert b"ff" * 32 not in copy


def test_a_deletion_after_the_snapshot_leaves_its_blob_in_the_backup(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = predecessor(tmp_path)
    opened = open_vault(data)
    store = opened.service.store
    assert isinstance(store, EmbeddedStore)
    audit_log = opened.service.audit_log
    snap = take_snapshot(store, audit_log.backup_to)  # type: ignore[attr-defined]
    try:
        # What a deletion does after its log entry: remove the row and the sealed file.
        store.delete_submission(FIXTURE_IDS[0])
        assert not (data / "blobs" / "submissions" / FIXTURE_IDS[0]).exists()
        with open(tmp_path / "b.tar", "wb") as out:
            report = write_archive(data, snap, out)
    finally:
        from vault.store.backup import release_snapshot
        release_snapshot(store, snap.directory)
        opened.close()
    assert report.problems == []
    assert report.submissions == 3
    assert not (data / "snapshots").exists()
    restored = tmp_path / "restored"
    restore(tmp_path / "b.tar", restored)
    status, out, err = fsck(capsys, restored)
    assert (status, err) == (0, "")
    assert "3 submissions held" in out


def test_backup_names_a_damaged_blob_and_still_writes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = predecessor(tmp_path)
    blob = data / "blobs" / "submissions" / FIXTURE_IDS[2]
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x00")
    capsys.readouterr()
    assert main(["backup", "--data", str(data), "-o", str(tmp_path / "b.tar")]) == 1
    _, err = capsys.readouterr()
    assert f"amanat: damaged: blobs/submissions/{FIXTURE_IDS[2]}: 1671 bytes with SHA-256" in err
    assert (tmp_path / "b.tar").exists()


def test_backup_without_the_log_key(tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    data = predecessor(tmp_path)
    archive = tmp_path / "b.tar"
    assert main(["backup", "--data", str(data), "-o", str(archive), "--no-log-key"]) == 0
    with tarfile.open(archive) as tar:
        assert "log.key" not in tar.getnames()
    with pytest.raises(BackupError, match="--log-key"):
        restore(archive, tmp_path / "r1")
    assert not (tmp_path / "r1").exists()
    capsys.readouterr()
    assert main(["restore", str(archive), "--data", str(tmp_path / "r2"),
                 "--log-key", str(data / "log.key")]) == 0
    assert (tmp_path / "r2" / "log.key").read_bytes() == (data / "log.key").read_bytes()
    assert (tmp_path / "r2" / "log.key").stat().st_mode & 0o777 == 0o600


def test_restore_refuses_a_non_empty_directory(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    data = predecessor(tmp_path)
    archive = tmp_path / "b.tar"
    backup(data, archive)
    target = tmp_path / "busy"
    target.mkdir()
    (target / "something").write_text("keep me")
    capsys.readouterr()
    assert main(["restore", str(archive), "--data", str(target)]) == 2
    _, err = capsys.readouterr()
    assert "is not empty" in err
    assert [p.name for p in target.iterdir()] == ["something"]
    with pytest.raises(BackupError, match="not empty"):
        restore(archive, data)  # a live data directory, least of all
    empty = tmp_path / "empty"
    empty.mkdir(mode=0o755)  # the root of a mounted volume, say: restored into, in place
    inode = empty.stat().st_ino
    restore(archive, empty)
    assert (empty / "vault.sqlite3").is_file()
    assert empty.stat().st_ino == inode
    assert empty.stat().st_mode & 0o777 == 0o700
    assert not [p for p in empty.iterdir() if p.name.startswith(".")]
    status, _, err = fsck(capsys, empty)
    assert (status, err) == (0, "")
    hostile = tmp_path / "hostile-into-empty"
    hostile.mkdir()
    with pytest.raises(ArchiveError):
        restore(_hostile(tmp_path / "h.tar", [(_member("../x"), b"x")]), hostile)
    assert list(hostile.iterdir()) == []


def _hostile(path: Path, members: list[tuple[tarfile.TarInfo, bytes]],
             manifest: dict[str, object] | None = None) -> Path:
    text = json.dumps(manifest or {"format": "amanat/backup/v1", "schema": SCHEMA_VERSION,
                                   "log_size": 4, "log_key": True}).encode()
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize(("members", "reason"), [
    ([(_member("/etc/amanat-was-here"), b"x")], "not a name a backup holds"),
    ([(_member("../escaped"), b"x")], "not a name a backup holds"),
    ([(_member("blobs/submissions/../../escaped"), b"x")], "not a name a backup holds"),
    ([(_member("log.key", tarfile.SYMTYPE, "/etc/passwd"), b"")], "not a regular file"),
    ([(_member("vault.sqlite3", tarfile.LNKTYPE, "log.key"), b"")], "not a regular file"),
    ([(_member("blobs", tarfile.DIRTYPE), b"")], "not a regular file"),
    ([(_member("org.vkey", tarfile.CHRTYPE), b"")], "not a regular file"),
    ([(_member("auth.secret"), b"x" * 32)], "not a name a backup holds"),
    ([(_member("log.key"), b"a"), (_member("log.key"), b"b")], "twice"),
    ([(_member(MANIFEST_NAME), b"{}")], "twice"),
    ([(_member("org.vkey"), b"x")], "holds no vault.sqlite3"),
])
def test_restore_refuses_hostile_archives(tmp_path: Path,
                                          members: list[tuple[tarfile.TarInfo, bytes]],
                                          reason: str) -> None:
    archive = _hostile(tmp_path / "hostile.tar", members)
    target = tmp_path / "sub" / "data"
    target.parent.mkdir()
    with pytest.raises(ArchiveError, match=reason):
        restore(archive, target)
    assert list(target.parent.iterdir()) == []  # nothing left, not even the work directory
    assert not (tmp_path / "escaped").exists()


def test_restore_refuses_other_archives(tmp_path: Path) -> None:
    target = tmp_path / "data"
    with pytest.raises(SchemaVersionError, match=f"schema version {SCHEMA_VERSION + 1}"):
        restore(_hostile(tmp_path / "newer.tar", [], {"format": "amanat/backup/v1",
                                                      "schema": SCHEMA_VERSION + 1}), target)
    with pytest.raises(ArchiveError, match="not an amanat backup"):
        restore(_hostile(tmp_path / "other.tar", [], {"format": "something/else"}), target)
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as tar:
        info = tarfile.TarInfo("vault.sqlite3")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(ArchiveError, match=f"does not begin with {MANIFEST_NAME}"):
        restore(plain, target)
    (tmp_path / "junk.tar").write_bytes(b"\x00junk" * 100)
    with pytest.raises(ArchiveError):
        restore(tmp_path / "junk.tar", target)
    assert not target.exists()


def test_the_running_server_takes_the_snapshot_and_keeps_deleted_blobs_for_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Through control.sock, as `amanat backup` does while a server holds the directory."""
    data = predecessor(tmp_path)
    opened = open_vault(data, control=True)
    try:
        store = opened.service.store
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(data / CONTROL_SOCKET))
            sock.sendall(b"hello\n")
            assert b"unknown request" in sock.recv(100)
        with snapshot_of(data) as snap:
            assert snap.directory.parent == data / "snapshots"
            assert snap.log_size == 4
            store.delete_submission(FIXTURE_IDS[1])  # after the snapshot, as a deletion does
            with open(tmp_path / "b.tar", "wb") as out:
                report = write_archive(data, snap, out)
        assert report.problems == [] and report.submissions == 3
        deadline = 50
        while (data / "snapshots").exists() and deadline:  # the server releases it
            time.sleep(0.1)
            deadline -= 1
        assert not (data / "snapshots").exists()
    finally:
        opened.close()
    assert not (data / CONTROL_SOCKET).exists()
    restore(tmp_path / "b.tar", tmp_path / "restored")
    status, out, err = fsck(capsys, tmp_path / "restored")
    assert (status, err) == (0, "")
    assert "3 submissions held" in out


def test_an_encrypted_backup_is_never_in_the_clear_and_restores_with_the_identity(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vault import age

    data = predecessor(tmp_path)
    identity = age.MLKEM768X25519Identity.generate()
    key_file = tmp_path / "backup.identity"
    key_file.write_text(str(identity) + "\n")
    key_file.chmod(0o600)
    archive = tmp_path / "b.tar.age"
    capsys.readouterr()
    assert main(["backup", "--data", str(data), "-o", str(archive),
                 "-r", str(identity.recipient())]) == 0
    out, _ = capsys.readouterr()
    assert "encrypted (age) to 1 recipient(s); it holds the log key" in out
    sealed = archive.read_bytes()
    assert sealed.startswith(b"age-encryption.org/v1\n")
    assert (data / "log.key").read_bytes().strip() not in sealed
    assert b"amanat-backup.json" not in sealed
    assert archive.stat().st_mode & 0o777 == 0o600

    with pytest.raises(ArchiveError, match="encrypted"):
        restore(archive, tmp_path / "r0")
    other = tmp_path / "other.identity"
    other.write_text(str(age.MLKEM768X25519Identity.generate()) + "\n")
    other.chmod(0o600)
    capsys.readouterr()
    assert main(["restore", str(archive), "--data", str(tmp_path / "r1"), "-i",
                 str(other)]) == 2
    assert not (tmp_path / "r1").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".r1")] == []
    # Cut short: the stream's authentication fails, nothing is restored.
    cut = tmp_path / "cut.tar.age"
    cut.write_bytes(sealed[: len(sealed) - 100])
    assert main(["restore", str(cut), "--data", str(tmp_path / "r2"), "-i",
                 str(key_file)]) == 2
    assert not (tmp_path / "r2").exists()
    capsys.readouterr()
    assert main(["restore", str(archive), "--data", str(tmp_path / "r3"), "-i",
                 str(key_file)]) == 0
    out, err = capsys.readouterr()
    assert "3 submissions held" in out, err


def test_predecessor_keys_are_classical_until_upgraded(tmp_path: Path) -> None:
    from keys.org import CLASSICAL_PREFIX
    from vault.tlog.checkpoint import open_checkpoint
    from vault.tlog.note import HybridVerifier, MissingSignatureError

    data = predecessor(tmp_path)
    old_log_key = (data / "log.key").read_bytes()
    opened = open_vault(data)
    try:  # an Ed25519-only org key is served under the classical policy, and said so
        assert opened.service.org_vkey is not None
        assert opened.service.org_vkey.startswith(CLASSICAL_PREFIX)
        classical_log = opened.service.log_vkey
        assert " " not in classical_log
    finally:
        opened.close()
    assert (data / "log.key").read_bytes() == old_log_key  # nothing changed unasked
    opened = open_vault(data, upgrade_log_key=True)
    try:
        service = opened.service
        assert service.log_vkey.startswith(classical_log + " ")  # the Ed25519 half is kept
        assert service.log_checkpoint() == FIXTURE_CHECKPOINT  # older checkpoints still hold
        service.audit_log.append([b"after the upgrade\n"])
        hybrid = HybridVerifier.from_vkey(service.log_vkey)
        signed = service.log_checkpoint()
        assert open_checkpoint(signed, hybrid, hybrid.name).size == 5
        with pytest.raises(MissingSignatureError):  # the old checkpoint lacks the new half
            open_checkpoint(FIXTURE_CHECKPOINT, hybrid, hybrid.name)
    finally:
        opened.close()
    again = open_vault(data)
    try:
        assert again.service.log_vkey == service.log_vkey
    finally:
        again.close()
