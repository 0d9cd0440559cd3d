"""Backups of a data directory while its server runs, and their restore.

Protects "a submission is acknowledged only once it survives" beyond one disk: ``amanat
backup`` writes one archive holding every submission acknowledged before it began, taken
while the server keeps accepting testimony, and ``amanat restore`` puts it back so that
the same log continues.

How a consistent snapshot is taken without stopping the server:

* The running server holds its metadata database exclusively (no other process can read
  it, DEPLOY.md §2), so the server itself copies both databases, with SQLite's online backup
  API, while it holds the store's lock and the log's: the pair is the state a crash at that
  instant would leave, which every start repairs (``recover``: a promoted submission not yet
  logged is logged; ``reconcile``: a logged deletion not yet done is finished). The
  ``amanat backup`` process asks for it over a Unix socket in the data directory
  (``control.sock``, 0600: only the server's user, or root, can connect), so no HTTP route
  exists for it. With no server running, ``amanat backup`` holds the data directory itself
  and copies the databases the same way.
* The copies record which blobs exist. Blobs are written before their row and never
  overwritten, so every blob a copy records is in ``blobs/`` when the copy is taken; one
  removed later (a logged deletion, after the snapshot) is first linked into the snapshot's
  ``pinned/`` directory (vault/store/blobs.py ``pin``) while the backup runs. The backup
  then reads every recorded blob, checks its SHA-256 and size against its row, and writes it.
* The archive is a POSIX tar (pax), written to a temporary file, fsynced and renamed into
  place, mode 0600. It holds ``amanat-backup.json`` (format, schema version, log size), the
  log key unless left out, ``org.vkey``, the two database copies (login tokens and unfinished
  uploads removed: neither was acknowledged to anyone), the recorded blobs and the quarantine.
  Every member has time 0 and owner 0: the archive says nothing about when anything arrived
  beyond the hours the databases already hold. Never ``auth.secret`` (a restored server
  makes a new one; investigators log in again), ``uploads/`` or ``dev/``.

Restore treats the archive as hostile input: only regular files with the exact names above
(no absolute path, ``..``, link, device or sparse member, no name twice), manifest first, a
schema version this release reads; into a directory that does not exist or is empty, by way
of a temporary sibling renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import tarfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO, TypeVar

from vault.store import (
    NAMESPACE_REPLIES,
    NAMESPACE_SUBMISSIONS,
    NAMESPACES,
    DataDirBusyError,
    StoreError,
)
from vault.store.blobs import BlobDirectory, blur_times, fsync_directory, open_quietly
from vault.store.sqlite import (
    DATABASE_NAME,
    SCHEMA_VERSION,
    SNAPSHOTS_DIR,
    EmbeddedStore,
    SchemaVersionError,
    newer_version_message,
    remembered_blobs_url,
)

# Names in a data directory (vault/service/setup.py uses these too).
LOG_KEY_FILE = "log.key"
ORG_VKEY_FILE = "org.vkey"
AUDIT_LOG_FILE = "auditlog.sqlite3"
AUTH_SECRET_FILE = "auth.secret"  # noqa: S105 - a file name
CONTROL_SOCKET = "control.sock"

ARCHIVE_FORMAT = "amanat/backup/v1"
MANIFEST_NAME = "amanat-backup.json"
PINNED_DIR = "pinned"

T = TypeVar("T")
_CHUNK = 1 << 20
_REQUEST_SECONDS = 10.0
_SNAPSHOT_SECONDS = 600.0
_SUN_PATH_MAX = 100  # sockaddr_un holds 108 bytes; keep room

_MEMBER = re.compile(
    r"(amanat-backup\.json|log\.key|org\.vkey|vault\.sqlite3|auditlog\.sqlite3"
    r"|blobs/(submissions|replies)/[0-9a-f]{32}"
    r"|quarantine/(submissions|replies)/[0-9a-f]{32}(\.[0-9]{1,6})?)")
_QUARANTINED = re.compile(r"[0-9a-f]{32}(\.[0-9]{1,6})?")


class BackupError(StoreError):
    """A backup or restore cannot be made as asked (the message says why)."""


class ArchiveError(BackupError):
    """The archive is not a backup this release restores (damaged, hostile or newer)."""


# --- the snapshot, taken where the databases are held ---------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """Copies of both databases at one moment, in ``directory`` (inside the data directory),
    with ``directory/pinned`` keeping blobs removed since. ``held_seconds``: how long the
    store and the log were held still to take it."""

    directory: Path
    log_size: int
    held_seconds: float


def _tidy_copy(path: Path, *, strip: bool) -> None:
    """Make a database copy one self-contained file; ``strip``: remove what no backup
    should hold (login tokens, unfinished uploads), overwriting it."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        if strip:
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute("DELETE FROM tokens")
            conn.execute("DELETE FROM uploads")
        conn.execute("PRAGMA journal_mode=DELETE")
        if strip:
            conn.execute("VACUUM")
    finally:
        conn.close()


def _blob_directory(store: EmbeddedStore) -> BlobDirectory:
    """The blob directory a backup pins and reads (a bucket is backed up on its own)."""
    if not isinstance(store.blobs, BlobDirectory):
        raise BackupError("amanat backup copies only sealed files kept in the data directory")
    return store.blobs


def take_snapshot(store: EmbeddedStore, backup_log: Callable[[Path], int],
                  hold: Sequence[contextlib.AbstractContextManager[object]] = ()) -> Snapshot:
    """Copy the metadata database and the audit log (``backup_log(target)`` returns the log
    size it copied) at one moment, and pin the blobs. ``hold``: further locks to hold while
    copying (the service's roster lock: a roster is logged, then stored)."""
    directory = store.data_dir / SNAPSHOTS_DIR / secrets.token_hex(8)
    directory.mkdir(mode=0o700, parents=True)
    os.chmod(directory.parent, 0o700)
    try:
        with contextlib.ExitStack() as stack:
            for lock in hold:
                stack.enter_context(lock)
            stack.enter_context(store.holding())
            start = time.perf_counter()
            store.backup_to(directory / DATABASE_NAME)
            log_size = backup_log(directory / AUDIT_LOG_FILE)
            _blob_directory(store).pin(directory / PINNED_DIR)
            held = time.perf_counter() - start
        _tidy_copy(directory / DATABASE_NAME, strip=True)
        _tidy_copy(directory / AUDIT_LOG_FILE, strip=False)
    except BaseException:
        release_snapshot(store, directory)
        raise
    return Snapshot(directory, log_size, held)


def release_snapshot(store: EmbeddedStore, directory: Path) -> None:
    _blob_directory(store).unpin(directory / PINNED_DIR)
    shutil.rmtree(directory, ignore_errors=True)
    with contextlib.suppress(OSError):
        (store.data_dir / SNAPSHOTS_DIR).rmdir()  # only when no other backup runs
    store.conceal_times()


def _socket_address(data_dir: Path) -> tuple[str, int | None]:
    """The control socket's address; through /proc/self/fd when the path is too long for a
    socket address (returns the directory descriptor to close afterwards)."""
    path = str(data_dir / CONTROL_SOCKET)
    if len(path.encode()) <= _SUN_PATH_MAX:
        return path, None
    fd = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY)
    return f"/proc/self/fd/{fd}/{CONTROL_SOCKET}", fd


class ControlServer:
    """The running server's side of ``amanat backup``: on ``snapshot``, takes one, answers
    with its directory (relative to the data directory), then keeps it until the backup
    closes the connection."""

    def __init__(self, store: EmbeddedStore, snapshot: Callable[[], Snapshot]) -> None:
        self._store = store
        self._snapshot = snapshot
        self._path = store.data_dir / CONTROL_SOCKET
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()  # left by a server that ended without closing it
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        address, fd = _socket_address(store.data_dir)
        old_umask = os.umask(0o177)
        try:
            self._socket.bind(address)
        finally:
            os.umask(old_umask)
            if fd is not None:
                os.close(fd)
        os.chmod(self._path, 0o600)
        blur_times(self._path, store.data_dir)  # its times say when the server started
        self._socket.listen(4)
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="amanat-control", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(_REQUEST_SECONDS)
            try:
                request = conn.makefile("rb").readline(64).strip()
            except OSError:
                return
            if request != b"snapshot":
                with contextlib.suppress(OSError):
                    conn.sendall(b'{"error": "unknown request"}\n')
                return
            try:
                snap = self._snapshot()
            except Exception as exc:  # the reason goes to the backup, which prints it
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps({"error": f"{type(exc).__name__}: {exc}"}
                                            ).encode() + b"\n")
                return
            try:
                conn.sendall(json.dumps({
                    "snapshot": str(snap.directory.relative_to(self._store.data_dir)),
                    "log_size": snap.log_size,
                    "held_seconds": snap.held_seconds,
                }).encode() + b"\n")
                # Kept until the backup closes the connection, however long it copies (a
                # backup process that dies closes it too).
                conn.settimeout(None)
                while conn.recv(4096):
                    pass
            except OSError:
                pass
            finally:
                release_snapshot(self._store, snap.directory)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()


@contextlib.contextmanager
def snapshot_of(data_dir: Path) -> Iterator[Snapshot]:
    """A snapshot of ``data_dir``, kept for the block: taken by its running server, or,
    with none running, here (holding the directory, so none starts meanwhile)."""
    if not (data_dir / DATABASE_NAME).is_file() or not (data_dir / AUDIT_LOG_FILE).is_file():
        raise BackupError(f"{data_dir} is not a vault data directory (no {DATABASE_NAME} or "
                          f"{AUDIT_LOG_FILE})")
    if (url := remembered_blobs_url(data_dir)) is not None:
        raise BackupError(f"the sealed files of {data_dir} are in object storage ({url}): "
                          "amanat backup copies only sealed files kept in the data directory; "
                          "back up the bucket and the databases as DEPLOY.md says")
    try:
        store = EmbeddedStore(data_dir)
    except DataDirBusyError:
        with _snapshot_from_server(data_dir) as snap:
            yield snap
        return
    try:
        def backup_log(target: Path) -> int:
            source = sqlite3.connect(data_dir / AUDIT_LOG_FILE)
            try:
                destination = sqlite3.connect(target)
                try:
                    source.backup(destination)
                finally:
                    destination.close()
                (size,) = source.execute("SELECT COUNT(*) FROM log_entries").fetchone()
            finally:
                source.close()
            return int(size)

        snap = take_snapshot(store, backup_log)
        try:
            yield snap
        finally:
            release_snapshot(store, snap.directory)
    finally:
        store.close()


@contextlib.contextmanager
def _snapshot_from_server(data_dir: Path) -> Iterator[Snapshot]:
    address, fd = _socket_address(data_dir)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(_SNAPSHOT_SECONDS)
        try:
            sock.connect(address)
        except (FileNotFoundError, ConnectionRefusedError):
            raise BackupError(
                f"a server holds {data_dir} but takes no backups ({CONTROL_SOCKET} does not "
                "answer): is it an older release? stop it and run the backup again") from None
        finally:
            if fd is not None:
                os.close(fd)
        sock.sendall(b"snapshot\n")
        line = sock.makefile("rb").readline(4096)
        try:
            answer = json.loads(line)
        except ValueError:
            raise BackupError("the server did not answer the backup request") from None
        if "error" in answer:
            raise BackupError(f"the server could not take the snapshot: {answer['error']}")
        directory = data_dir / str(answer["snapshot"])
        if directory.parent != data_dir / SNAPSHOTS_DIR:
            raise BackupError("the server answered with an unexpected snapshot")
        yield Snapshot(directory, int(answer["log_size"]), float(answer["held_seconds"]))
    finally:
        sock.close()  # the server removes the snapshot now


# --- the archive -------------------------------------------------------------------------------


@dataclass
class BackupReport:
    """What an archive holds; ``problems``: one line per recorded blob that could not be
    written as its row records it (it was damaged or gone before the backup)."""

    log_size: int
    held_seconds: float
    submissions: int = 0
    replies: int = 0
    quarantined: int = 0
    bytes: int = 0
    problems: list[str] = field(default_factory=list)


def _member(name: str, size: int, mode: int = 0o600) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, mode, 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class _Hashing(io.RawIOBase):
    """Reads a file while hashing it."""

    def __init__(self, src: BinaryIO) -> None:
        self._src = src
        self.digest = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._src.read(size)
        self.digest.update(data)
        self.count += len(data)
        return data


def _recorded_blobs(database: Path) -> list[tuple[str, str, str, int]]:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = [(NAMESPACE_SUBMISSIONS, *r) for r in conn.execute(
            "SELECT id, sha256, size FROM submissions ORDER BY seq")]
        rows += [(NAMESPACE_REPLIES, *r) for r in conn.execute(
            "SELECT id, sha256, size FROM replies ORDER BY seq")]
    finally:
        conn.close()
    return [(str(a), str(b), str(c), int(d)) for a, b, c, d in rows]


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> int:
    with open_quietly(path) as src:
        size = os.fstat(src.fileno()).st_size
        tar.addfile(_member(name, size), src)
    return size


def write_archive(data_dir: Path, snap: Snapshot, out: IO[bytes], *,
                  include_log_key: bool = True) -> BackupReport:
    """Write the archive of ``snap`` (taken of ``data_dir``) to ``out``."""
    report = BackupReport(snap.log_size, snap.held_seconds)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        manifest = json.dumps({
            "format": ARCHIVE_FORMAT,
            "schema": SCHEMA_VERSION,
            "log_size": snap.log_size,
            "log_key": include_log_key,
        }, sort_keys=True).encode() + b"\n"
        tar.addfile(_member(MANIFEST_NAME, len(manifest)), io.BytesIO(manifest))
        if include_log_key:
            _add_file(tar, LOG_KEY_FILE, data_dir / LOG_KEY_FILE)
        if (data_dir / ORG_VKEY_FILE).is_file():
            _add_file(tar, ORG_VKEY_FILE, data_dir / ORG_VKEY_FILE)
        _add_file(tar, DATABASE_NAME, snap.directory / DATABASE_NAME)
        _add_file(tar, AUDIT_LOG_FILE, snap.directory / AUDIT_LOG_FILE)
        for namespace, blob_id, sha256, size in _recorded_blobs(snap.directory / DATABASE_NAME):
            name = f"blobs/{namespace}/{blob_id}"
            src = None
            for place in (data_dir / name, snap.directory / PINNED_DIR / namespace / blob_id):
                with contextlib.suppress(FileNotFoundError):
                    src = open_quietly(place)
                    break
            if src is None:
                report.problems.append(f"{name}: recorded in the database but gone (not "
                                       "written to the archive)")
                continue
            with src:
                held = os.fstat(src.fileno()).st_size
                reader = _Hashing(src)
                tar.addfile(_member(name, held), reader)
            if held != size or reader.digest.hexdigest() != sha256:
                report.problems.append(
                    f"{name}: {held} bytes with SHA-256 {reader.digest.hexdigest()} where "
                    f"the database records {size} bytes with {sha256} (written as it is)")
            report.bytes += held
            if namespace == NAMESPACE_SUBMISSIONS:
                report.submissions += 1
            else:
                report.replies += 1
        for namespace in NAMESPACES:
            directory = data_dir / "quarantine" / namespace
            if not directory.is_dir():
                continue
            for entry in sorted(os.scandir(directory), key=lambda e: e.name):
                if entry.is_file(follow_symlinks=False) and _QUARANTINED.fullmatch(entry.name):
                    with contextlib.suppress(FileNotFoundError):
                        report.bytes += _add_file(tar, f"quarantine/{namespace}/{entry.name}",
                                                  Path(entry.path))
                        report.quarantined += 1
    return report


# Encrypts a plaintext stream (read from the first) into the second: age, to the backup's
# recipients (vault/cli/backup_cmd.py); the store itself knows nothing of keys.
Transform = Callable[[BinaryIO, BinaryIO], None]
AGE_MAGIC = (b"age-encryption.org/v1\n", b"-----BEGIN AGE ENCRYPTED FILE-----")


def _through_pipe(produce: Callable[[BinaryIO], None], consume: Callable[[BinaryIO], T]) -> T:
    """Run ``produce`` (writing a stream) in a thread and ``consume`` (reading it) here,
    through a pipe; the producer's failure wins (it explains a stream cut short)."""
    read_fd, write_fd = os.pipe()
    failed: list[BaseException] = []

    def run() -> None:
        try:
            with os.fdopen(write_fd, "wb") as sink:
                produce(sink)
        except BaseException as exc:  # handed to the consumer's thread below
            failed.append(exc)

    thread = threading.Thread(target=run, name="amanat-backup-stream", daemon=True)
    thread.start()
    try:
        with os.fdopen(read_fd, "rb") as source:
            result = consume(source)
            while source.read(_CHUNK):  # let the producer finish (and check all it wrote)
                pass
    except BaseException:
        thread.join()
        if failed and not isinstance(failed[0], BrokenPipeError):
            raise failed[0] from None
        raise
    thread.join()
    if failed:
        raise failed[0]
    return result


def backup(data_dir: Path, out_path: Path, *, include_log_key: bool = True,
           encrypt: Transform | None = None) -> BackupReport:
    """Write a backup of ``data_dir`` to ``out_path`` atomically (temporary file, fsync,
    rename, fsync of the directory), mode 0600; through ``encrypt`` when given, so the
    archive never touches the disk in the clear."""
    if not (data_dir / DATABASE_NAME).is_file() or not (data_dir / AUDIT_LOG_FILE).is_file():
        raise BackupError(f"{data_dir} is not a vault data directory (no {DATABASE_NAME} or "
                          f"{AUDIT_LOG_FILE})")
    if include_log_key and not (data_dir / LOG_KEY_FILE).is_file():
        raise BackupError(f"{data_dir} has no {LOG_KEY_FILE}")
    out_dir = out_path.parent
    with contextlib.suppress(OSError):
        if out_dir.resolve().is_relative_to(data_dir.resolve()):
            raise BackupError("write the backup outside the data directory")
    tmp = out_dir / f".{out_path.name}.{secrets.token_hex(4)}.tmp"
    with snapshot_of(data_dir) as snap:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                if encrypt is None:
                    report = write_archive(data_dir, snap, out,
                                           include_log_key=include_log_key)
                else:
                    reports: list[BackupReport] = []

                    def produce(sink: BinaryIO) -> None:
                        reports.append(write_archive(data_dir, snap, sink,
                                                     include_log_key=include_log_key))

                    _through_pipe(produce, lambda source: encrypt(source, out))
                    report = reports[0]
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, out_path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
    fsync_directory(out_dir)
    return report


# --- restore -----------------------------------------------------------------------------------


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and next(path.iterdir(), None) is None


def _check_manifest(data: bytes) -> dict[str, object]:
    try:
        manifest = json.loads(data)
    except ValueError:
        raise ArchiveError(f"{MANIFEST_NAME} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
        raise ArchiveError(f"not an amanat backup (format {ARCHIVE_FORMAT} expected)")
    schema = manifest.get("schema")
    if not isinstance(schema, int) or schema < 1:
        raise ArchiveError("the backup names no schema version")
    if schema > SCHEMA_VERSION:
        raise SchemaVersionError(newer_version_message("the backup", schema))
    return manifest


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, root: Path) -> None:
    target = root / member.name
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    src = tar.extractfile(member)
    assert src is not None
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        written = 0
        while chunk := src.read(_CHUNK):
            out.write(chunk)
            written += len(chunk)
        if written != member.size:
            raise ArchiveError(f"{member.name} is cut short")
        out.flush()
        os.fsync(out.fileno())


def restore(archive: Path, data_dir: Path, *, log_key: bytes | None = None,
            decrypt: Transform | None = None) -> dict[str, object]:
    """Restore ``archive`` into ``data_dir`` (absent or empty); return its manifest.

    ``log_key``: the log key's file content, for an archive made without it. ``decrypt``:
    for an encrypted archive, writes its plaintext (read as it comes, never stored whole).
    The caller then checks the result (``amanat fsck``)."""
    if data_dir.exists() and not _is_empty_dir(data_dir):
        raise BackupError(f"{data_dir} is not empty: restore into a new or empty directory "
                          "(nothing was changed)")
    parent = data_dir.parent
    if not parent.is_dir():
        raise BackupError(f"{parent} does not exist")
    # Into a new directory: unpacked beside it, renamed into place at once. Into an empty
    # one (perhaps the root of a mounted volume, which cannot be replaced): unpacked inside
    # it, then each entry renamed up.
    existing = data_dir.exists()
    home = data_dir if existing else parent
    work = home / f".{data_dir.name}.restore-{secrets.token_hex(4)}"
    work.mkdir(mode=0o700)
    moved: list[Path] = []
    try:
        manifest = _unpack_file(archive, work, decrypt)
        if not (work / LOG_KEY_FILE).is_file():
            if log_key is None:
                raise BackupError("the backup was made without the log key: give it with "
                                  "--log-key FILE")
            fd = os.open(work / LOG_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(log_key)
                out.flush()
                os.fsync(out.fileno())
        for sub in ("", "blobs", "quarantine", *(f"{d}/{ns}" for d in ("blobs", "quarantine")
                                                 for ns in NAMESPACES)):
            directory = work / sub
            if directory.is_dir():
                fsync_directory(directory)
        if existing:
            os.chmod(data_dir, 0o700)
            for entry in sorted(work.iterdir()):
                os.rename(entry, data_dir / entry.name)
                moved.append(data_dir / entry.name)
            work.rmdir()
            fsync_directory(data_dir)
        else:
            os.rename(work, data_dir)
            fsync_directory(parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        for path in moved:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise
    return manifest


def _unpack_file(archive: Path, root: Path, decrypt: Transform | None) -> dict[str, object]:
    with open(archive, "rb") as src:
        start = src.read(len(AGE_MAGIC[1]))
        src.seek(0)
        encrypted = any(start.startswith(magic) for magic in AGE_MAGIC)
        if not encrypted:
            return _unpack(src, archive, root)
        if decrypt is None:
            raise ArchiveError(f"{archive} is encrypted (age): give the backup identity "
                               "with -i FILE")
        return _through_pipe(lambda sink: decrypt(src, sink),
                             lambda plain: _unpack(plain, archive, root))


def _unpack(src: BinaryIO, archive: Path, root: Path) -> dict[str, object]:
    try:
        tar = tarfile.open(fileobj=src, mode="r|")  # noqa: SIM115
    except (tarfile.TarError, OSError) as exc:
        raise ArchiveError(f"{archive} is not a tar archive: {exc}") from None
    seen: set[str] = set()
    manifest: dict[str, object] | None = None
    with tar:
        try:
            for member in tar:
                name = member.name
                if not member.isreg() or member.issparse():
                    raise ArchiveError(f"{name!r} is not a regular file (links, devices and "
                                       "directories are refused)")
                if not _MEMBER.fullmatch(name):
                    raise ArchiveError(f"{name!r} is not a name a backup holds")
                if name in seen:
                    raise ArchiveError(f"{name!r} is in the archive twice")
                seen.add(name)
                if manifest is None:
                    if name != MANIFEST_NAME or member.size > 4096:
                        raise ArchiveError(f"the archive does not begin with {MANIFEST_NAME}")
                    text = tar.extractfile(member)
                    assert text is not None
                    manifest = _check_manifest(text.read())
                    continue
                if name == MANIFEST_NAME:
                    raise ArchiveError(f"{name!r} is in the archive twice")
                _extract(tar, member, root)
        except (tarfile.TarError, EOFError) as exc:
            raise ArchiveError(f"{archive} is damaged: {exc}") from None
    if manifest is None:
        raise ArchiveError(f"{archive} is empty")
    for required in (DATABASE_NAME, AUDIT_LOG_FILE):
        if required not in seen:
            raise ArchiveError(f"the archive holds no {required}")
    if manifest.get("log_key") and LOG_KEY_FILE not in seen:
        raise ArchiveError(f"the archive lacks the {LOG_KEY_FILE} its manifest announces")
    return manifest
