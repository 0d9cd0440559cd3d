"""A directory of sealed blobs and staged uploads, written durably.

Protects "a submission is acknowledged only once it survives a crash": bytes arrive in a
staging file (``uploads/<id>.part``), are fsynced on every commit, and become a blob
(``blobs/<namespace>/<id>``) by a rename followed by an fsync of both directories. Paths are
only ever built from ids that match the random-id pattern, never from request input, so a
hostile id cannot name a file outside the data directory.

File times would tell when a witness submitted: after every write, the access and
modification times of the file and its directory are set back to the start of the hour
(``blur_times``), and blobs are read without updating their access time (``open_quietly``).
The inode change time cannot be set by a process; deployments that fear a disk seizure keep
the data directory on an encrypted volume.

Nothing here removes a blob on its own initiative: a blob found without a record is moved to
``quarantine/<namespace>/<id>`` (``quarantine``), kept and named in the server's output, and a
blob is unlinked only when the caller holds a logged deletion for it. Staging files are
another matter: a staging file is never acknowledged (the receipt is sent only after the
rename out of ``uploads/``, which is atomic, and the log append that follows it), so removing
one drops nothing that was promised to a witness. (A data directory restored from copies of
different days could hold a staging file whose bytes a newer log records as a submission:
the start-up check moves such a file to quarantine under that id before any sweep,
vault/service/consistency.py.)
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from vault.store import (
    NAMESPACE_SUBMISSIONS,
    NAMESPACES,
    ConflictError,
    NotFoundError,
    StagedWriter,
    is_valid_id,
)

_DIR_MODE = 0o700
_FILE_MODE = 0o600
_PART_SUFFIX = ".part"


def blur_times(*paths: Path | str) -> None:
    """Set access and modification times of ``paths`` to the start of the current hour."""
    now = time.time()
    hour = now - (now % 3600)
    times = (hour, hour)
    for path in paths:
        try:  # noqa: SIM105 (called after every write: contextlib.suppress costs more)
            os.utime(path, times)
        except FileNotFoundError:
            pass


@contextlib.contextmanager
def blurring(*paths: Path) -> Iterator[None]:
    """Run a block that writes to ``paths``, then set their times to the start of the hour,
    also when the block fails (a full disk, a failed rename): no failure path leaves a time
    to the second. Blurring after a failure never hides the failure itself."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(OSError):
            blur_times(*paths)
        raise
    blur_times(*paths)


def fsync_directory(path: Path) -> None:
    """Make a rename or unlink inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_quietly(path: Path) -> BinaryIO:
    """Open ``path`` for reading without updating its access time (``O_NOATIME``), so a
    read (a witness fetching a reply) leaves no time on disk. Falls back to a plain open
    where the flag is refused (a file owned by another user, a system without it)."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    try:
        fd = os.open(path, flags | noatime)
    except PermissionError:
        if not noatime:
            raise
        fd = os.open(path, flags)
    return os.fdopen(fd, "rb")


def _checked(blob_id: str) -> str:
    if not is_valid_id(blob_id):
        raise NotFoundError("no such id")
    return blob_id


class BlobBackend(Protocol):
    """Where a store keeps bytes: staged uploads and sealed blobs, by id.

    Two implementations: ``BlobDirectory`` below (the embedded default) and
    ``vault.store.s3blobs.S3Blobs`` (S3-compatible object storage). The metadata store
    (vault/store/sqlite.py) decides which ids exist; a backend only keeps bytes. What every
    backend guarantees, and tests/store/test_blob_backends.py holds each one to:

    * a staged upload grows only at its end (``append_staged(id, offset)`` with ``offset``
      its current size, ConflictError otherwise); ``commit`` makes the appended bytes
      durable, ``abort`` drops them;
    * ``promote`` makes a staged upload the sealed blob ``namespace``/``blob_id``: the blob
      is durable and complete before it returns, is never half visible to a reader (a crash
      during promotion leaves no blob or the whole blob), and the staged upload is gone;
    * a blob is written once and never overwritten: promoting (or reinstating from
      quarantine) onto an id in use raises ConflictError and keeps both;
    * a blob leaves the served set only through ``delete_blob`` (the caller holds a logged
      deletion) or ``quarantine`` (kept, never overwritten, under the quarantine);
    * ids are checked (``is_valid_id``): no hostile id names anything outside the backend.

    Locations returned by ``quarantine`` and ``quarantined`` are for the operator to read
    (a path relative to the data directory, or an ``s3://`` URL).
    """

    # --- staged uploads ---
    def create_staged(self, upload_id: str) -> None: ...

    def staged_size(self, upload_id: str) -> int: ...

    def append_staged(self, upload_id: str, offset: int, *,
                      durable: bool = True) -> StagedWriter:
        """``durable=False``: ``commit`` need not wait for the disk (``promote`` makes the
        bytes durable before anything is acknowledged)."""
        ...

    def open_staged(self, upload_id: str) -> BinaryIO: ...

    def delete_staged(self, upload_id: str) -> None: ...

    def staged_ids(self) -> list[str]: ...

    # --- sealed blobs ---
    def promote(self, upload_id: str, namespace: str, blob_id: str) -> None: ...

    def open_blob(self, namespace: str, blob_id: str) -> BinaryIO: ...

    def blob_present(self, namespace: str, blob_id: str) -> bool: ...

    def blob_size(self, namespace: str, blob_id: str) -> int | None: ...

    def delete_blob(self, namespace: str, blob_id: str) -> None: ...

    def blob_ids(self, namespace: str) -> list[str]: ...

    # --- quarantine ---
    def quarantine(self, namespace: str, blob_id: str) -> str: ...

    def quarantine_staged(self, upload_id: str, submission_id: str) -> str: ...

    def quarantined(self, namespace: str, blob_id: str) -> str | None: ...

    def quarantined_ids(self, namespace: str) -> list[str]: ...

    def open_quarantined(self, namespace: str, blob_id: str) -> BinaryIO | None: ...

    def unquarantine(self, namespace: str, blob_id: str) -> None: ...

    # --- housekeeping ---
    def conceal_times(self) -> None:
        """Hide when the last write happened, where the backend can (a directory's times
        set back to the hour; object storage keeps its own times, DEPLOY.md)."""
        ...

    def close(self) -> None: ...


class StagedFileWriter:
    """Appends to one staging file. ``commit`` fsyncs (unless not ``durable``: the bytes
    are made durable later, by ``promote``); ``abort`` cuts back to the start."""

    def __init__(self, path: Path, offset: int, *, durable: bool = True) -> None:
        self._path = path
        self._durable = durable
        self._file: BinaryIO | None = open(path, "r+b")  # noqa: SIM115
        size = os.fstat(self._file.fileno()).st_size
        if size != offset:
            self._file.close()
            self._file = None
            raise ConflictError(f"upload is at offset {size}, not {offset}")
        self._file.seek(offset)
        self._start = offset
        self.size = offset

    def write(self, data: bytes) -> None:
        assert self._file is not None, "writer already closed"
        try:
            self._file.write(data)
        except BaseException:
            with contextlib.suppress(OSError):
                blur_times(self._path, self._path.parent)
            raise
        self.size += len(data)

    def commit(self) -> int:
        """Flush and fsync what was written; return the new size of the staged file."""
        if self._file is not None:
            with blurring(self._path, self._path.parent):
                try:
                    self._file.flush()
                    if self._durable:
                        os.fsync(self._file.fileno())
                finally:
                    self._file.close()
                    self._file = None
            if self._start == 0 and self._durable:
                fsync_directory(self._path.parent)  # the staging file's name, made durable
        return self.size

    def abort(self) -> None:
        """Discard everything written through this writer."""
        if self._file is not None:
            with blurring(self._path, self._path.parent):
                try:
                    with contextlib.suppress(OSError):
                        self._file.flush()  # a full disk: the truncation below still runs
                    self._file.truncate(self._start)
                    os.fsync(self._file.fileno())
                finally:
                    self._file.close()
                    self._file = None
                    self.size = self._start


class BlobDirectory:
    """``root/uploads`` for staged bytes, ``root/blobs/<namespace>`` for finished blobs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # Directories of running backups (vault/store/backup.py): a blob removed while one
        # exists is first linked there, so a backup holds every blob its snapshot records.
        self._pins: list[Path] = []
        self._pins_lock = threading.Lock()
        self.uploads = root / "uploads"
        self.blobs = root / "blobs"
        self.quarantine_root = root / "quarantine"
        # Blurred after every write (``blur_directories``): kept as strings, made once.
        self._directories = tuple(str(path) for path in (
            root, self.uploads, self.blobs, *self._namespace_dirs(), self.quarantine_root,
            *(self.quarantine_root / ns for ns in NAMESPACES)))
        for directory in (root, self.uploads, self.blobs, *self._namespace_dirs()):
            directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
            os.chmod(directory, _DIR_MODE)
        self.blur_directories()

    def blur_directories(self) -> None:
        """Set the times of the blob, upload and quarantine directories to the start of the
        hour."""
        blur_times(*self._directories)

    def _namespace_dirs(self) -> list[Path]:
        return [self.blobs / ns for ns in NAMESPACES]

    def _staged(self, upload_id: str) -> Path:
        return self.uploads / (_checked(upload_id) + _PART_SUFFIX)

    def _blob(self, namespace: str, blob_id: str) -> Path:
        if namespace not in NAMESPACES:
            raise NotFoundError("no such namespace")
        return self.blobs / namespace / _checked(blob_id)

    # --- staging ---
    def create_staged(self, upload_id: str) -> None:
        path = self._staged(upload_id)
        # Made durable by the first commit (file and directory fsync), not here.
        with blurring(path, self.uploads):
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE))
            except FileExistsError:
                raise ConflictError("upload id already used") from None

    def staged_size(self, upload_id: str) -> int:
        try:
            return self._staged(upload_id).stat().st_size
        except FileNotFoundError:
            raise NotFoundError("no such upload") from None

    def append_staged(self, upload_id: str, offset: int, *,
                      durable: bool = True) -> StagedFileWriter:
        path = self._staged(upload_id)
        try:
            return StagedFileWriter(path, offset, durable=durable)
        except FileNotFoundError:
            raise NotFoundError("no such upload") from None

    def open_staged(self, upload_id: str) -> BinaryIO:
        try:
            return open_quietly(self._staged(upload_id))
        except FileNotFoundError:
            raise NotFoundError("no such upload") from None

    def delete_staged(self, upload_id: str) -> None:
        with contextlib.suppress(FileNotFoundError), blurring(self.uploads):
            self._staged(upload_id).unlink()
            fsync_directory(self.uploads)

    def staged_ids(self) -> list[str]:
        found = []
        for entry in os.scandir(self.uploads):
            name = entry.name
            if name.endswith(_PART_SUFFIX) and is_valid_id(name[: -len(_PART_SUFFIX)]):
                found.append(name[: -len(_PART_SUFFIX)])
        return found

    # --- blobs ---
    def promote(self, upload_id: str, namespace: str, blob_id: str) -> None:
        """Rename a staged file into ``namespace`` durably (fsync file, rename, fsync dirs)."""
        source = self._staged(upload_id)
        target = self._blob(namespace, blob_id)
        if target.exists():
            raise ConflictError("blob id already used")
        try:
            fd = os.open(source, os.O_RDONLY)
        except FileNotFoundError:
            raise NotFoundError("no such upload") from None
        with blurring(source, target, target.parent, self.uploads):
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(source, target)
            # The new name made durable. The old one's removal is not waited for: a crash
            # that brings it back leaves a staging file whose upload row the promotion
            # removed, which the upload sweep deletes (its bytes are the blob's).
            fsync_directory(target.parent)

    def open_blob(self, namespace: str, blob_id: str) -> BinaryIO:
        try:
            return open_quietly(self._blob(namespace, blob_id))
        except FileNotFoundError:
            raise NotFoundError("no such blob") from None

    def pin(self, directory: Path) -> None:
        """Keep, under ``directory/<namespace>/<id>``, a link to every blob removed from now
        until ``unpin``; ``directory`` must be on the data directory's file system."""
        for namespace in NAMESPACES:
            (directory / namespace).mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        with self._pins_lock:
            self._pins.append(directory)

    def unpin(self, directory: Path) -> None:
        with self._pins_lock:
            if directory in self._pins:
                self._pins.remove(directory)

    def _keep_for_backups(self, path: Path, namespace: str, blob_id: str) -> None:
        with self._pins_lock:
            pins = list(self._pins)
        for directory in pins:
            with contextlib.suppress(FileExistsError, FileNotFoundError):
                os.link(path, directory / namespace / blob_id)

    def delete_blob(self, namespace: str, blob_id: str) -> None:
        path = self._blob(namespace, blob_id)
        self._keep_for_backups(path, namespace, blob_id)
        with contextlib.suppress(FileNotFoundError), blurring(path.parent):
            path.unlink()
            fsync_directory(path.parent)

    def blob_present(self, namespace: str, blob_id: str) -> bool:
        return self._blob(namespace, blob_id).is_file()

    def blob_size(self, namespace: str, blob_id: str) -> int | None:
        try:
            return self._blob(namespace, blob_id).stat().st_size
        except FileNotFoundError:
            return None

    def quarantined_path(self, namespace: str, blob_id: str) -> Path | None:
        path = self.quarantine_root / namespace / _checked(blob_id)
        return path if path.is_file() else None

    def quarantined(self, namespace: str, blob_id: str) -> str | None:
        path = self.quarantined_path(namespace, blob_id)
        return None if path is None else self._where(path)

    def open_quarantined(self, namespace: str, blob_id: str) -> BinaryIO | None:
        path = self.quarantined_path(namespace, blob_id)
        return None if path is None else open_quietly(path)

    def _where(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    def quarantined_ids(self, namespace: str) -> list[str]:
        directory = self.quarantine_root / namespace
        if namespace not in NAMESPACES or not directory.is_dir():
            return []
        return sorted(e.name for e in os.scandir(directory) if is_valid_id(e.name))

    def quarantine_staged(self, upload_id: str, submission_id: str) -> str:
        """Move a staging file to ``quarantine/submissions/<submission_id>``; return where."""
        return self._where(self._quarantine(self._staged(upload_id), NAMESPACE_SUBMISSIONS,
                                            _checked(submission_id)))

    def quarantine(self, namespace: str, blob_id: str) -> str:
        """Move a blob to ``quarantine/<namespace>/`` durably, never over another file;
        return where it is kept, relative to the data directory."""
        self._keep_for_backups(self._blob(namespace, blob_id), namespace, blob_id)
        return self._where(self._quarantine(self._blob(namespace, blob_id), namespace, blob_id))

    def _quarantine(self, source: Path, namespace: str, blob_id: str) -> Path:
        directory = self.quarantine_root / namespace
        target = directory / blob_id
        copy = 0
        while target.exists():
            copy += 1
            target = directory / f"{blob_id}.{copy}"
        with blurring(self.root, self.quarantine_root, directory, source, target,
                      source.parent):
            directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
            os.rename(source, target)
            fsync_directory(directory)
            fsync_directory(source.parent)
        return target

    def unquarantine(self, namespace: str, blob_id: str) -> None:
        """Move a quarantined blob back into ``blobs/<namespace>/`` (never over a file)."""
        source = self.quarantine_root / namespace / _checked(blob_id)
        target = self._blob(namespace, blob_id)
        if target.exists():
            raise ConflictError("blob id already used")
        with blurring(source, target, target.parent, source.parent):
            os.rename(source, target)
            fsync_directory(target.parent)
            fsync_directory(source.parent)

    def blob_ids(self, namespace: str) -> list[str]:
        directory = self.blobs / namespace
        return [e.name for e in os.scandir(directory) if is_valid_id(e.name)]

    def conceal_times(self) -> None:
        self.blur_directories()

    def close(self) -> None:
        """Nothing to release: every file is closed after each operation."""


class BlobSide:
    """The ``Store`` methods a store answers from its blob backend alone, the same for the
    embedded store (vault/store/sqlite.py) and the PostgreSQL one (vault/store/postgres.py):
    staging files, orphans, quarantine and sizes. The store sets ``blobs``."""

    blobs: BlobBackend

    def delete_orphan(self, namespace: str, blob_id: str) -> None:
        self.blobs.delete_blob(namespace, blob_id)

    def quarantine_orphan(self, namespace: str, blob_id: str) -> str:
        return self.blobs.quarantine(namespace, blob_id)

    def staged_files(self) -> list[tuple[str, int]]:
        found = []
        for upload_id in self.blobs.staged_ids():
            with contextlib.suppress(NotFoundError):  # finished or removed meanwhile
                found.append((upload_id, self.blobs.staged_size(upload_id)))
        return found

    def open_staged_file(self, upload_id: str) -> BinaryIO:
        return self.blobs.open_staged(upload_id)

    def quarantined_ids(self, namespace: str) -> list[str]:
        return self.blobs.quarantined_ids(namespace)

    def quarantined(self, namespace: str, blob_id: str) -> str | None:
        return self.blobs.quarantined(namespace, blob_id)

    def open_kept(self, namespace: str, blob_id: str) -> BinaryIO | None:
        if self.blobs.blob_present(namespace, blob_id):
            return self.blobs.open_blob(namespace, blob_id)
        return self.blobs.open_quarantined(namespace, blob_id)

    def blob_size(self, namespace: str, blob_id: str) -> int | None:
        return self.blobs.blob_size(namespace, blob_id)
