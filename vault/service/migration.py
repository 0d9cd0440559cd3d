"""Moving a stopped vault from the embedded store (SQLite and the data directory's blob
directory) to the scaled-out one (PostgreSQL, and optionally object storage):
``amanat migrate``.

What it keeps, and how that is checked before the data directory is switched:

* **The log, byte for byte.** Entries, tree nodes and every signed checkpoint (the same
  signed text) are copied as stored (cosignatures live in memory only and are gathered
  again by the new servers); the copied log is then opened with
  the data directory's log key (which re-checks the latest checkpoint against the stored
  tree) and recomputed in full (``verify_storage``): its size and its latest checkpoint must
  be the source's. No checkpoint is signed by the migration.
* **Every id.** Submissions and replies keep their ids, log indices, digests, sizes, hours
  and their order (``seq``, which investigators' listing cursors use); rosters keep their
  versions and signed text.
* **Every sealed file, read against its record.** Each one copied to a bucket is hashed
  while it is copied, and every sealed file is then read back from where the servers will
  read it: its SHA-256 and size must be its record's. Finally ``amanat fsck``'s checks run
  on the result.

What it drops, saying so: resumable uploads in progress (their witnesses start them again)
and investigators' login tokens (they log in again). The source must be stopped: the
embedded store's lock on the data directory refuses a running server. The target database
must hold no table: a vault is never merged into another. The database's password is never
printed (errors name it by ``safe_dsn``); a bucket is reached as ``serve --blobs`` reaches
it (credentials from the environment or a credentials file).

After the copy, the data directory is tied to the database (``store.url``, and
``blobs.url`` for a bucket), and the embedded files are moved into ``MIGRATED_DIR`` (kept
for a way back, never read again by a server): ``amanat serve --store`` then opens the
data directory, and an embedded start on it is refused.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from vault.service.setup import (
    SetupError,
    _write_private,
    check_data_dir,
    load_or_create_log_key,
)
from vault.store import (
    NAMESPACE_REPLIES,
    NAMESPACE_SUBMISSIONS,
    NAMESPACES,
    STORE_URL_FILE,
    remembered_store_url,
)
from vault.store.auditlog import AuditLog
from vault.store.backup import AUDIT_LOG_FILE, LOG_KEY_FILE
from vault.store.blobs import BlobBackend, BlobDirectory
from vault.store.s3blobs import S3Options
from vault.store.sqlite import (
    BLOBS_URL_FILE,
    DATABASE_NAME,
    EmbeddedStore,
    lock_data_dir,
    remembered_blobs_url,
)

# Where the embedded files go once the copy is checked (a way back; DEPLOY.md §11).
MIGRATED_DIR = "embedded-before-migration"
_CHUNK = 1 << 20
_ROWS = 4096

# Tables copied row for row: (source table, columns); the log's first.
_LOG_TABLES: tuple[tuple[str, str], ...] = (
    ("log_meta", "key, value"),
    ("log_entries", "idx, data"),
    ("log_tree", "level, idx, hash"),
    ("log_checkpoints", "size, root, note"),
)
_STORE_TABLES: tuple[tuple[str, str], ...] = (
    ("submissions", "seq, id, sha256, size, received, log_index"),
    ("replies", "seq, id, mailbox_id, sha256, size, received, log_index"),
    ("rosters", "version, text"),
)


class MigrationError(SetupError):
    """The vault cannot be migrated as asked (the message says why and what to do)."""


@dataclass
class MigrationReport:
    log_size: int = 0
    checkpoint: str = ""
    copied: dict[str, int] = field(default_factory=dict)
    blobs_copied: int = 0
    uploads_dropped: int = 0
    tokens_dropped: int = 0
    quarantine_kept: int = 0
    notes: list[str] = field(default_factory=list)


def _bucket_url(options: S3Options) -> str:
    from vault.store.s3blobs import parse_blobs_url

    bucket, prefix = parse_blobs_url(options.url)
    return f"s3://{bucket}/{prefix}".rstrip("/")


def _check_target_empty(conn: Any, where: str) -> None:
    row = conn.execute(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()"
    ).fetchone()
    if row and int(row[0]):
        raise MigrationError(
            f"{where} is not empty ({int(row[0])} tables): migrate into a new, empty database "
            "(a vault is never merged into another)")


def _rows(conn: sqlite3.Connection, table: str, columns: str) -> Iterable[tuple[Any, ...]]:
    cursor = conn.execute(f"SELECT {columns} FROM {table}")  # noqa: S608 (fixed names)
    while batch := cursor.fetchmany(_ROWS):
        yield from batch


def _copy_table(target: Any, source: sqlite3.Connection, table: str, columns: str) -> int:
    count = 0
    with target.cursor() as cursor, cursor.copy(
            f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in _rows(source, table, columns):
            copy.write_row(row)
            count += 1
    return count


def _digest(src: BinaryIO, write: Callable[[bytes], object] | None = None) -> tuple[str, int]:
    """The SHA-256 (hex) and length of what ``src`` holds, each chunk also given to
    ``write``."""
    digest = hashlib.sha256()
    length = 0
    while chunk := src.read(_CHUNK):
        digest.update(chunk)
        length += len(chunk)
        if write is not None:
            write(chunk)
    return digest.hexdigest(), length


def _copy_blob(source: BlobBackend, target: BlobBackend, namespace: str, blob_id: str,
               sha256: str, size: int) -> None:
    """Copy one sealed file into ``target`` through a staged upload (written once, promoted
    like any other), hashing it on the way; a file already there (an earlier attempt) is
    left as it is and checked afterwards like every other."""
    if target.blob_present(namespace, blob_id):
        return
    staged = secrets.token_hex(16)
    target.create_staged(staged)
    try:
        writer = target.append_staged(staged, 0)
        try:
            with source.open_blob(namespace, blob_id) as src:
                found = _digest(src, writer.write)
            if found != (sha256, size):
                raise MigrationError(
                    f"the sealed file of {namespace[:-1]} {blob_id} does not match its record "
                    "(SHA-256 or size): run `amanat fsck` on the data directory first")
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        target.promote(staged, namespace, blob_id)
    except BaseException:
        target.delete_staged(staged)
        raise


def _read_back(blobs: BlobBackend, namespace: str, blob_id: str, sha256: str, size: int) -> None:
    with blobs.open_blob(namespace, blob_id) as src:
        found = _digest(src)
    if found != (sha256, size):
        raise MigrationError(f"{namespace[:-1]} {blob_id}: the copied sealed file does not "
                             "match its record (SHA-256 or size)")


def _records(conn: sqlite3.Connection) -> list[tuple[str, str, str, int]]:
    """(namespace, id, sha256, size) of every submission and reply the source records."""
    found: list[tuple[str, str, str, int]] = []
    for namespace, table in ((NAMESPACE_SUBMISSIONS, "submissions"),
                             (NAMESPACE_REPLIES, "replies")):
        found.extend((namespace, str(i), str(d), int(s)) for i, d, s in conn.execute(
            f"SELECT id, sha256, size FROM {table}"))  # noqa: S608 (fixed names)
    return found


def _copy_records(dsn: str, where: str, source_log: sqlite3.Connection,
                  source_db: sqlite3.Connection, report: MigrationReport) -> None:
    """Create the schema and copy the log and the records in one transaction: all or none."""
    import psycopg

    from vault.store.pglog import create_log_schema
    from vault.store.postgres import migrate

    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        _check_target_empty(conn, where)
        migrate(conn, where)
        create_log_schema(conn)
        for table, columns in _LOG_TABLES:
            report.copied[table] = _copy_table(conn, source_log, table, columns)
        conn.execute("INSERT INTO log_coordinator (id, size) VALUES (0, %s)",
                     (report.log_size,))
        for table, columns in _STORE_TABLES:
            report.copied[table] = _copy_table(conn, source_db, table, columns)
        for table in ("submissions", "replies"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'),"  # noqa: S608
                f" COALESCE(MAX(seq), 1), MAX(seq) IS NOT NULL) FROM {table}")


def migrate_vault(data_dir: Path, dsn: str, blobs: S3Options | None = None,
                  say: Callable[[str], None] = lambda _line: None) -> MigrationReport:
    """Move the stopped embedded vault in ``data_dir`` into the empty PostgreSQL database
    ``dsn`` (its sealed files into the bucket ``blobs``, else left in the data directory),
    check the copy, then tie ``data_dir`` to the database. MigrationError (or SetupError)
    when it cannot, with nothing switched."""
    import psycopg

    from vault.store.pglog import PostgresAuditLog
    from vault.store.postgres import _without_password, check_reachable, safe_dsn
    from vault.store.s3blobs import connect

    where = safe_dsn(dsn)
    if remembered_store_url(data_dir) is not None:
        raise MigrationError(f"{data_dir} already keeps its records in "
                             f"{remembered_store_url(data_dir)}: nothing to migrate")
    for needed in (DATABASE_NAME, AUDIT_LOG_FILE, LOG_KEY_FILE):
        if not (data_dir / needed).is_file():
            raise MigrationError(f"{data_dir} is not an embedded vault data directory (no "
                                 f"{needed})")
    source_url = remembered_blobs_url(data_dir)
    if blobs is not None and source_url is not None and _bucket_url(blobs) != source_url:
        raise MigrationError(f"the sealed files of {data_dir} are already kept at "
                             f"{source_url}: they stay there (give --blobs {source_url} or "
                             "no --blobs)")
    if source_url is not None and blobs is None:
        raise MigrationError(f"the sealed files of {data_dir} are kept at {source_url}: give "
                             "the settings that reach that bucket (as for `amanat serve`)")
    copy_blobs = blobs is not None and source_url is None
    os.close(lock_data_dir(data_dir))  # a running server holds it: refused before anything
    check_reachable(dsn)
    with psycopg.connect(dsn, autocommit=True) as probe:
        _check_target_empty(probe, where)

    # The source as a start sees it: what a crash left unlogged is logged, and the whole
    # tree and every sealed file are checked; refused here when anything differs.
    _, before = check_data_dir(data_dir, blobs=blobs if source_url else None)
    if not before.consistent:
        raise MigrationError("the source does not agree with its log: " + "; ".join(
            [*before.problems, *before.damaged, before.refusal()]))

    signer, _ = load_or_create_log_key(data_dir)
    source_blobs: BlobBackend = connect(blobs) if source_url and blobs else BlobDirectory(data_dir)
    store = EmbeddedStore(data_dir, source_blobs)  # holds the data directory until closed
    report = MigrationReport()
    target_blobs: BlobBackend | None = None
    try:
        log = AuditLog(data_dir / AUDIT_LOG_FILE, signer, signer.name)
        try:
            report.log_size = log.size()
            report.checkpoint = log.latest_checkpoint()
            sizes = log.checkpoint_sizes()
            source_db = store._db
            source_log = log._connection
            records = _records(source_db)
            (uploads,) = source_db.execute("SELECT COUNT(*) FROM uploads").fetchone()
            (tokens,) = source_db.execute("SELECT COUNT(*) FROM tokens").fetchone()
            report.uploads_dropped, report.tokens_dropped = int(uploads), int(tokens)
            if copy_blobs:
                report.quarantine_kept = sum(len(source_blobs.quarantined_ids(namespace))
                                             for namespace in NAMESPACES)

            if copy_blobs and blobs is not None:
                target_blobs = connect(blobs)
                for namespace, blob_id, sha256, size in records:
                    _copy_blob(source_blobs, target_blobs, namespace, blob_id, sha256, size)
                    report.blobs_copied += 1
                say(f"copied {report.blobs_copied} sealed files to {_bucket_url(blobs)}")

            try:
                _copy_records(dsn, where, source_log, source_db, report)
            except psycopg.Error as exc:
                reason = _without_password(str(exc).strip().splitlines()[0] if str(exc)
                                           else type(exc).__name__, dsn)
                raise MigrationError(f"copying into {where} failed, nothing was committed "
                                     f"or switched: {reason}") from None
            say(f"copied the log ({report.log_size} entries, {len(sizes)} checkpoints) and "
                f"{report.copied['submissions']} submissions, {report.copied['replies']} "
                f"replies, {report.copied['rosters']} rosters to {where}")
        finally:
            log.close()

        # The copy, read back as the servers will read it.
        try:
            with PostgresAuditLog(dsn, signer, signer.name) as copied:
                copied.verify_storage()
                if (copied.size(), copied.latest_checkpoint()) != (report.log_size,
                                                                    report.checkpoint):
                    raise MigrationError("its log does not end at the source's latest "
                                         "checkpoint")
                if copied.checkpoint_sizes() != sizes:
                    raise MigrationError("its log does not hold every checkpoint")
            readable = target_blobs if target_blobs is not None else source_blobs
            for namespace, blob_id, sha256, size in records:
                _read_back(readable, namespace, blob_id, sha256, size)
        except Exception as exc:
            raise MigrationError(
                f"the copy in {where} does not hold: {exc}. The data directory was not "
                "switched and still serves as before; drop and recreate that database "
                "before trying again") from None
        say(f"checked: log size {report.log_size}, the same latest checkpoint, "
            f"{len(records)} sealed files match their records")

        # Switch the data directory while still holding it: from here on an embedded start
        # is refused, and `serve --store` finds its database (and bucket).
        _write_private(data_dir / STORE_URL_FILE, (where + "\n").encode("utf-8"))
        if copy_blobs and blobs is not None:
            _write_private(data_dir / BLOBS_URL_FILE, (_bucket_url(blobs) + "\n").encode())
    finally:
        if target_blobs is not None:
            target_blobs.close()
        store.close()

    kept = data_dir / MIGRATED_DIR
    kept.mkdir(mode=0o700, exist_ok=True)
    moved = [DATABASE_NAME, AUDIT_LOG_FILE]
    if copy_blobs:
        moved += ["blobs", "quarantine", "uploads"]
    for name in moved:
        for path in (data_dir / name, *(data_dir / f"{name}{s}" for s in ("-wal", "-shm"))):
            if path.exists():
                path.rename(kept / path.name)
    say(f"the embedded files are kept in {kept} (no server reads them again)")
    if report.uploads_dropped:
        report.notes.append(f"{report.uploads_dropped} resumable uploads in progress were not "
                            "copied: their witnesses send them again")
    if report.quarantine_kept:
        report.notes.append(f"{report.quarantine_kept} files kept in quarantine were not "
                            f"copied to the bucket: they stay in {kept / 'quarantine'}")
    if report.tokens_dropped:
        report.notes.append(f"{report.tokens_dropped} login tokens were not copied: "
                            "investigators log in again")

    _, after = check_data_dir(data_dir, blobs=blobs if (copy_blobs or source_url) else None,
                              store_dsn=dsn)
    if not after.consistent:
        raise MigrationError(f"fsck of the migrated vault failed: {after.refusal()}")
    return report


__all__ = ["MIGRATED_DIR", "MigrationError", "MigrationReport", "migrate_vault"]
