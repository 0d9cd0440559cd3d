"""The embedded store: SQLite (WAL, synchronous=FULL) for metadata plus a blob backend.

The default backend of ``vault.store.Store`` for a single machine. Rows hold random ids,
SHA-256 digests, sizes and hours (never a precise time, address or user agent); deleted rows
are overwritten (``secure_delete``) rather than left in free pages. One connection is shared
by the service's threads behind a lock; writes that span the blob directory and the database
are ordered so a crash leaves at worst an orphaned blob or staging file: the service moves
an orphaned blob to quarantine (it never removes one without a logged deletion) and the
upload sweep removes staging files, which were never acknowledged.

Blobs go to any ``BlobBackend`` (vault/store/blobs.py): the blob directory inside the data
directory by default, or S3-compatible object storage (vault/store/s3blobs.py). A data
directory whose blobs live elsewhere names that place in ``blobs.url`` and is refused when
opened without it (its blobs would look missing).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from vault.store import (
    NAMESPACE_REPLIES,
    NAMESPACE_SUBMISSIONS,
    NAMESPACES,
    ConflictError,
    DataDirBusyError,
    NotFoundError,
    ReplyRecord,
    RosterRecord,
    StagedWriter,
    StoreError,
    SubmissionRecord,
    UploadRecord,
    is_valid_id,
    is_valid_mailbox_id,
    refuse_embedded_open,
)
from vault.store.blobs import BlobBackend, BlobDirectory, BlobSide, blur_times

DATABASE_NAME = "vault.sqlite3"
# Written when the blobs live outside the data directory: where they are (no credentials).
BLOBS_URL_FILE = "blobs.url"
# The data directory's schema version, kept in the metadata database (``PRAGMA
# user_version``, so it travels with the database and changes in the same transaction as a
# migration). 1: the releases before versions (no marker, user_version 0); 2: this one (the
# version itself; staging snapshots under ``snapshots/`` for ``amanat backup``). Add a step to
# ``_MIGRATIONS`` for each new version; a newer data directory is refused, never touched.
SCHEMA_VERSION = 2
SNAPSHOTS_DIR = "snapshots"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    received TEXT NOT NULL,
    log_index INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS replies (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    mailbox_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    received TEXT NOT NULL,
    log_index INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS replies_by_mailbox ON replies (mailbox_id);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    touched TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    digest TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    expires INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rosters (
    version INTEGER PRIMARY KEY,
    text TEXT NOT NULL
);
"""


def connect_database(path: Path) -> sqlite3.Connection:
    """Open a SQLite database in WAL mode with durable commits, readable only by its owner,
    held exclusively by this connection (no -shm file: reads leave no time on disk)."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    # One connection per server owns the file. In exclusive mode the WAL index lives in this
    # process's memory, not in a -shm file whose time would change on every read (a witness
    # fetching the roster or polling a mailbox would leave the second it did so on disk).
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA secure_delete=ON")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def lock_data_dir(data_dir: Path) -> int:
    """Hold ``data_dir`` for this process (an exclusive lock on the directory itself, so no
    file is added); DataDirBusyError when another server holds it. SQLite's exclusive mode
    would otherwise only fail later, on a request, as "database is locked". The lock goes
    with the returned descriptor."""
    fd = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DataDirBusyError(
            f"another amanat server is already using {data_dir}: stop it first, or give "
            "this one another --data directory") from None
    except OSError as exc:
        os.close(fd)
        if exc.errno not in (errno.ENOLCK, errno.EBADF, errno.EINVAL, errno.EOPNOTSUPP,
                             errno.ENOTSUP):
            raise
        # A network file system (NFS without its lock service, some FUSE mounts): without
        # the lock two servers could write the same database and log, which SQLite's WAL
        # does not survive on such a file system either.
        raise DataDirBusyError(
            f"cannot lock {data_dir}: its file system does not support locks (a network "
            "file system?); put the data directory on a local disk") from None
    return fd


class SchemaVersionError(StoreError):
    """The data directory was written by a newer release (or is no amanat data directory)."""


# version -> SQL that takes a database from that version to the next
_MIGRATIONS: dict[int, str] = {1: ""}


def read_schema_version(conn: sqlite3.Connection) -> int:
    """The schema version of an open metadata database: 0 when it is new (no table yet),
    1 for the releases before versions (tables, no marker)."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if int(version):
        return int(version)
    tables = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'submissions'").fetchone()
    return 1 if tables else 0


def newer_version_message(where: object, version: int) -> str:
    return (f"{where} has schema version {version}, but this amanat reads schema version "
            f"{SCHEMA_VERSION} and earlier: it was written by a newer release. Run that "
            "release (or a newer one) on it; nothing was changed (DEPLOY.md §9)")


def migrate(conn: sqlite3.Connection, where: object) -> int:
    """Bring the metadata database to ``SCHEMA_VERSION`` (creating it when new); refuse a
    newer one with SchemaVersionError before changing anything. Returns the version found."""
    found = read_schema_version(conn)
    if found > SCHEMA_VERSION:
        raise SchemaVersionError(newer_version_message(where, found))
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        for version in range(max(found, 1), SCHEMA_VERSION):
            for statement in _MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found


def remembered_blobs_url(data_dir: Path) -> str | None:
    """Where this data directory's blobs live when not in it (``blobs.url``), or None."""
    path = data_dir / BLOBS_URL_FILE
    return path.read_text("utf-8").strip() if path.is_file() else None


class EmbeddedStore(BlobSide):
    """SQLite metadata in ``data_dir/vault.sqlite3``; blobs under ``data_dir`` or in the
    ``blobs`` backend given (which the store closes with itself)."""

    def __init__(self, data_dir: Path, blobs: BlobBackend | None = None) -> None:
        refuse_embedded_open(data_dir)  # its metadata lives in PostgreSQL
        if blobs is None and (url := remembered_blobs_url(data_dir)) is not None:
            raise StoreError(f"the sealed files of {data_dir} are kept at {url}, not in the "
                             f"data directory: only `amanat serve --blobs {url}` opens it")
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.data_dir = data_dir
        self._dir_lock = lock_data_dir(data_dir)
        try:
            self._lock = threading.RLock()
            # The bytes of stored sealed files, summed once and then kept up to date by the
            # writes below (this process holds the data directory alone): the staging caps
            # ask for it after every request, and a SUM over every row each time would cost
            # more the longer the vault runs. None: to be summed again.
            self._stored: int | None = None
            self._db = connect_database(data_dir / DATABASE_NAME)
            try:
                self.schema_found = migrate(self._db, data_dir)
                self.blobs: BlobBackend = BlobDirectory(data_dir) if blobs is None else blobs
                # Left by a backup that a crash interrupted: copies of the databases, and
                # links to blobs whose deletion the log records; nothing else holds them.
                shutil.rmtree(data_dir / SNAPSHOTS_DIR, ignore_errors=True)
            except BaseException:
                self._db.close()
                raise
        except BaseException:
            os.close(self._dir_lock)
            raise

    # --- helpers ---
    def _one(self, sql: str, args: Sequence[object]) -> tuple[object, ...] | None:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return None if row is None else tuple(row)

    def _write(self, sql: str, args: Sequence[object], *, durable: bool = True) -> int:
        """Run one write and commit it. ``durable=False``: commit without waiting for the
        disk (``synchronous=NORMAL`` for this one commit), for what recovery rebuilds from
        the audit log after a power cut (a record's log index); the next durable commit
        makes it durable too (the WAL is synced as a whole). The times are blurred after
        the lock is released, also after a failed write (a full disk)."""
        try:
            with self._lock:
                if durable:
                    return self._db.execute(sql, args).rowcount
                self._db.execute("PRAGMA synchronous=NORMAL")
                try:
                    return self._db.execute(sql, args).rowcount
                finally:
                    self._db.execute("PRAGMA synchronous=FULL")
        finally:
            self.conceal_times()

    # --- staged uploads ---
    def create_upload(self, upload_id: str, hour: str, *, durable: bool = True) -> None:
        if not is_valid_id(upload_id):
            raise NotFoundError("no such upload")
        with self._lock:
            try:
                self._write("INSERT INTO uploads (id, touched) VALUES (?, ?)", (upload_id, hour),
                            durable=durable)
            except sqlite3.IntegrityError:
                raise ConflictError("upload id already used") from None
            self.blobs.create_staged(upload_id)

    def get_upload(self, upload_id: str) -> UploadRecord:
        if not is_valid_id(upload_id):
            raise NotFoundError("no such upload")
        row = self._one("SELECT touched FROM uploads WHERE id = ?", (upload_id,))
        if row is None:
            raise NotFoundError("no such upload")
        return UploadRecord(upload_id, self.blobs.staged_size(upload_id), str(row[0]))

    def append_upload(self, upload_id: str, offset: int, hour: str, *,
                      durable: bool = True) -> StagedWriter:
        record = self.get_upload(upload_id)
        if record.touched != hour:
            self._write("UPDATE uploads SET touched = ? WHERE id = ?", (hour, upload_id))
        return self.blobs.append_staged(upload_id, offset, durable=durable)

    def open_upload(self, upload_id: str) -> BinaryIO:
        self.get_upload(upload_id)
        return self.blobs.open_staged(upload_id)

    def delete_upload(self, upload_id: str) -> None:
        if not is_valid_id(upload_id):
            raise NotFoundError("no such upload")
        with self._lock:
            self._write("DELETE FROM uploads WHERE id = ?", (upload_id,))
            self.blobs.delete_staged(upload_id)

    def count_uploads(self) -> int:
        row = self._one("SELECT COUNT(*) FROM uploads", ())
        return int(str(row[0])) if row else 0

    def uploads_touched_before(self, hour: str) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM uploads WHERE touched < ?", (hour,)
            ).fetchall()
            known = {str(r[0]) for r in self._db.execute("SELECT id FROM uploads").fetchall()}
        stale = [str(r[0]) for r in rows]
        # Staging files with no row (a crash between the two writes) are stale too.
        stale.extend(i for i in self.blobs.staged_ids() if i not in known)
        return stale

    def claim_upload(self, upload_id: str) -> bool:
        return True  # one server holds the data directory: the service's own claim suffices

    def release_upload(self, upload_id: str) -> None:
        pass

    # --- room ---
    def stored_bytes(self) -> int:
        with self._lock:
            if self._stored is None:
                row = self._one("SELECT (SELECT COALESCE(SUM(size), 0) FROM submissions)"
                                " + (SELECT COALESCE(SUM(size), 0) FROM replies)", ())
                self._stored = int(str(row[0])) if row else 0
            return self._stored

    def free_bytes(self) -> int:
        stats = os.statvfs(self.data_dir)
        return stats.f_bavail * stats.f_frsize

    # --- investigators' login tokens (vault.service.auth.TokenStore) ---
    def put_token(self, digest: str, key_id: str, expires: int) -> None:
        self._write("INSERT OR REPLACE INTO tokens (digest, key_id, expires) VALUES (?, ?, ?)",
                    (digest, key_id, expires))

    def get_token(self, digest: str) -> tuple[str, int] | None:
        row = self._one("SELECT key_id, expires FROM tokens WHERE digest = ?", (digest,))
        return None if row is None else (str(row[0]), int(str(row[1])))

    def delete_token(self, digest: str) -> None:
        self._write("DELETE FROM tokens WHERE digest = ?", (digest,))

    def delete_tokens_expired(self, now: int) -> int:
        return self._write("DELETE FROM tokens WHERE expires <= ?", (now,))

    # --- submissions ---
    def promote_submission(self, upload_id: str, record: SubmissionRecord) -> None:
        self._promote(
            upload_id, NAMESPACE_SUBMISSIONS, record.id, "submissions",
            "INSERT INTO submissions (id, sha256, size, received, log_index)"
            " VALUES (?, ?, ?, ?, ?)",
            (record.id, record.sha256, record.size, record.received, record.log_index),
            record.size,
        )

    def _promote(self, upload_id: str, namespace: str, record_id: str, table: str,
                 insert: str, values: tuple[object, ...], size: int) -> None:
        """Move a finished upload's blob to ``namespace``/``record_id`` and, in one
        transaction, insert its row and drop the upload's; then blur the file times."""
        noun = {"submissions": "submission", "replies": "reply"}[table]
        with self._lock:
            self.get_upload(upload_id)
            if self._one(f"SELECT 1 FROM {table} WHERE id = ?", (record_id,)):  # noqa: S608
                raise ConflictError(f"{noun} id already used")
        # The file's fsyncs run without the lock, so other requests' reads and writes go on
        # meanwhile; the service lets one request at a time hold an upload, and a crash or a
        # failure from here on leaves at worst a blob with no row (quarantined, never lost).
        self.blobs.promote(upload_id, namespace, record_id)
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.execute(insert, values)
                    self._db.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    self._stored = None
                    raise
                if self._stored is not None:
                    self._stored += size
        finally:
            self.conceal_times()

    def set_submission_log_index(self, submission_id: str, log_index: int) -> None:
        # Not waited on: recovery takes a lost index back from the audit log (``recover``).
        if self._write(
            "UPDATE submissions SET log_index = ? WHERE id = ?", (log_index, submission_id),
            durable=False,
        ) != 1:
            raise NotFoundError("no such submission")

    def pending_submissions(self) -> list[SubmissionRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, sha256, size, received, log_index FROM submissions"
                " WHERE log_index < 0 ORDER BY seq"
            ).fetchall()
        return [SubmissionRecord(str(a), str(b), int(c), str(d), int(e)) for a, b, c, d, e in rows]

    def get_submission(self, submission_id: str) -> SubmissionRecord:
        if not is_valid_id(submission_id):
            raise NotFoundError("no such submission")
        row = self._one(
            "SELECT id, sha256, size, received, log_index FROM submissions WHERE id = ?",
            (submission_id,),
        )
        if row is None:
            raise NotFoundError("no such submission")
        return SubmissionRecord(str(row[0]), str(row[1]), int(str(row[2])), str(row[3]),
                                int(str(row[4])))

    def list_submissions(self, after: int, limit: int) -> tuple[list[SubmissionRecord], int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, id, sha256, size, received, log_index FROM submissions"
                " WHERE seq > ? AND log_index >= 0 ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        page = [SubmissionRecord(str(b), str(c), int(d), str(e), int(f))
                for _, b, c, d, e, f in rows]
        next_cursor = int(rows[-1][0]) if rows else after
        return page, next_cursor

    def open_submission(self, submission_id: str) -> BinaryIO:
        self.get_submission(submission_id)
        return self.blobs.open_blob(NAMESPACE_SUBMISSIONS, submission_id)

    def delete_submission(self, submission_id: str) -> None:
        with self._lock:
            self.get_submission(submission_id)
            self._stored = None
            self._write("DELETE FROM submissions WHERE id = ?", (submission_id,))
            self.blobs.delete_blob(NAMESPACE_SUBMISSIONS, submission_id)

    # --- replies ---
    def promote_reply(self, upload_id: str, record: ReplyRecord) -> None:
        if not is_valid_mailbox_id(record.mailbox_id):
            raise NotFoundError("no such mailbox")
        self._promote(
            upload_id, NAMESPACE_REPLIES, record.id, "replies",
            "INSERT INTO replies (id, mailbox_id, sha256, size, received, log_index)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (record.id, record.mailbox_id, record.sha256, record.size, record.received,
             record.log_index),
            record.size,
        )

    def set_reply_log_index(self, reply_id: str, log_index: int) -> None:
        if self._write("UPDATE replies SET log_index = ? WHERE id = ?", (log_index, reply_id),
                       durable=False) != 1:
            raise NotFoundError("no such reply")

    _PENDING_REPLIES = (
        "SELECT id, mailbox_id, sha256, size, received, log_index FROM replies"
        " WHERE log_index < 0 ORDER BY seq"
    )
    _MAILBOX_REPLIES = (
        "SELECT id, mailbox_id, sha256, size, received, log_index FROM replies"
        " WHERE mailbox_id = ? AND log_index >= 0 ORDER BY seq"
    )

    def _replies(self, query: str, args: Sequence[object]) -> list[ReplyRecord]:
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [ReplyRecord(str(a), str(b), str(c), int(d), str(e), int(f))
                for a, b, c, d, e, f in rows]

    def pending_replies(self) -> list[ReplyRecord]:
        return self._replies(self._PENDING_REPLIES, ())

    def list_replies(self, mailbox_id: str) -> list[ReplyRecord]:
        if not is_valid_mailbox_id(mailbox_id):
            return []
        return self._replies(self._MAILBOX_REPLIES, (mailbox_id,))

    def open_reply(self, mailbox_id: str, reply_id: str) -> BinaryIO:
        if not (is_valid_mailbox_id(mailbox_id) and is_valid_id(reply_id)):
            raise NotFoundError("no such reply")
        row = self._one(
            "SELECT 1 FROM replies WHERE id = ? AND mailbox_id = ? AND log_index >= 0",
            (reply_id, mailbox_id),
        )
        if row is None:
            raise NotFoundError("no such reply")
        return self.blobs.open_blob(NAMESPACE_REPLIES, reply_id)

    # --- roster ---
    def current_roster(self) -> RosterRecord | None:
        row = self._one("SELECT version, text FROM rosters ORDER BY version DESC LIMIT 1", ())
        if row is None:
            return None
        return RosterRecord(int(str(row[0])), str(row[1]))

    def put_roster(self, record: RosterRecord) -> None:
        with self._lock:
            current = self.current_roster()
            if current is not None and record.version <= current.version:
                raise ConflictError(
                    f"roster version {record.version} is not newer than {current.version}"
                )
            self._write("INSERT INTO rosters (version, text) VALUES (?, ?)",
                        (record.version, record.text))

    # --- housekeeping ---
    def orphaned_blobs(self) -> list[tuple[str, str]]:
        orphans: list[tuple[str, str]] = []
        with self._lock:
            for namespace in NAMESPACES:
                table = "submissions" if namespace == NAMESPACE_SUBMISSIONS else "replies"
                known = {str(r[0]) for r in self._db.execute(f"SELECT id FROM {table}")}  # noqa: S608
                orphans.extend((namespace, i) for i in self.blobs.blob_ids(namespace)
                               if i not in known)
        return orphans

    def quarantine_staged(self, upload_id: str, submission_id: str) -> str:
        with self._lock:
            self._write("DELETE FROM uploads WHERE id = ?", (upload_id,))
            return self.blobs.quarantine_staged(upload_id, submission_id)

    def reinstate_submission(self, record: SubmissionRecord) -> None:
        with self._lock:
            if not self.blobs.blob_present(NAMESPACE_SUBMISSIONS, record.id):
                self.blobs.unquarantine(NAMESPACE_SUBMISSIONS, record.id)
            if self._one("SELECT 1 FROM submissions WHERE id = ?", (record.id,)) is None:
                self._stored = None
                self._write(
                    "INSERT INTO submissions (id, sha256, size, received, log_index)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (record.id, record.sha256, record.size, record.received, record.log_index))

    def record_indices(self, namespace: str) -> dict[str, int]:
        table = "submissions" if namespace == NAMESPACE_SUBMISSIONS else "replies"
        with self._lock:
            rows = self._db.execute(f"SELECT id, log_index FROM {table}").fetchall()  # noqa: S608
        return {str(row[0]): int(row[1]) for row in rows}

    def record_digests(self, namespace: str) -> dict[str, tuple[str, int]]:
        table = "submissions" if namespace == NAMESPACE_SUBMISSIONS else "replies"
        with self._lock:
            rows = self._db.execute(f"SELECT id, sha256, size FROM {table}").fetchall()  # noqa: S608
        return {str(row[0]): (str(row[1]), int(row[2])) for row in rows}

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Hold the store still (no write, no promotion) for the block."""
        with self._lock:
            yield

    def backup_to(self, target: Path) -> None:
        """Copy the metadata database to the new file ``target`` at one moment (SQLite's
        online backup API through this store's own connection, which holds the database
        exclusively)."""
        with self._lock:
            destination = sqlite3.connect(target)
            try:
                # A scratch copy (made durable inside the archive): no fsync while held.
                destination.execute("PRAGMA synchronous=OFF")
                destination.execute("PRAGMA journal_mode=OFF")
                self._db.backup(destination)
            finally:
                destination.close()

    def conceal_times(self) -> None:
        with os.scandir(self.data_dir) as listing:
            entries = [entry.path for entry in listing]
        blur_times(*entries)
        self.blobs.conceal_times()

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self.blobs.close()
            if self._dir_lock >= 0:
                os.close(self._dir_lock)  # releases the data directory
                self._dir_lock = -1
