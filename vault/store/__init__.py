"""Storage seam of the vault server: metadata, sealed blobs and staged uploads.

The service (vault/service) talks to storage only through the ``Store`` protocol below. Two
implementations: the embedded default (SQLite in WAL mode plus a directory of blobs,
vault/store/sqlite.py and vault/store/blobs.py), and PostgreSQL for metadata and login
state, shared by several server processes (vault/store/postgres.py). The audit log lives
beside each: vault/store/auditlog.py (SQLite) and vault/store/pglog.py (PostgreSQL).

What every implementation must guarantee (DESIGN.md "What must be true" 2 and 4):

* a blob is durable before ``promote`` returns: a submission is acknowledged only after
  its bytes survive a crash (the embedded store writes a temporary file, fsyncs it, renames
  it into place and fsyncs the directory);
* nothing stored identifies a witness: records carry random ids, the ciphertext's SHA-256 and
  size, and times rounded down to the hour, never an address, user agent or precise time;
* ids reaching the store have already been validated (``is_valid_id``); implementations
  still refuse anything else, so no path can be built from hostile input.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

# Random ids: 128 bits as 32 lowercase hex digits. Never time-ordered, never derived from input.
_ID = re.compile(r"[0-9a-f]{32}")
# Mailbox ids: SHA-256 (hex) of the witness's mailbox secret.
_MAILBOX_ID = re.compile(r"[0-9a-f]{64}")

NAMESPACE_SUBMISSIONS = "submissions"
NAMESPACE_REPLIES = "replies"
NAMESPACES = (NAMESPACE_SUBMISSIONS, NAMESPACE_REPLIES)


class StoreError(Exception):
    """Base class of storage errors."""


class NotFoundError(StoreError, LookupError):
    """The submission, reply, upload or roster asked for does not exist."""


class DataDirBusyError(StoreError):
    """Another process (a second server) holds the data directory."""


class ConflictError(StoreError):
    """The write conflicts with the stored state (an id already used, a stale roster)."""


def new_id() -> str:
    """Return a fresh random id (128 bits, hex)."""
    return secrets.token_hex(16)


def is_valid_id(value: str) -> bool:
    """True when ``value`` has the exact shape of an id made by ``new_id``."""
    return _ID.fullmatch(value) is not None


def is_valid_mailbox_id(value: str) -> bool:
    """True when ``value`` is a SHA-256 digest in lowercase hex."""
    return _MAILBOX_ID.fullmatch(value) is not None


def require_id(value: str) -> str:
    """Return ``value`` if it is a valid id; raise NotFoundError otherwise."""
    if not is_valid_id(value):
        raise NotFoundError("no such id")
    return value


@dataclass(frozen=True)
class SubmissionRecord:
    """A stored sealed testimony. ``received`` is rounded down to the hour; ``log_index`` is
    -1 until its audit-log entry is recorded."""

    id: str
    sha256: str
    size: int
    received: str
    log_index: int


@dataclass(frozen=True)
class ReplyRecord:
    """A sealed reply waiting in a witness's mailbox."""

    id: str
    mailbox_id: str
    sha256: str
    size: int
    received: str
    log_index: int


@dataclass(frozen=True)
class UploadRecord:
    """A resumable upload in progress. ``touched``: hour of the last append, for expiry."""

    id: str
    offset: int
    touched: str


@dataclass(frozen=True)
class RosterRecord:
    """The current signed roster (note text) and its version."""

    version: int
    text: str


class StagedWriter(Protocol):
    """Appends bytes to a staged upload; ``commit`` makes them durable and returns the new size."""

    def write(self, data: bytes) -> None: ...

    def commit(self) -> int: ...

    def abort(self) -> None: ...


class Store(Protocol):
    """Everything the vault service persists, apart from the audit log."""

    # --- staged uploads (bytes on their way in; promoted to a blob when finished) ---
    def create_upload(self, upload_id: str, hour: str, *, durable: bool = True) -> None:
        """Record a new, empty upload. ``durable=False``: for an upload that is finished in
        the same request (a one-request submission), which nothing acknowledges before
        ``promote_submission`` makes it durable: a crash before then loses nothing anyone
        was told was kept, so the write need not wait for the disk."""
        ...

    def get_upload(self, upload_id: str) -> UploadRecord: ...

    def append_upload(self, upload_id: str, offset: int, hour: str, *,
                      durable: bool = True) -> StagedWriter:
        """Start appending at ``offset`` (must equal the current size: ConflictError).
        ``durable=False``: the writer's ``commit`` need not wait for the disk (as above)."""
        ...

    def open_upload(self, upload_id: str) -> BinaryIO: ...

    def delete_upload(self, upload_id: str) -> None: ...

    def uploads_touched_before(self, hour: str) -> list[str]: ...

    def claim_upload(self, upload_id: str) -> bool:
        """Become the one writer of ``upload_id`` among every process sharing this store
        until ``release_upload``; False when another holds it. (The service keeps one
        writer per upload within a process; a store shared by several adds the rest.)"""
        ...

    def release_upload(self, upload_id: str) -> None: ...

    def count_uploads(self) -> int: ...

    # --- sealed submissions ---
    def promote_submission(self, upload_id: str, record: SubmissionRecord) -> None:
        """Move a finished upload into durable blob storage and record it, atomically enough
        that a crash leaves either nothing or a complete, recorded submission."""
        ...

    def set_submission_log_index(self, submission_id: str, log_index: int) -> None: ...

    def pending_submissions(self) -> list[SubmissionRecord]:
        """Promoted submissions whose log entry was not yet recorded (``log_index`` -1), and
        which no other live process sharing the store is finishing (it may still log them);
        from then on they are this process's to finish."""
        ...

    def get_submission(self, submission_id: str) -> SubmissionRecord: ...

    def list_submissions(self, after: int, limit: int) -> tuple[list[SubmissionRecord], int]:
        """Submissions in arrival order after cursor ``after``; returns (page, next cursor)."""
        ...

    def open_submission(self, submission_id: str) -> BinaryIO: ...

    def delete_submission(self, submission_id: str) -> None: ...

    # --- reply mailboxes ---
    def promote_reply(self, upload_id: str, record: ReplyRecord) -> None: ...

    def set_reply_log_index(self, reply_id: str, log_index: int) -> None: ...

    def pending_replies(self) -> list[ReplyRecord]: ...

    def list_replies(self, mailbox_id: str) -> list[ReplyRecord]: ...

    def open_reply(self, mailbox_id: str, reply_id: str) -> BinaryIO: ...

    # --- roster ---
    def stored_bytes(self) -> int:
        """Bytes of stored sealed files (submissions and replies)."""
        ...

    def free_bytes(self) -> int:
        """Bytes still free for this store's files (its filesystem, unprivileged)."""
        ...

    def put_token(self, digest: str, key_id: str, expires: int) -> None: ...

    def get_token(self, digest: str) -> tuple[str, int] | None: ...

    def delete_token(self, digest: str) -> None: ...

    def delete_tokens_expired(self, now: int) -> int: ...

    def current_roster(self) -> RosterRecord | None: ...

    def put_roster(self, record: RosterRecord) -> None:
        """Store a roster whose version is higher than the current one (ConflictError if not)."""
        ...

    # --- housekeeping ---
    def orphaned_blobs(self) -> Sequence[tuple[str, str]]:
        """(namespace, id) of blobs with no record: left by a crash during promotion, by a
        row deleted behind the server's back, or by an older database restored."""
        ...

    def delete_orphan(self, namespace: str, blob_id: str) -> None:
        """Remove a blob with no record. Only for a submission whose deletion the audit log
        records (a crash between removing the row and the file): nothing stored is ever
        removed without a logged event."""
        ...

    def quarantine_orphan(self, namespace: str, blob_id: str) -> str:
        """Move a blob with no record out of the served set, keeping it; return where it is
        now (relative to the data directory)."""
        ...

    def staged_files(self) -> list[tuple[str, int]]:
        """(upload id, size) of every staging file, with or without an upload record."""
        ...

    def open_staged_file(self, upload_id: str) -> BinaryIO:
        """Read a staging file, with or without an upload record."""
        ...

    def quarantine_staged(self, upload_id: str, submission_id: str) -> str:
        """Move a staging file to quarantine as the sealed file of ``submission_id`` (its
        bytes match that logged submission); return where it is now."""
        ...

    def quarantined_ids(self, namespace: str) -> list[str]:
        """Ids of the blobs of ``namespace`` kept in quarantine (under their own name)."""
        ...

    def quarantined(self, namespace: str, blob_id: str) -> str | None:
        """Where a quarantined blob is kept (relative path), or None."""
        ...

    def open_kept(self, namespace: str, blob_id: str) -> BinaryIO | None:
        """The sealed file of ``namespace``/``blob_id``, in place or in quarantine; None."""
        ...

    def reinstate_submission(self, record: SubmissionRecord) -> None:
        """Record again a logged submission whose sealed file is kept (moving it back from
        quarantine); the caller has checked the file against its log entry."""
        ...

    def record_indices(self, namespace: str) -> dict[str, int]:
        """Every record of ``namespace``: id -> log index (-1 while pending)."""
        ...

    def record_digests(self, namespace: str) -> dict[str, tuple[str, int]]:
        """Every record of ``namespace``: id -> (SHA-256, size) as recorded."""
        ...

    def blob_size(self, namespace: str, blob_id: str) -> int | None:
        """The size of the stored sealed file of ``namespace``/``blob_id``; None if absent."""
        ...

    def conceal_times(self) -> None:
        """Hide when the last write happened (the embedded store sets the times of its
        files back to the start of the hour); called after every logged operation."""
        ...

    def close(self) -> None: ...


POSTGRES_SCHEMES = ("postgresql://", "postgres://")
# In a data directory whose metadata lives in PostgreSQL: which database (no password).
STORE_URL_FILE = "store.url"


def remembered_store_url(data_dir: Path) -> str | None:
    """The PostgreSQL database (``store.url``, without password) a data directory's metadata
    lives in, or None for an embedded store."""
    path = data_dir / STORE_URL_FILE
    return path.read_text("utf-8").strip() if path.is_file() else None


def refuse_embedded_open(data_dir: Path) -> None:
    """Refuse to open ``data_dir`` as an embedded store when its metadata lives in
    PostgreSQL: an empty SQLite database beside its sealed files would make every one of
    them look unrecorded."""
    url = remembered_store_url(data_dir)
    if url is not None:
        raise StoreError(f"the metadata and audit log of {data_dir} are kept in {url}, not "
                         f"in the data directory: give --store with that database")


def is_postgres_dsn(location: object) -> bool:
    """Whether ``location`` (a --store value) names a PostgreSQL database."""
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def open_store(location: str | Path, *, blobs: str | Path | None = None) -> Store:
    """Open (creating if needed) a store: the embedded one in the data directory
    ``location``, or, when ``location`` is a ``postgresql://`` DSN, the PostgreSQL store
    (vault/store/postgres.py) with its sealed files under the directory ``blobs``."""
    if is_postgres_dsn(location):
        if blobs is None:
            raise ValueError("a PostgreSQL store needs a directory for its sealed files")
        from vault.store.postgres import open_postgres_store

        return open_postgres_store(str(location), Path(blobs))
    from vault.store.sqlite import EmbeddedStore

    return EmbeddedStore(Path(location))


__all__ = [
    "NAMESPACES",
    "NAMESPACE_REPLIES",
    "NAMESPACE_SUBMISSIONS",
    "ConflictError",
    "DataDirBusyError",
    "NotFoundError",
    "ReplyRecord",
    "RosterRecord",
    "StagedWriter",
    "Store",
    "StoreError",
    "SubmissionRecord",
    "UploadRecord",
    "is_postgres_dsn",
    "is_valid_id",
    "is_valid_mailbox_id",
    "new_id",
    "open_store",
    "require_id",
]
