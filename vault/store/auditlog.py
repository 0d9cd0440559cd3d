"""The persistent audit log: an append-only RFC 9162 Merkle tree in SQLite, with signed checkpoints.

This is where DESIGN guarantee 4 ("nobody can silently drop, alter or read a testimony") is
kept on disk. Entries are opaque bytes (their canonical text is the service's business); the
log stores them, the hashes of every complete subtree, and one signed C2SP checkpoint per
appended batch. The maths and formats come from `vault.tlog`; this module only persists.

What it guarantees:

* **Durable before acknowledged.** `append` writes the entries, the new tree nodes and the
  new checkpoint (with its signed text) in one transaction and returns only after SQLite has
  committed it with ``synchronous=FULL`` in WAL mode (the WAL is fsynced at commit).
* **Never two inconsistent checkpoints, even across a crash.** A signed checkpoint leaves this
  module only after the tree it commits to and its own row are committed together, so a crash
  loses at most a checkpoint nobody has seen. On open, the latest stored checkpoint is checked
  against the stored tree (signature, origin, size, root, last leaf); any mismatch refuses to
  open rather than sign a fork.
* **O(log n) appends and proofs.** The table of complete-subtree hashes is a
  `vault.tlog.merkle.TreeHashes` source: an append computes only the nodes it completes from
  the in-memory right edge (`Frontier`), and any proof reads O(log n) rows.

Concurrency: one connection behind one lock; every method is thread-safe. Another process
appending to the same database is noticed at the next append (the write transaction re-reads
the latest checkpoint) and the state is reloaded and re-verified.

Tables (prefixed ``log_`` so they can share a database): ``log_meta`` (origin, schema),
``log_entries`` (idx, data), ``log_tree`` (level, idx, hash of leaves
``[idx * 2**level, (idx+1) * 2**level)``), ``log_checkpoints`` (size, root, signed note).
Cosignatures are kept in memory only (``vault.store.cosigned``: each carries a precise time);
the ``log_cosignatures`` table an older release kept them in is emptied and dropped at open.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from vault.store.cosigned import CosignatureMemory
from vault.tlog.checkpoint import Checkpoint, CheckpointError, open_checkpoint, sign_checkpoint
from vault.tlog.merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleError,
    NodeHash,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
)
from vault.tlog.note import HybridSigner, NoteError, Signer, Verifier
from vault.tlog.proof import Receipt

__all__ = [
    "AuditLog",
    "AuditLogError",
    "LogCorruptedError",
    "LogKeyMismatchError",
    "LogRangeError",
]

SCHEMA_VERSION = "1"
_BUSY_TIMEOUT_MS = 10_000
_SCAN_CHUNK = 4096

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_entries (
    idx INTEGER PRIMARY KEY,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS log_tree (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_checkpoints (
    size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    note TEXT NOT NULL
);
"""


class AuditLogError(Exception):
    """Base class of audit-log errors."""


class LogCorruptedError(AuditLogError):
    """The stored tree, entries and checkpoints do not agree: the database was damaged or
    edited. The log refuses to continue rather than sign a checkpoint that could fork."""


class LogKeyMismatchError(AuditLogError):
    """The database belongs to another log origin or was signed by another log key."""


class LogRangeError(AuditLogError, ValueError):
    """An index or tree size outside the current log."""


class _StoredTreeHashes:
    """`TreeHashes` over the ``log_tree`` table."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def get(self, level: int, index: int) -> bytes:
        row = self._connection.execute(
            "SELECT hash FROM log_tree WHERE level = ? AND idx = ?", (level, index)
        ).fetchone()
        if row is None:
            raise LookupError(f"no stored subtree hash at level {level}, index {index}")
        value: bytes = row[0]
        return value


def _as_entry(entry: object, position: int) -> bytes:
    if not isinstance(entry, bytes | bytearray | memoryview):
        raise TypeError(f"log entry {position} is {type(entry).__name__}, not bytes")
    return bytes(entry)


def check_log_meta(rows: dict[str, str], schema: str, origin: str, vkey: str) -> None:
    """Refuse a log of another schema, origin or key (its ``log_meta`` rows)."""
    if rows.get("schema") != schema:
        raise AuditLogError(
            f"unknown audit log schema {rows.get('schema')!r}: this amanat reads audit log "
            f"schema version {schema}; the log was written by another release, "
            "run that release on it (DEPLOY.md §9)")
    if rows.get("origin") != origin:
        raise LogKeyMismatchError(
            f"this audit log belongs to the origin {rows.get('origin')!r}, not {origin!r}")
    if rows.get("vkey") != vkey:
        raise LogKeyMismatchError(
            f"this audit log was signed by the key {rows.get('vkey')}, not {vkey}")


def open_latest_checkpoint(signed: str, size: int, root: bytes,
                           open_note: Callable[[str], Checkpoint]) -> Checkpoint:
    """The latest stored checkpoint, verified and matching its row (size, root)."""
    try:
        checkpoint = open_note(signed)
    except (NoteError, CheckpointError) as exc:
        raise LogCorruptedError(f"the latest stored checkpoint does not verify: {exc}") from None
    if checkpoint.size != size or checkpoint.root_hash != root:
        raise LogCorruptedError(
            f"the latest checkpoint's signed text (size {checkpoint.size}) disagrees with "
            f"its row (size {size})")
    return checkpoint


@dataclass(frozen=True)
class StoredTree:
    """What `verify_stored_tree` reads from a log's tables, all from one state: the log's
    size, the counts of stored entries and nodes (and the last entry's index), every stored
    checkpoint row (size, root, signed note) in increasing size, entries by index from a
    start (a chunk at a time) and the stored nodes of a level between two indices."""

    size: int
    entry_count: int
    last_entry: int | None
    node_count: int
    checkpoints: Sequence[tuple[Any, ...]]
    entries_from: Callable[[int], Sequence[tuple[int, bytes]]]
    nodes: Callable[[int, int, int], dict[int, bytes]]


def verify_stored_tree(stored: StoredTree, open_note: Callable[[str], Checkpoint]) -> None:
    """Recompute the whole tree from the stored entries and check every stored node and
    checkpoint against it (``open_note`` verifies a signed checkpoint); LogCorruptedError on
    the first disagreement. The one walk both logs (SQLite, PostgreSQL) are checked by."""
    size = stored.size
    if stored.entry_count != size or (stored.entry_count and stored.last_entry != size - 1):
        raise LogCorruptedError(
            f"{stored.entry_count} entries are stored but the latest checkpoint says {size}")
    pending = iter(stored.checkpoints)
    next_checkpoint = next(pending, None)
    frontier = Frontier.empty()
    stored_nodes = 0
    while True:
        if next_checkpoint is not None and next_checkpoint[0] == frontier.size:
            _check_stored_checkpoint(next_checkpoint, frontier.root(), open_note)
            next_checkpoint = next(pending, None)
        rows = list(stored.entries_from(frontier.size))
        if not rows:
            break
        if next_checkpoint is not None:  # stop at the next checkpoint to check its root
            rows = rows[: next_checkpoint[0] - frontier.size]
        first, last = rows[0][0], rows[-1][0]
        if first != frontier.size or last != frontier.size + len(rows) - 1:
            raise LogCorruptedError(f"entries after {frontier.size - 1} are not contiguous")
        frontier, created = frontier.extend(leaf_hash(data) for _, data in rows)
        _check_stored_nodes(created, stored.nodes)
        stored_nodes += len(created)
    if next_checkpoint is not None:
        raise LogCorruptedError(
            f"a checkpoint at size {next_checkpoint[0]} is beyond the {frontier.size} "
            "stored entries")
    if stored.node_count != stored_nodes:
        raise LogCorruptedError(
            f"{stored.node_count} tree nodes are stored where {stored_nodes} are expected")


def _check_stored_nodes(created: Sequence[NodeHash],
                        nodes: Callable[[int, int, int], dict[int, bytes]]) -> None:
    by_level: dict[int, dict[int, bytes]] = {}
    for node in created:
        by_level.setdefault(node.level, {})[node.index] = node.hash
    for level, expected in by_level.items():
        stored = nodes(level, min(expected), max(expected))
        for index, value in expected.items():
            if index not in stored:
                raise LogCorruptedError(f"missing tree node at level {level}, index {index}")
            if stored[index] != value:
                raise LogCorruptedError(
                    f"tree node at level {level}, index {index} does not match the entries")


def _check_stored_checkpoint(row: tuple[Any, ...], root: bytes,
                             open_note: Callable[[str], Checkpoint]) -> None:
    size, stored_root, signed = int(row[0]), bytes(row[1]), str(row[2])
    try:
        checkpoint = open_note(signed)
    except (NoteError, CheckpointError) as exc:
        raise LogCorruptedError(f"the checkpoint at size {size} does not verify: {exc}") from None
    if checkpoint.size != size or checkpoint.root_hash != stored_root or stored_root != root:
        raise LogCorruptedError(f"the checkpoint at size {size} does not match the entries")


class AuditLog:
    """An append-only Merkle log persisted in SQLite, signing a checkpoint per batch.

    ``path_or_connection`` is a database file (created if absent; WAL, synchronous=FULL) or an
    open `sqlite3.Connection`, which the log then uses but does not close. ``signer`` is the
    log key, ``origin`` the checkpoint origin; both must match what the database was created
    with (LogKeyMismatchError otherwise).

    A log that opened its database file reads through a second connection of its own (WAL
    lets it read while an append commits), so reads never wait for an append's fsync. They
    see only what is committed, and never past the size of the latest checkpoint this log
    made visible: an entry, a tree node or a checkpoint is only written in the transaction
    that also writes the checkpoint covering it, and nothing is ever rewritten.
    """

    def __init__(
        self,
        path_or_connection: str | Path | sqlite3.Connection,
        signer: Signer | HybridSigner,
        origin: str,
    ) -> None:
        # Every checkpoint is signed by every half of the key; the log checks what it stored
        # (and knows itself by) with the Ed25519 half, which older checkpoints carry too.
        key = HybridSigner.of(signer)
        self._signers = key.signers()
        self._verifier: Verifier = key.classical.verifier()
        self._origin = origin
        Checkpoint(origin, 0, EMPTY_ROOT)  # refuse an origin a checkpoint cannot carry
        self._lock = threading.RLock()
        self._cosignatures = CosignatureMemory()
        self._reader: sqlite3.Connection | None = None
        if isinstance(path_or_connection, sqlite3.Connection):
            self._connection = path_or_connection
            self._owns_connection = False
        else:
            self._connection = sqlite3.connect(
                str(path_or_connection), isolation_level=None, check_same_thread=False
            )
            self._owns_connection = True
        try:
            self._configure(require_wal=self._owns_connection)
            self._tree = _StoredTreeHashes(self._connection)
            with self._write_transaction():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._connection.execute(statement)
                self._initialise_meta()
                dropped = self._drop_stored_cosignatures()
            if dropped:  # the old pages' images leave the write-ahead log too
                self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._size, self._frontier, self._latest = self._load_state()
            # The reads' own connection (WAL is in force: _configure required it), and the
            # lock that keeps one thread at a time on it; a log on a given connection reads
            # through that connection under the write lock.
            self._read_lock: threading.Lock | threading.RLock = self._lock
            self._reading, self._read_tree = self._connection, self._tree
            if self._owns_connection:
                self._reader = sqlite3.connect(
                    str(path_or_connection), isolation_level=None, check_same_thread=False)
                self._reader.execute("PRAGMA query_only=ON")
                self._reader.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
                self._read_lock = threading.Lock()
                self._reading, self._read_tree = self._reader, _StoredTreeHashes(self._reader)
        except BaseException:
            self.close()
            raise

    # --- opening -------------------------------------------------------------------------------

    def _configure(self, *, require_wal: bool) -> None:
        connection = self._connection
        (mode,) = connection.execute("PRAGMA journal_mode=WAL").fetchone()
        if require_wal and str(mode).lower() != "wal":
            raise AuditLogError(f"the audit log database cannot use WAL mode (got {mode!r})")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA secure_delete=ON")
        connection.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")

    def _drop_stored_cosignatures(self) -> bool:
        """Empty (overwriting the rows: ``secure_delete``) and drop the table an older
        release kept cosignatures in, with their precise times; True if there was one."""
        exists = self._connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log_cosignatures'"
        ).fetchone()
        if exists is None:
            return False
        self._connection.execute("DELETE FROM log_cosignatures")
        self._connection.execute("DROP TABLE log_cosignatures")
        return True

    def _initialise_meta(self) -> None:
        connection = self._connection
        rows = dict(connection.execute("SELECT key, value FROM log_meta").fetchall())
        if not rows:
            connection.executemany(
                "INSERT INTO log_meta (key, value) VALUES (?, ?)",
                [
                    ("schema", SCHEMA_VERSION),
                    ("origin", self._origin),
                    ("vkey", self._verifier.vkey()),
                ],
            )
            signed = sign_checkpoint(Checkpoint(self._origin, 0, EMPTY_ROOT),
                                     *self._signers)
            connection.execute(
                "INSERT INTO log_checkpoints (size, root, note) VALUES (0, ?, ?)",
                (EMPTY_ROOT, signed),
            )
            return
        check_log_meta(rows, SCHEMA_VERSION, self._origin, self._verifier.vkey())

    def _load_state(self) -> tuple[int, Frontier, str]:
        """Read the latest checkpoint and check it against the stored tree (O(log n))."""
        connection = self._connection
        row = connection.execute(
            "SELECT size, root, note FROM log_checkpoints ORDER BY size DESC LIMIT 1"
        ).fetchone()
        if row is None:
            raise LogCorruptedError("the audit log has no checkpoint")
        size, root, signed = int(row[0]), bytes(row[1]), str(row[2])
        open_latest_checkpoint(
            signed, size, root, lambda text: open_checkpoint(text, self._verifier, self._origin))
        (last_entry,) = connection.execute("SELECT MAX(idx) FROM log_entries").fetchone()
        (last_leaf,) = connection.execute(
            "SELECT MAX(idx) FROM log_tree WHERE level = 0"
        ).fetchone()
        expected_last = size - 1 if size else None
        if last_entry != expected_last or last_leaf != expected_last:
            raise LogCorruptedError(
                f"the latest checkpoint has {size} entries but the last stored entry is "
                f"{last_entry} and the last leaf hash {last_leaf}"
            )
        try:
            frontier = Frontier.from_source(self._tree, size)
        except (LookupError, MerkleError) as exc:
            raise LogCorruptedError(f"the stored tree is damaged: {exc}") from None
        if frontier.root() != root:
            raise LogCorruptedError(
                f"the stored tree's root at size {size} is not the latest checkpoint's root"
            )
        if size:
            (data,) = connection.execute(
                "SELECT data FROM log_entries WHERE idx = ?", (size - 1,)
            ).fetchone()
            if leaf_hash(bytes(data)) != self._tree.get(0, size - 1):
                raise LogCorruptedError(f"entry {size - 1} does not match its stored leaf hash")
        return size, frontier, signed

    @contextmanager
    def _write_transaction(self) -> Iterator[None]:
        connection = self._connection
        if connection.in_transaction:
            raise AuditLogError(
                "the connection has an open transaction; the audit log commits its own"
            )
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
            connection.commit()
        except BaseException:
            if connection.in_transaction:
                connection.rollback()
            raise

    # --- writing -------------------------------------------------------------------------------

    def append(self, entries: Sequence[bytes | bytearray | memoryview]) -> list[int]:
        """Append entries in order and sign a checkpoint covering them; return their indices.

        Durable before it returns: entries, tree nodes and checkpoint commit in one
        transaction. An empty batch changes nothing and signs nothing.
        """
        batch = [_as_entry(entry, position) for position, entry in enumerate(entries)]
        if not batch:
            return []
        with self._lock:
            connection = self._connection
            with self._write_transaction():
                self._reload_if_changed()
                start = self._size
                frontier, created = self._frontier.extend(leaf_hash(data) for data in batch)
                checkpoint = Checkpoint(self._origin, frontier.size, frontier.root())
                signed = sign_checkpoint(checkpoint, *self._signers)
                connection.executemany(
                    "INSERT INTO log_entries (idx, data) VALUES (?, ?)",
                    zip(range(start, start + len(batch)), batch, strict=True),
                )
                connection.executemany(
                    "INSERT INTO log_tree (level, idx, hash) VALUES (?, ?, ?)",
                    [(node.level, node.index, node.hash) for node in created],
                )
                connection.execute(
                    "INSERT INTO log_checkpoints (size, root, note) VALUES (?, ?, ?)",
                    (checkpoint.size, checkpoint.root_hash, signed),
                )
            # Committed: only now does the new checkpoint become visible.
            self._size, self._frontier, self._latest = frontier.size, frontier, signed
            return list(range(start, frontier.size))

    def _reload_if_changed(self) -> None:
        (latest,) = self._connection.execute("SELECT MAX(size) FROM log_checkpoints").fetchone()
        if latest != self._size:
            self._size, self._frontier, self._latest = self._load_state()

    # --- reading -------------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        return self._origin

    @property
    def verifier(self) -> Verifier:
        """The log's verifier key, to check its checkpoints and receipts."""
        return self._verifier

    def size(self) -> int:
        """The number of entries (the size of the latest checkpoint). Read without a lock:
        an append sets it only once its checkpoint is committed."""
        return self._size

    def latest_checkpoint(self) -> str:
        """The latest signed checkpoint (a C2SP signed note)."""
        return self._latest

    def checkpoint_at(self, size: int) -> str:
        """The signed checkpoint the log issued at ``size``; LogRangeError if it issued none."""
        with self._read_lock:
            row = self._reading.execute(
                "SELECT note FROM log_checkpoints WHERE size = ?", (size,)
            ).fetchone()
        if row is None:
            raise LogRangeError(f"the log issued no checkpoint at size {size}")
        return str(row[0])

    def checkpoint_sizes(self) -> list[int]:
        """The sizes at which the log issued checkpoints, in increasing order."""
        with self._read_lock:
            rows = self._reading.execute(
                "SELECT size FROM log_checkpoints ORDER BY size"
            ).fetchall()
        return [int(row[0]) for row in rows]

    def entries(self, start: int, end: int) -> list[bytes]:
        """Entries ``start`` (inclusive) to ``end`` (exclusive)."""
        size = self._size
        if not 0 <= start <= end <= size:
            raise LogRangeError(f"entries need 0 <= start <= end <= {size}")
        with self._read_lock:
            rows = self._reading.execute(
                "SELECT data FROM log_entries WHERE idx >= ? AND idx < ? ORDER BY idx",
                (start, end),
            ).fetchall()
        return [bytes(row[0]) for row in rows]

    def subtree_hashes(self, level: int, start: int, end: int) -> list[bytes]:
        """The stored hashes of the complete subtrees of height ``level`` (of ``2**level``
        leaves each) with indices ``start`` (inclusive) to ``end`` (exclusive), in order: the
        rows of a C2SP tlog-tiles tile (`vault.tlog.tiles.read_tile`). One range read;
        LogRangeError unless each of them is complete in the current tree."""
        size = self._size
        if level < 0 or not 0 <= start <= end <= size >> level:
            raise LogRangeError(
                f"subtree hashes need 0 <= start <= end and end * 2**level <= {size}"
            )
        with self._read_lock:
            rows = self._reading.execute(
                "SELECT hash FROM log_tree WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx",
                (level, start, end),
            ).fetchall()
        if len(rows) != end - start:
            raise LogCorruptedError(
                f"{len(rows)} tree nodes are stored at level {level} from index {start} where "
                f"{end - start} are expected"
            )
        return [bytes(row[0]) for row in rows]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """The inclusion proof of entry ``index`` in the tree of ``size`` (O(log n) reads)."""
        current = self._size
        if not 0 <= index < size <= current:
            raise LogRangeError(f"inclusion proofs need 0 <= index < size <= {current}")
        with self._read_lock:
            return inclusion_proof(self._read_tree, index, size)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """The consistency proof from the tree of ``old`` to ``new`` (O(log n) reads)."""
        current = self._size
        if not 0 <= old <= new <= current:
            raise LogRangeError(f"consistency proofs need 0 <= old <= new <= {current}")
        with self._read_lock:
            return consistency_proof(self._read_tree, old, new)

    def receipt(self, index: int, size: int | None = None) -> str:
        """A C2SP tlog-proof receipt for entry ``index`` against the checkpoint the log issued
        at ``size`` (default: the latest), with the cosignatures gathered for it."""
        current = self._size
        size = current if size is None else size
        if not 0 <= index < size <= current:
            raise LogRangeError(f"receipts need 0 <= index < size <= {current}")
        with self._read_lock:
            proof = inclusion_proof(self._read_tree, index, size)
        return Receipt(index, tuple(proof), self.cosigned_checkpoint_at(size)).format()

    # --- cosignatures --------------------------------------------------------------------------

    def add_cosignatures(self, size: int, lines: Sequence[str]) -> None:
        """Keep cosignature lines (each ``— name base64``, no newline) for the checkpoint
        issued at ``size``, in memory only (``vault.store.cosigned``); lines already kept
        are ignored. The caller has checked them."""
        self.checkpoint_at(size)  # LogRangeError if the log issued none at this size
        self._cosignatures.add(size, lines)

    def cosigned_checkpoint_at(self, size: int) -> str:
        """The checkpoint issued at ``size`` with the cosignature lines kept for it appended
        to its signature lines (a signed note with more signatures)."""
        signed = self.checkpoint_at(size)
        return signed + "".join(f"{line}\n" for line in self._cosignatures.lines(size))

    def cosigned_sizes(self, min_lines: int = 1, *, above: int = -1,
                       limit: int | None = None) -> list[int]:
        """The sizes larger than ``above`` of the checkpoints with at least ``min_lines``
        cosignature lines kept, newest first, at most ``limit`` of them."""
        return self._cosignatures.sizes(min_lines, above=above, limit=limit)

    def backup_to(self, target: str | Path) -> int:
        """Copy the whole database to the new file ``target`` at one moment (SQLite's online
        backup API, under the log's lock: no append is half in it); return the log size it
        holds. Used by ``amanat backup`` while the server runs."""
        with self._lock:
            destination = sqlite3.connect(str(target))
            try:
                # A scratch copy (made durable inside the archive): no fsync while held.
                destination.execute("PRAGMA synchronous=OFF")
                destination.execute("PRAGMA journal_mode=OFF")
                self._connection.backup(destination)
            finally:
                destination.close()
            return self._size

    # --- auditing the storage ------------------------------------------------------------------

    def verify_storage(self) -> None:
        """Recompute the whole tree from the stored entries and check everything (O(n)).

        Checks every leaf and node hash, every checkpoint's signature, size and root, and
        that no stray rows exist. Raises LogCorruptedError on the first disagreement.
        """
        connection = self._connection

        def entries_from(start: int) -> list[tuple[int, bytes]]:
            rows = connection.execute(
                "SELECT idx, data FROM log_entries WHERE idx >= ? ORDER BY idx LIMIT ?",
                (start, _SCAN_CHUNK)).fetchall()
            return [(int(i), bytes(d)) for i, d in rows]

        def nodes(level: int, first: int, last: int) -> dict[int, bytes]:
            return {int(i): bytes(h) for i, h in connection.execute(
                "SELECT idx, hash FROM log_tree WHERE level = ? AND idx BETWEEN ? AND ?",
                (level, first, last)).fetchall()}

        with self._lock:
            checkpoints = connection.execute(
                "SELECT size, root, note FROM log_checkpoints ORDER BY size").fetchall()
            (count, last) = connection.execute(
                "SELECT COUNT(*), MAX(idx) FROM log_entries").fetchone()
            (node_rows,) = connection.execute("SELECT COUNT(*) FROM log_tree").fetchone()
            verify_stored_tree(
                StoredTree(self._size, int(count), last, int(node_rows), checkpoints,
                           entries_from, nodes),
                lambda signed: open_checkpoint(signed, self._verifier, self._origin))

    # --- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database connection if the log opened it."""
        if self._reader is not None:
            self._reader.close()
        if self._owns_connection:
            self._connection.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
