"""The scaled-out store: metadata and login state in PostgreSQL, sealed files in a blob backend.

A second implementation of ``vault.store.Store`` for deployments that outgrow one machine:
several ``amanat serve`` workers share one PostgreSQL database (submissions, replies,
uploads, rosters, login tokens, spent login challenges and proof-of-work seeds, upload
writer locks) and one blob
backend (a ``BlobBackend``: the shared data directory's ``BlobDirectory``, or S3-compatible
object storage, vault/store/s3blobs.py). The audit log lives in the same database
(vault/store/pglog.py).

What it protects, beyond the ``Store`` contract (vault/store/__init__.py):

* **One state for every worker.** Nothing a request depends on is kept in one worker's
  memory: a token issued by one worker is valid on all, a login challenge is spent once
  across all (``spend_challenge``), and an upload has one writer at a time across all
  (``claim_upload``: a PostgreSQL advisory lock held on its own connection, released when
  the request ends or when its worker dies, since PostgreSQL drops a dead session's locks).
  The proof-of-work gate hears every worker's admitted writes (``announce_write``: a
  NOTIFY, never stored) and spends a seed once (``spend_seed``).
* **No submission logged twice.** A record promoted but not yet logged belongs to the
  worker finishing it (``owner``: the backend pid of a session the worker holds for its
  life); another worker's start-up recovery adopts it, in one statement, only once that
  session has ended (``pending_submissions``).
* **The same ordering as the embedded store.** A sealed file is promoted (durable in the
  blob backend) before its row commits, so a crash leaves at worst an orphaned blob, which
  the service quarantines, never a row without its file.
* **A newer schema is refused, never touched.** The schema version lives in
  ``amanat_meta``; the schema is created or migrated under a transaction-level advisory
  lock, so workers starting together do not race.

Rows hold random ids, SHA-256 digests, sizes and hours, never an address; the only precise
times are the expiries of investigators' tokens and spent challenges (as in the embedded
store); a spent seed is kept to the end of its expiry hour.
The DSN (which may carry a password) is never printed: errors name the database by
``safe_dsn``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import psycopg
import psycopg.conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from vault.store import (
    NAMESPACE_REPLIES,
    NAMESPACE_SUBMISSIONS,
    NAMESPACES,
    ConflictError,
    NotFoundError,
    ReplyRecord,
    RosterRecord,
    StagedWriter,
    StoreError,
    SubmissionRecord,
    UploadRecord,
    is_valid_id,
    is_valid_mailbox_id,
)
from vault.store.blobs import BlobBackend, BlobDirectory, BlobSide
from vault.store.sqlite import SchemaVersionError

# 1: this release. Add a step to ``_MIGRATIONS`` for each new version.
SCHEMA_VERSION = 1
# Advisory lock keys (one 64-bit space per database): schema changes, upload writers.
_SCHEMA_LOCK = 0x616D616E61740001
# Two-key advisory lock (kind, 32 bits of a random id) of an upload's writer.
_UPLOAD_LOCK = 0x616D6E74
# ... and of a record being promoted (its sealed file written, its row not yet inserted), so
# another worker's start does not take the file for an orphan meanwhile.
_PROMOTING_LOCK = 0x616D6E75
# Connections per worker: POOL_SIZE for the store, pglog.LOG_POOL_SIZE for the log, up to
# CLAIM_POOL_SIZE for the locks above (DEPLOY.md: max_connections for N workers).
POOL_SIZE = 6
CLAIM_POOL_SIZE = 16
CLAIM_WAIT_SECONDS = 2.0
# Where workers announce admitted anonymous writes to each other (LISTEN/NOTIFY).
_WRITES_CHANNEL = "amanat_writes"
POOL_TIMEOUT_SECONDS = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS amanat_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    received TEXT NOT NULL,
    log_index BIGINT NOT NULL,
    owner INTEGER
);
CREATE TABLE IF NOT EXISTS replies (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    mailbox_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    received TEXT NOT NULL,
    log_index BIGINT NOT NULL,
    owner INTEGER
);
CREATE INDEX IF NOT EXISTS replies_by_mailbox ON replies (mailbox_id);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    touched TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    digest TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS spent_challenges (
    digest BYTEA PRIMARY KEY,
    expires BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS spent_seeds (
    digest BYTEA PRIMARY KEY,
    expires BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS rosters (
    version BIGINT PRIMARY KEY,
    text TEXT NOT NULL
)
"""

# version -> SQL that takes the database from that version to the next
_MIGRATIONS: dict[int, str] = {}

_TABLES = {NAMESPACE_SUBMISSIONS: "submissions", NAMESPACE_REPLIES: "replies"}


def safe_dsn(dsn: str) -> str:
    """``dsn`` with its password (and nothing else) left out, fit for messages and logs."""
    try:
        parts = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "postgresql://(unreadable address)"
    host = str(parts.get("host", "") or "")
    port = str(parts.get("port", "") or "")
    where = host + (f":{port}" if port else "")
    user = str(parts.get("user", "") or "")
    name = str(parts.get("dbname", "") or "")
    return f"postgresql://{user + '@' if user else ''}{where}/{name}"


class PostgresUnavailableError(StoreError):
    """The database cannot be reached or refuses the connection (the message names it
    without its password)."""


def _without_password(text: str, dsn: str) -> str:
    try:
        password = str(psycopg.conninfo.conninfo_to_dict(dsn).get("password") or "")
    except psycopg.ProgrammingError:
        return "(the address given could not be read)"
    return text.replace(password, "(password)") if password else text


def check_reachable(dsn: str) -> None:
    """Connect once, so that a wrong address, user or password is said at once and in
    words (PostgresUnavailableError, naming the database without its password), instead of
    a pool retrying until its timeout."""
    try:
        psycopg.connect(dsn, connect_timeout=int(POOL_TIMEOUT_SECONDS)).close()
    except psycopg.Error as exc:
        reason = _without_password(str(exc).strip().splitlines()[0] if str(exc) else
                                   type(exc).__name__, dsn)
        raise PostgresUnavailableError(
            f"cannot connect to {safe_dsn(dsn)}: {reason}") from None


def make_pool(dsn: str, size: int, name: str) -> ConnectionPool[psycopg.Connection[Any]]:
    check_reachable(dsn)
    pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
        dsn, min_size=1, max_size=size, open=False, name=name,
        kwargs={"autocommit": True}, timeout=POOL_TIMEOUT_SECONDS)
    try:
        pool.open(wait=True, timeout=POOL_TIMEOUT_SECONDS)
    except PoolTimeout:
        pool.close()
        # psycopg's own message may quote the connection string: say where, not how.
        raise PostgresUnavailableError(
            f"cannot connect to {safe_dsn(dsn)} within {POOL_TIMEOUT_SECONDS:.0f} s: is the "
            "server running, and do the user, password and database name in --store "
            "match it?") from None
    return pool


def read_schema_version(conn: psycopg.Connection[Any]) -> int:
    """The schema version of an open database: 0 when no amanat table exists yet."""
    (exists,) = conn.execute("SELECT to_regclass('amanat_meta') IS NOT NULL").fetchone() or (
        False,)
    if not exists:
        return 0
    row = conn.execute("SELECT value FROM amanat_meta WHERE key = 'schema'").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: psycopg.Connection[Any], where: str) -> int:
    """Bring the database to ``SCHEMA_VERSION`` (creating it when new), under an advisory
    lock; refuse a newer one with SchemaVersionError before changing anything."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        found = read_schema_version(conn)
        if found > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{where} has schema version {found}, but this amanat reads schema version "
                f"{SCHEMA_VERSION} and earlier: it was written by a newer release. Run that "
                "release (or a newer one) on it; nothing was changed (DEPLOY.md §9)")
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        for version in range(max(found, 1), SCHEMA_VERSION):
            for statement in _MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(
            "INSERT INTO amanat_meta (key, value) VALUES ('schema', %s)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (str(SCHEMA_VERSION),))
    return found


def _lock_key(item_id: str) -> int:
    # Ids are 128 random bits in hex: their first 32 bits, as PostgreSQL's signed int4.
    return int(item_id[:8], 16) - 2**31


class PostgresStore(BlobSide):
    """Metadata in the PostgreSQL database ``dsn``; sealed files in ``blobs`` (which the
    store closes with itself); ``data_dir`` the workers' shared data directory."""

    def __init__(self, dsn: str, data_dir: Path, blobs: BlobBackend) -> None:
        self.where = safe_dsn(dsn)
        self.data_dir = data_dir
        self.blobs = blobs
        self._pool = make_pool(dsn, POOL_SIZE, "amanat-store")
        self._claims_pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._dsn = dsn
        self._claims: dict[tuple[int, str], psycopg.Connection[Any]] = {}
        self._claims_lock = threading.Lock()
        self._heard: list[Callable[[], None]] = []
        self._listener: threading.Thread | None = None
        self._listener_ready = threading.Event()
        self._closing = threading.Event()
        try:
            with self._pool.connection() as conn:
                self.schema_found = migrate(conn, self.where)
            # A session kept for this store's life: its backend pid marks the records this
            # worker promoted and has not logged yet (``owner``), and it ends with the worker.
            self._life = psycopg.connect(dsn, autocommit=True)
        except BaseException:
            self._pool.close()
            raise
        self._owner = int(self._life.info.backend_pid)

    # --- helpers ---
    @contextlib.contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        with self._pool.connection() as conn:
            yield conn

    def _one(self, sql: str, args: Sequence[object]) -> tuple[Any, ...] | None:
        with self._conn() as conn:
            return conn.execute(sql, args).fetchone()

    def _all(self, sql: str, args: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._conn() as conn:
            return conn.execute(sql, args).fetchall()

    def _write(self, sql: str, args: Sequence[object]) -> int:
        with self._conn() as conn:
            return conn.execute(sql, args).rowcount

    # --- staged uploads ---
    def create_upload(self, upload_id: str, hour: str, *, durable: bool = True) -> None:
        if not is_valid_id(upload_id):
            raise NotFoundError("no such upload")
        try:
            with self._conn() as conn, conn.transaction():
                if not durable:  # nothing is acknowledged before the promotion's commit
                    conn.execute("SET LOCAL synchronous_commit = off")
                conn.execute("INSERT INTO uploads (id, touched) VALUES (%s, %s)",
                             (upload_id, hour))
        except psycopg.errors.UniqueViolation:
            raise ConflictError("upload id already used") from None
        self.blobs.create_staged(upload_id)

    def get_upload(self, upload_id: str) -> UploadRecord:
        if not is_valid_id(upload_id):
            raise NotFoundError("no such upload")
        row = self._one("SELECT touched FROM uploads WHERE id = %s", (upload_id,))
        if row is None:
            raise NotFoundError("no such upload")
        return UploadRecord(upload_id, self.blobs.staged_size(upload_id), str(row[0]))

    def append_upload(self, upload_id: str, offset: int, hour: str, *,
                      durable: bool = True) -> StagedWriter:
        record = self.get_upload(upload_id)
        if record.touched != hour:
            self._write("UPDATE uploads SET touched = %s WHERE id = %s", (hour, upload_id))
        return self.blobs.append_staged(upload_id, offset, durable=durable)

    def open_upload(self, upload_id: str) -> BinaryIO:
        self.get_upload(upload_id)
        return self.blobs.open_staged(upload_id)

    def delete_upload(self, upload_id: str) -> None:
        if not is_valid_id(upload_id):
            raise NotFoundError("no such upload")
        self._write("DELETE FROM uploads WHERE id = %s", (upload_id,))
        self.blobs.delete_staged(upload_id)

    def count_uploads(self) -> int:
        row = self._one("SELECT COUNT(*) FROM uploads", ())
        return int(row[0]) if row else 0

    def uploads_touched_before(self, hour: str) -> list[str]:
        rows = self._all("SELECT id, touched < %s FROM uploads", (hour,))
        known = {str(r[0]) for r in rows}
        stale = [str(r[0]) for r in rows if r[1]]
        # Staging files with no row (a crash between the two writes) are stale too; a file
        # created by another worker an instant ago has its row already (row first).
        stale.extend(i for i in self.blobs.staged_ids() if i not in known)
        return stale

    # --- one writer per upload, one finisher per record, across workers ---
    def _try_lock(self, kind: int, item: str) -> bool:
        """Take the session-level advisory lock (``kind``, ``item``) on a connection of its
        own, kept until ``_unlock``; False when any session (a worker, or this process)
        holds it. A worker that dies lets go: PostgreSQL ends its sessions."""
        with self._claims_lock:
            if (kind, item) in self._claims:
                return False
            if self._claims_pool is None:
                self._claims_pool = make_pool(self._dsn, CLAIM_POOL_SIZE, "amanat-claims")
            pool = self._claims_pool
        try:
            conn = pool.getconn(timeout=CLAIM_WAIT_SECONDS)
        except PoolTimeout:
            return False  # as many writers as connections: this one waits for a retry
        try:
            (taken,) = conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                    (kind, _lock_key(item))).fetchone() or (False,)
        except BaseException:
            pool.putconn(conn)
            raise
        if not taken:
            pool.putconn(conn)
            return False
        with self._claims_lock:
            self._claims[(kind, item)] = conn
        return True

    def _unlock(self, kind: int, item: str) -> None:
        with self._claims_lock:
            conn = self._claims.pop((kind, item), None)
            pool = self._claims_pool
        if conn is None or pool is None:
            return
        try:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", (kind, _lock_key(item)))
        finally:
            pool.putconn(conn)

    def claim_upload(self, upload_id: str) -> bool:
        """Take the writer lock of ``upload_id`` for this process until ``release_upload``;
        False when another request (on any worker) holds it."""
        if not is_valid_id(upload_id):
            raise NotFoundError("no such upload")
        return self._try_lock(_UPLOAD_LOCK, upload_id)

    def release_upload(self, upload_id: str) -> None:
        self._unlock(_UPLOAD_LOCK, upload_id)

    # --- room ---
    def stored_bytes(self) -> int:
        row = self._one("SELECT (SELECT COALESCE(SUM(size), 0) FROM submissions)"
                        " + (SELECT COALESCE(SUM(size), 0) FROM replies)", ())
        return int(row[0]) if row else 0

    def free_bytes(self) -> int:
        stats = os.statvfs(self.data_dir)
        return stats.f_bavail * stats.f_frsize

    # --- investigators' login state (vault.service.auth) ---
    def put_token(self, digest: str, key_id: str, expires: int) -> None:
        self._write("INSERT INTO tokens (digest, key_id, expires) VALUES (%s, %s, %s)"
                    " ON CONFLICT (digest) DO UPDATE SET key_id = EXCLUDED.key_id,"
                    " expires = EXCLUDED.expires", (digest, key_id, expires))

    def get_token(self, digest: str) -> tuple[str, int] | None:
        row = self._one("SELECT key_id, expires FROM tokens WHERE digest = %s", (digest,))
        return None if row is None else (str(row[0]), int(row[1]))

    def delete_token(self, digest: str) -> None:
        self._write("DELETE FROM tokens WHERE digest = %s", (digest,))

    def delete_tokens_expired(self, now: int) -> int:
        tokens = self._write("DELETE FROM tokens WHERE expires <= %s", (now,))
        return tokens + self._write("DELETE FROM spent_challenges WHERE expires <= %s", (now,))

    def spend_challenge(self, digest: bytes, expires: int) -> bool:
        """Remember a redeemed login challenge until it expires; False when any worker
        already spent it (vault.service.auth.SpentChallenges)."""
        return self._write(
            "INSERT INTO spent_challenges (digest, expires) VALUES (%s, %s)"
            " ON CONFLICT (digest) DO NOTHING", (digest, expires)) == 1

    # --- the proof-of-work gate, across workers (vault.service.work.SharedWrites) ---
    def announce_write(self) -> None:
        """Tell every worker listening (this one included) that an anonymous write was
        admitted: a NOTIFY, held in PostgreSQL's memory queue, never stored with a time."""
        self._write("SELECT pg_notify(%s, '')", (_WRITES_CHANNEL,))

    def on_write(self, heard: Callable[[], None]) -> None:
        """Call ``heard`` for every write any worker announces (from a listening thread)."""
        with self._claims_lock:
            self._heard.append(heard)
            if self._listener is not None:
                return
            self._listener = threading.Thread(target=self._listen, name="amanat-writes",
                                              daemon=True)
        ready = threading.Event()
        self._listener_ready = ready
        self._listener.start()
        ready.wait(POOL_TIMEOUT_SECONDS)

    def _listen(self) -> None:
        try:
            conn = psycopg.connect(self._dsn, autocommit=True)
        except psycopg.Error:
            self._listener_ready.set()
            return  # counted locally no more: the rate then reads low, never fails a write
        try:
            conn.execute(f"LISTEN {_WRITES_CHANNEL}")
            self._listener_ready.set()
            while not self._closing.is_set():
                for _ in conn.notifies(timeout=0.5):
                    for heard in list(self._heard):
                        heard()
        except psycopg.Error:
            pass
        finally:
            self._listener_ready.set()
            conn.close()

    def spend_seed(self, digest: bytes, expires: int) -> bool:
        """Remember a solved seed until it expires; False when any worker spent it. Kept
        until the end of the hour it expires in: a seed's exact expiry would tell when a
        witness asked for it."""
        until = -(-expires // 3600) * 3600
        self._write("DELETE FROM spent_seeds WHERE expires <= %s", (int(time.time()),))
        return self._write(
            "INSERT INTO spent_seeds (digest, expires) VALUES (%s, %s)"
            " ON CONFLICT (digest) DO NOTHING", (digest, until)) == 1

    # --- submissions ---
    def _promote(self, upload_id: str, namespace: str, record_id: str,
                 insert: str, values: tuple[object, ...]) -> None:
        """Move a finished upload's blob to ``namespace``/``record_id``, then insert its
        row and drop the upload's in one transaction."""
        table = _TABLES[namespace]
        noun = {"submissions": "submission", "replies": "reply"}[table]
        self.get_upload(upload_id)
        if self._one(f"SELECT 1 FROM {table} WHERE id = %s", (record_id,)):  # noqa: S608
            raise ConflictError(f"{noun} id already used")
        # Held from the sealed file's write until its row is committed: ``orphaned_blobs``
        # on another worker leaves such a file alone. Not taken (every claim connection
        # busy for CLAIM_WAIT_SECONDS): the promotion goes on all the same, since refusing a
        # witness is worse; a worker starting in that moment could then quarantine the file
        # (named by fsck, served again by fsck --repair).
        locked = self._try_lock(_PROMOTING_LOCK, record_id)
        try:
            self.blobs.promote(upload_id, namespace, record_id)
            with self._conn() as conn, conn.transaction():
                conn.execute(insert, values)
                # Pending until its log index is set: this worker's to finish while it lives.
                conn.execute(f"UPDATE {table} SET owner = %s WHERE id = %s",  # noqa: S608
                             (self._owner, record_id))
                conn.execute("DELETE FROM uploads WHERE id = %s", (upload_id,))
        finally:
            if locked:
                self._unlock(_PROMOTING_LOCK, record_id)

    def promote_submission(self, upload_id: str, record: SubmissionRecord) -> None:
        self._promote(
            upload_id, NAMESPACE_SUBMISSIONS, record.id,
            "INSERT INTO submissions (id, sha256, size, received, log_index)"
            " VALUES (%s, %s, %s, %s, %s)",
            (record.id, record.sha256, record.size, record.received, record.log_index),
        )

    def set_submission_log_index(self, submission_id: str, log_index: int) -> None:
        if self._write("UPDATE submissions SET log_index = %s, owner = NULL WHERE id = %s",
                       (log_index, submission_id)) != 1:
            raise NotFoundError("no such submission")

    def _adopt_pending(self, namespace: str, columns: str) -> list[tuple[Any, ...]]:
        """The pending records of ``namespace`` whose finishing worker is gone (its session
        ended) or is this one, made this worker's in one statement: two workers starting
        together never both adopt (and log) one record, and a live worker's record, which
        it may be logging right now, is left to it."""
        table = _TABLES[namespace]
        rows = self._all(
            f"UPDATE {table} SET owner = %s WHERE log_index < 0 AND (owner IS NULL"  # noqa: S608
            " OR owner = %s OR owner NOT IN (SELECT pid FROM pg_stat_activity"
            "  WHERE pid IS NOT NULL))"
            f" RETURNING seq, {columns}", (self._owner, self._owner))
        return [row[1:] for row in sorted(rows, key=lambda row: int(row[0]))]

    def pending_submissions(self) -> list[SubmissionRecord]:
        rows = self._adopt_pending(NAMESPACE_SUBMISSIONS, "id, sha256, size, received, log_index")
        return [SubmissionRecord(str(a), str(b), int(c), str(d), int(e)) for a, b, c, d, e in rows]

    def get_submission(self, submission_id: str) -> SubmissionRecord:
        if not is_valid_id(submission_id):
            raise NotFoundError("no such submission")
        row = self._one("SELECT id, sha256, size, received, log_index FROM submissions"
                        " WHERE id = %s", (submission_id,))
        if row is None:
            raise NotFoundError("no such submission")
        return SubmissionRecord(str(row[0]), str(row[1]), int(row[2]), str(row[3]), int(row[4]))

    def list_submissions(self, after: int, limit: int) -> tuple[list[SubmissionRecord], int]:
        rows = self._all("SELECT seq, id, sha256, size, received, log_index FROM submissions"
                         " WHERE seq > %s AND log_index >= 0 ORDER BY seq LIMIT %s",
                         (after, limit))
        page = [SubmissionRecord(str(b), str(c), int(d), str(e), int(f))
                for _, b, c, d, e, f in rows]
        return page, (int(rows[-1][0]) if rows else after)

    def open_submission(self, submission_id: str) -> BinaryIO:
        self.get_submission(submission_id)
        return self.blobs.open_blob(NAMESPACE_SUBMISSIONS, submission_id)

    def delete_submission(self, submission_id: str) -> None:
        self.get_submission(submission_id)
        self._write("DELETE FROM submissions WHERE id = %s", (submission_id,))
        self.blobs.delete_blob(NAMESPACE_SUBMISSIONS, submission_id)

    # --- replies ---
    def promote_reply(self, upload_id: str, record: ReplyRecord) -> None:
        if not is_valid_mailbox_id(record.mailbox_id):
            raise NotFoundError("no such mailbox")
        self._promote(
            upload_id, NAMESPACE_REPLIES, record.id,
            "INSERT INTO replies (id, mailbox_id, sha256, size, received, log_index)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (record.id, record.mailbox_id, record.sha256, record.size, record.received,
             record.log_index),
        )

    def set_reply_log_index(self, reply_id: str, log_index: int) -> None:
        if self._write("UPDATE replies SET log_index = %s, owner = NULL WHERE id = %s",
                       (log_index, reply_id)) != 1:
            raise NotFoundError("no such reply")

    _REPLY_COLUMNS = "SELECT id, mailbox_id, sha256, size, received, log_index FROM replies"

    def _replies(self, where: str, args: Sequence[object]) -> list[ReplyRecord]:
        query = f"{self._REPLY_COLUMNS} WHERE {where} ORDER BY seq"
        rows = self._all(query, args)
        return [ReplyRecord(str(a), str(b), str(c), int(d), str(e), int(f))
                for a, b, c, d, e, f in rows]

    def pending_replies(self) -> list[ReplyRecord]:
        rows = self._adopt_pending(NAMESPACE_REPLIES,
                                   "id, mailbox_id, sha256, size, received, log_index")
        return [ReplyRecord(str(a), str(b), str(c), int(d), str(e), int(f))
                for a, b, c, d, e, f in rows]

    def list_replies(self, mailbox_id: str) -> list[ReplyRecord]:
        if not is_valid_mailbox_id(mailbox_id):
            return []
        return self._replies("mailbox_id = %s AND log_index >= 0", (mailbox_id,))

    def open_reply(self, mailbox_id: str, reply_id: str) -> BinaryIO:
        if not (is_valid_mailbox_id(mailbox_id) and is_valid_id(reply_id)):
            raise NotFoundError("no such reply")
        if self._one("SELECT 1 FROM replies WHERE id = %s AND mailbox_id = %s"
                     " AND log_index >= 0", (reply_id, mailbox_id)) is None:
            raise NotFoundError("no such reply")
        return self.blobs.open_blob(NAMESPACE_REPLIES, reply_id)

    # --- roster ---
    def current_roster(self) -> RosterRecord | None:
        row = self._one("SELECT version, text FROM rosters ORDER BY version DESC LIMIT 1", ())
        return None if row is None else RosterRecord(int(row[0]), str(row[1]))

    def put_roster(self, record: RosterRecord) -> None:
        with self._conn() as conn, conn.transaction():
            # One publisher at a time across workers: the version check and the insert
            # see the same table.
            conn.execute("LOCK TABLE rosters IN SHARE ROW EXCLUSIVE MODE")
            row = conn.execute("SELECT MAX(version) FROM rosters").fetchone()
            current = None if row is None or row[0] is None else int(row[0])
            if current is not None and record.version <= current:
                raise ConflictError(
                    f"roster version {record.version} is not newer than {current}")
            conn.execute("INSERT INTO rosters (version, text) VALUES (%s, %s)",
                         (record.version, record.text))

    # --- housekeeping ---
    def orphaned_blobs(self) -> list[tuple[str, str]]:
        orphans: list[tuple[str, str]] = []
        for namespace in NAMESPACES:
            present = self.blobs.blob_ids(namespace)
            known = set(self.record_indices(namespace))
            for blob_id in present:
                if blob_id in known:
                    continue
                # A worker promoting it holds its lock from the file's write to its row's
                # commit: held, it is not an orphan; taken, its row is looked for again
                # (inserted since the rows were read, or never: a crash).
                if not self._try_lock(_PROMOTING_LOCK, blob_id):
                    continue
                try:
                    table = _TABLES[namespace]
                    if self._one(f"SELECT 1 FROM {table} WHERE id = %s",  # noqa: S608
                                 (blob_id,)):
                        continue
                finally:
                    self._unlock(_PROMOTING_LOCK, blob_id)
                orphans.append((namespace, blob_id))
        return orphans

    def quarantine_staged(self, upload_id: str, submission_id: str) -> str:
        self._write("DELETE FROM uploads WHERE id = %s", (upload_id,))
        return self.blobs.quarantine_staged(upload_id, submission_id)

    def reinstate_submission(self, record: SubmissionRecord) -> None:
        if not self.blobs.blob_present(NAMESPACE_SUBMISSIONS, record.id):
            self.blobs.unquarantine(NAMESPACE_SUBMISSIONS, record.id)
        self._write("INSERT INTO submissions (id, sha256, size, received, log_index)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                    (record.id, record.sha256, record.size, record.received, record.log_index))

    def record_indices(self, namespace: str) -> dict[str, int]:
        rows = self._all(f"SELECT id, log_index FROM {_TABLES[namespace]}", ())  # noqa: S608
        return {str(row[0]): int(row[1]) for row in rows}

    def record_digests(self, namespace: str) -> dict[str, tuple[str, int]]:
        rows = self._all(f"SELECT id, sha256, size FROM {_TABLES[namespace]}", ())  # noqa: S608
        return {str(row[0]): (str(row[1]), int(row[2])) for row in rows}

    def conceal_times(self) -> None:
        self.blobs.conceal_times()

    def close(self) -> None:
        self._closing.set()
        if self._listener is not None:
            self._listener.join(timeout=5)
        with self._claims_lock:
            held, self._claims = list(self._claims.values()), {}
            claims_pool, self._claims_pool = self._claims_pool, None
        for conn in held:
            conn.close()  # the session ends: PostgreSQL drops its advisory locks
        if claims_pool is not None:
            claims_pool.close()
        self._life.close()
        self._pool.close()
        self.blobs.close()


def open_postgres_store(dsn: str, data_dir: Path,
                        blobs: BlobBackend | None = None) -> PostgresStore:
    """Open (creating the schema if needed) the PostgreSQL store at ``dsn`` for the shared
    data directory ``data_dir``, its sealed files in ``blobs`` (default: the directory's)."""
    return PostgresStore(dsn, data_dir, BlobDirectory(data_dir) if blobs is None else blobs)
