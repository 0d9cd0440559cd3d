"""The audit log in PostgreSQL: one linear Merkle history under appends from many workers.

The same log as vault/store/auditlog.py (RFC 9162 tree, one signed C2SP checkpoint per
appended batch, entries as opaque bytes, the maths from `vault.tlog`), for the scaled-out
deployment where several ``amanat serve`` processes on several machines append to one log.
It follows the shape of Tessera's PostgreSQL and MySQL drivers: the tree is sequenced in one
place under one lock, and everything an append writes commits with the row that refers to it.

What it guarantees:

* **One history.** An append locks the coordinator row (``log_coordinator``, ``SELECT …
  FOR UPDATE``), reads the committed size there, and extends the tree from it. Two workers
  can never both extend the tree of size n: the second waits for the first to commit, then
  sees size n + k and extends that, re-reading the right edge from the stored nodes.
* **Durable before acknowledged, all or nothing.** The entries, the tree nodes they complete,
  the signed checkpoint and the coordinator's new size are written in one transaction; the
  indices and the checkpoint leave `append` only after PostgreSQL committed it (durable with
  the server's ``synchronous_commit``: DEPLOY.md asks for ``on`` or ``remote_apply``).
* **A checkpoint is signed only for a committed tree.** A checkpoint is signed inside the
  transaction that commits its tree and is visible to nobody until that commit; a crash
  before it loses only a checkpoint nobody saw. The latest checkpoint is re-checked against
  the stored tree (signature, size, root, last leaf) when the log opens and whenever an
  append finds that another worker moved the tree, and any mismatch refuses to sign.
* **Readers see committed state only.** Sizes, checkpoints, entries and proofs are read from
  the database (never from one worker's memory), each answer from one snapshot.

Tables (``log_`` prefix, beside the store's): ``log_meta`` (schema, origin, vkey),
``log_coordinator`` (one row: the committed size), ``log_entries`` (idx, data), ``log_tree``
(level, idx, hash of leaves ``[idx * 2**level, (idx+1) * 2**level)``), ``log_checkpoints``
(size, root, signed note). Cosignatures are kept in each worker's memory only
(``vault.store.cosigned``: each carries a precise time); the ``log_cosignatures`` table an
older release kept them in is dropped when the schema is created.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool

from vault.store.auditlog import (
    LogCorruptedError,
    LogRangeError,
    StoredTree,
    check_log_meta,
    open_latest_checkpoint,
    verify_stored_tree,
)
from vault.store.cosigned import CosignatureMemory
from vault.store.postgres import make_pool, safe_dsn
from vault.tlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from vault.tlog.merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleError,
    TreeHashes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
)
from vault.tlog.note import HybridSigner, Signer, Verifier
from vault.tlog.proof import Receipt

__all__ = ["PostgresAuditLog", "create_log_schema"]

SCHEMA_VERSION = "1"
# Appends are sequenced one at a time anyway; the rest serve proofs and entries.
LOG_POOL_SIZE = 4
_SCHEMA_LOCK = 0x616D616E61740002
_SCAN_CHUNK = 4096

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS log_coordinator (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    size BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS log_entries (
    idx BIGINT PRIMARY KEY,
    data BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS log_tree (
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE IF NOT EXISTS log_checkpoints (
    size BIGINT PRIMARY KEY,
    root BYTEA NOT NULL,
    note TEXT NOT NULL
);
DROP TABLE IF EXISTS log_cosignatures
"""

Conn = psycopg.Connection[Any]
T = TypeVar("T")


def create_log_schema(conn: Conn) -> None:
    """Create the log's tables where missing, under the schema lock, in the caller's
    transaction (an empty log until its meta rows and first checkpoint are written)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


class _StoredTreeHashes:
    """`TreeHashes` over the ``log_tree`` table, read on one connection (one snapshot)."""

    def __init__(self, conn: Conn) -> None:
        self._conn = conn

    def get(self, level: int, index: int) -> bytes:
        row = self._conn.execute(
            "SELECT hash FROM log_tree WHERE level = %s AND idx = %s", (level, index)
        ).fetchone()
        if row is None:
            raise LookupError(f"no stored subtree hash at level {level}, index {index}")
        return bytes(row[0])


class _Recorder:
    """A `TreeHashes` that answers zeros and notes what was asked: which stored nodes a
    proof needs depends only on the sizes, never on the hashes."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, int]] = []

    def get(self, level: int, index: int) -> bytes:
        self.asked.append((level, index))
        return bytes(32)


class _Fetched:
    """A `TreeHashes` over nodes read beforehand."""

    def __init__(self, nodes: dict[tuple[int, int], bytes]) -> None:
        self._nodes = nodes

    def get(self, level: int, index: int) -> bytes:
        try:
            return self._nodes[(level, index)]
        except KeyError:
            raise LookupError(f"no stored subtree hash at level {level}, index {index}") from None


def _read_nodes(conn: Conn, wanted: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored nodes ``wanted`` (level, index), in one query."""
    rows = conn.execute(
        "SELECT level, idx, hash FROM log_tree"
        " JOIN unnest(%s::int[], %s::bigint[]) AS f(l, i) ON level = l AND idx = i",
        ([level for level, _ in wanted], [index for _, index in wanted])).fetchall()
    return {(int(level), int(index)): bytes(value) for level, index, value in rows}


def _in_one_read(conn: Conn, compute: Callable[[TreeHashes], T]) -> T:
    """``compute`` (a proof) over the stored tree, its nodes read in one query instead of
    one round trip each."""
    recorder = _Recorder()
    compute(recorder)
    return compute(_Fetched(_read_nodes(conn, recorder.asked)))


def _as_entry(entry: object, position: int) -> bytes:
    if not isinstance(entry, bytes | bytearray | memoryview):
        raise TypeError(f"log entry {position} is {type(entry).__name__}, not bytes")
    return bytes(entry)


class PostgresAuditLog:
    """An append-only Merkle log in the PostgreSQL database ``dsn``, shared by any number of
    processes; ``signer`` and ``origin`` must match what the log was created with
    (LogKeyMismatchError otherwise). The interface of vault.store.auditlog.AuditLog."""

    def __init__(self, dsn: str, signer: Signer | HybridSigner, origin: str) -> None:
        # As AuditLog: checkpoints signed by every half, stored ones checked by the Ed25519.
        key = HybridSigner.of(signer)
        self._signers = key.signers()
        self._verifier: Verifier = key.classical.verifier()
        self._origin = origin
        self.where = safe_dsn(dsn)
        Checkpoint(origin, 0, EMPTY_ROOT)  # refuse an origin a checkpoint cannot carry
        self._lock = threading.RLock()
        self._cosignatures = CosignatureMemory()
        self._pool: ConnectionPool[Conn] = make_pool(dsn, LOG_POOL_SIZE, "amanat-log")
        try:
            with self._pool.connection() as conn, conn.transaction():
                create_log_schema(conn)
                self._initialise_meta(conn)
            with self._snapshot() as conn:
                self._size, self._frontier = self._load_state(conn)
        except BaseException:
            self._pool.close()
            raise

    # --- opening -------------------------------------------------------------------------------

    def _initialise_meta(self, conn: Conn) -> None:
        rows = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM log_meta")}
        if not rows:
            conn.cursor().executemany(
                "INSERT INTO log_meta (key, value) VALUES (%s, %s)",
                [("schema", SCHEMA_VERSION), ("origin", self._origin),
                 ("vkey", self._verifier.vkey())])
            signed = sign_checkpoint(Checkpoint(self._origin, 0, EMPTY_ROOT), *self._signers)
            conn.execute("INSERT INTO log_checkpoints (size, root, note) VALUES (0, %s, %s)",
                         (EMPTY_ROOT, signed))
            conn.execute("INSERT INTO log_coordinator (id, size) VALUES (0, 0)")
            return
        check_log_meta(rows, SCHEMA_VERSION, self._origin, self._verifier.vkey())

    def _open_latest(self, conn: Conn, size: int) -> Checkpoint:
        row = conn.execute(
            "SELECT root, note FROM log_checkpoints WHERE size = %s", (size,)).fetchone()
        if row is None:
            raise LogCorruptedError(f"the coordinator says {size} entries but no checkpoint "
                                    "was stored at that size")
        return open_latest_checkpoint(
            str(row[1]), size, bytes(row[0]),
            lambda text: open_checkpoint(text, self._verifier, self._origin))

    def _load_state(self, conn: Conn) -> tuple[int, Frontier]:
        """Read the committed size and check the latest checkpoint against the stored tree
        (O(log n) reads)."""
        size = self._committed_size(conn)
        checkpoint = self._open_latest(conn, size)
        (beyond,) = conn.execute(
            "SELECT MAX(size) FROM log_checkpoints").fetchone() or (None,)
        (last_entry,) = conn.execute("SELECT MAX(idx) FROM log_entries").fetchone() or (None,)
        (last_leaf,) = conn.execute(
            "SELECT MAX(idx) FROM log_tree WHERE level = 0").fetchone() or (None,)
        expected_last = size - 1 if size else None
        if beyond != size or last_entry != expected_last or last_leaf != expected_last:
            raise LogCorruptedError(
                f"the latest checkpoint has {size} entries but the last stored entry is "
                f"{last_entry}, the last leaf hash {last_leaf} and the largest checkpoint "
                f"{beyond}")
        tree = _StoredTreeHashes(conn)
        try:
            frontier = Frontier.from_source(tree, size)
        except (LookupError, MerkleError) as exc:
            raise LogCorruptedError(f"the stored tree is damaged: {exc}") from None
        if frontier.root() != checkpoint.root_hash:
            raise LogCorruptedError(
                f"the stored tree's root at size {size} is not the latest checkpoint's root")
        if size:
            (data,) = conn.execute(
                "SELECT data FROM log_entries WHERE idx = %s", (size - 1,)).fetchone() or (b"",)
            if leaf_hash(bytes(data)) != tree.get(0, size - 1):
                raise LogCorruptedError(f"entry {size - 1} does not match its stored leaf hash")
        return size, frontier

    def _frontier_at(self, conn: Conn, size: int) -> Frontier:
        """The right edge of the committed tree of ``size`` (one read), checked against the
        signed checkpoint at that size: its root must be the checkpoint's, or nothing is
        signed on top of it. Two round trips, where a full `_load_state` takes a dozen: the
        price of another worker's append between two of this one's."""
        checkpoint = self._open_latest(conn, size)
        wanted = Frontier.nodes(size)
        found = _read_nodes(conn, [(n.level, n.index) for n in wanted])
        try:
            frontier = Frontier(size, tuple(found[(n.level, n.index)] for n in wanted))
        except (KeyError, MerkleError) as exc:
            raise LogCorruptedError(f"the stored tree is damaged at size {size}: {exc!r}") from None
        if frontier.root() != checkpoint.root_hash:
            raise LogCorruptedError(
                f"the stored tree's root at size {size} is not the latest checkpoint's root")
        return frontier

    @staticmethod
    def _committed_size(conn: Conn, *, lock: bool = False) -> int:
        row = conn.execute(
            "SELECT size FROM log_coordinator WHERE id = 0 FOR UPDATE" if lock
            else "SELECT size FROM log_coordinator WHERE id = 0").fetchone()
        if row is None:
            raise LogCorruptedError("the audit log has no coordinator row")
        return int(row[0])

    @contextmanager
    def _snapshot(self) -> Iterator[Conn]:
        """A read-only transaction: every read in it sees one committed state."""
        with self._pool.connection() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield conn
            finally:
                conn.execute("ROLLBACK")

    # --- writing -------------------------------------------------------------------------------

    def append(self, entries: Sequence[bytes | bytearray | memoryview]) -> list[int]:
        """Append entries in order and sign a checkpoint covering them; return their indices.

        Durable before it returns: entries, tree nodes, checkpoint and the coordinator's size
        commit in one transaction, sequenced by the coordinator row's lock. An empty batch
        changes nothing and signs nothing.
        """
        batch = [_as_entry(entry, position) for position, entry in enumerate(entries)]
        if not batch:
            return []
        with self._lock, self._pool.connection() as conn:
            with conn.transaction():
                start = self._committed_size(conn, lock=True)
                if start != self._size:
                    # Another worker appended: take its tree as the new base, checked.
                    self._size, self._frontier = start, self._frontier_at(conn, start)
                frontier, created = self._frontier.extend(leaf_hash(data) for data in batch)
                checkpoint = Checkpoint(self._origin, frontier.size, frontier.root())
                signed = sign_checkpoint(checkpoint, *self._signers)
                with conn.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO log_entries (idx, data) VALUES (%s, %s)",
                        list(zip(range(start, start + len(batch)), batch, strict=True)))
                    cursor.executemany(
                        "INSERT INTO log_tree (level, idx, hash) VALUES (%s, %s, %s)",
                        [(node.level, node.index, node.hash) for node in created])
                conn.execute("INSERT INTO log_checkpoints (size, root, note) VALUES (%s, %s, %s)",
                             (checkpoint.size, checkpoint.root_hash, signed))
                conn.execute("UPDATE log_coordinator SET size = %s WHERE id = 0",
                             (frontier.size,))
            # Committed: only now may the indices (and the checkpoint) be handed out.
            self._size, self._frontier = frontier.size, frontier
            return list(range(start, frontier.size))

    # --- reading -------------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        return self._origin

    @property
    def verifier(self) -> Verifier:
        """The log's verifier key, to check its checkpoints and receipts."""
        return self._verifier

    def size(self) -> int:
        """The number of entries (the size of the latest committed checkpoint)."""
        with self._pool.connection() as conn:
            return self._committed_size(conn)

    def _latest(self, conn: Conn) -> tuple[int, str]:
        size = self._committed_size(conn)
        row = conn.execute("SELECT note FROM log_checkpoints WHERE size = %s", (size,)).fetchone()
        if row is None:
            raise LogCorruptedError(f"no checkpoint was stored at the committed size {size}")
        return size, str(row[0])

    def latest_checkpoint(self) -> str:
        """The latest signed checkpoint (a C2SP signed note)."""
        with self._snapshot() as conn:
            return self._latest(conn)[1]

    def checkpoint_at(self, size: int) -> str:
        """The signed checkpoint the log issued at ``size``; LogRangeError if it issued none."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT note FROM log_checkpoints WHERE size = %s", (size,)).fetchone()
        if row is None:
            raise LogRangeError(f"the log issued no checkpoint at size {size}")
        return str(row[0])

    def checkpoint_sizes(self) -> list[int]:
        """The sizes at which the log issued checkpoints, in increasing order."""
        with self._pool.connection() as conn:
            rows = conn.execute("SELECT size FROM log_checkpoints ORDER BY size").fetchall()
        return [int(row[0]) for row in rows]

    def entries(self, start: int, end: int) -> list[bytes]:
        """Entries ``start`` (inclusive) to ``end`` (exclusive)."""
        with self._snapshot() as conn:
            size = self._committed_size(conn)
            if not 0 <= start <= end <= size:
                raise LogRangeError(f"entries need 0 <= start <= end <= {size}")
            rows = conn.execute(
                "SELECT data FROM log_entries WHERE idx >= %s AND idx < %s ORDER BY idx",
                (start, end)).fetchall()
        return [bytes(row[0]) for row in rows]

    def subtree_hashes(self, level: int, start: int, end: int) -> list[bytes]:
        """The stored hashes of the complete subtrees of height ``level`` with indices
        ``start`` (inclusive) to ``end`` (exclusive), in order (the rows of a C2SP
        tlog-tiles tile); LogRangeError unless each is complete in the committed tree."""
        with self._snapshot() as conn:
            size = self._committed_size(conn)
            if level < 0 or not 0 <= start <= end <= size >> level:
                raise LogRangeError(
                    f"subtree hashes need 0 <= start <= end and end * 2**level <= {size}")
            rows = conn.execute(
                "SELECT hash FROM log_tree WHERE level = %s AND idx >= %s AND idx < %s"
                " ORDER BY idx", (level, start, end)).fetchall()
        if len(rows) != end - start:
            raise LogCorruptedError(
                f"{len(rows)} tree nodes are stored at level {level} from index {start} where "
                f"{end - start} are expected")
        return [bytes(row[0]) for row in rows]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """The inclusion proof of entry ``index`` in the tree of ``size`` (O(log n) reads)."""
        with self._snapshot() as conn:
            current = self._committed_size(conn)
            if not 0 <= index < size <= current:
                raise LogRangeError(f"inclusion proofs need 0 <= index < size <= {current}")
            return _in_one_read(conn, lambda tree: inclusion_proof(tree, index, size))

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """The consistency proof from the tree of ``old`` to ``new`` (O(log n) reads)."""
        with self._snapshot() as conn:
            current = self._committed_size(conn)
            if not 0 <= old <= new <= current:
                raise LogRangeError(f"consistency proofs need 0 <= old <= new <= {current}")
            return _in_one_read(conn, lambda tree: consistency_proof(tree, old, new))

    def receipt(self, index: int, size: int | None = None) -> str:
        """A C2SP tlog-proof receipt for entry ``index`` against the checkpoint the log issued
        at ``size`` (default: the latest), with the cosignatures gathered for it."""
        with self._snapshot() as conn:
            current = self._committed_size(conn)
            at = current if size is None else size
            if not 0 <= index < at <= current:
                raise LogRangeError(f"receipts need 0 <= index < size <= {current}")
            proof = _in_one_read(conn, lambda tree: inclusion_proof(tree, index, at))
            signed = self._cosigned(conn, at)
        return Receipt(index, tuple(proof), signed).format()

    # --- cosignatures --------------------------------------------------------------------------

    def add_cosignatures(self, size: int, lines: Sequence[str]) -> None:
        """Keep cosignature lines (each ``— name base64``, no newline) for the checkpoint
        issued at ``size``, in this worker's memory only (``vault.store.cosigned``: each
        worker gathers its own); lines already kept are ignored. The caller has checked
        them."""
        self.checkpoint_at(size)  # LogRangeError if the log issued none at this size
        self._cosignatures.add(size, lines)

    def _cosigned(self, conn: Conn, size: int) -> str:
        row = conn.execute(
            "SELECT note FROM log_checkpoints WHERE size = %s", (size,)).fetchone()
        if row is None:
            raise LogRangeError(f"the log issued no checkpoint at size {size}")
        return str(row[0]) + "".join(f"{line}\n" for line in self._cosignatures.lines(size))

    def cosigned_checkpoint_at(self, size: int) -> str:
        """The checkpoint issued at ``size`` with the cosignature lines kept for it appended
        to its signature lines (a signed note with more signatures)."""
        with self._snapshot() as conn:
            return self._cosigned(conn, size)

    def cosigned_sizes(self, min_lines: int = 1, *, above: int = -1,
                       limit: int | None = None) -> list[int]:
        """The sizes larger than ``above`` of the checkpoints with at least ``min_lines``
        cosignature lines kept, newest first, at most ``limit`` of them."""
        return self._cosignatures.sizes(min_lines, above=above, limit=limit)

    # --- auditing the storage ------------------------------------------------------------------

    def verify_storage(self) -> None:
        """Recompute the whole tree from the stored entries and check everything (O(n)), in
        one snapshot (appends by running workers go on meanwhile).

        Checks every leaf and node hash, every checkpoint's signature, size and root, and
        that no stray rows exist. Raises LogCorruptedError on the first disagreement.
        """
        with self._snapshot() as conn:

            def entries_from(start: int) -> list[tuple[int, bytes]]:
                rows = conn.execute(
                    "SELECT idx, data FROM log_entries WHERE idx >= %s ORDER BY idx LIMIT %s",
                    (start, _SCAN_CHUNK)).fetchall()
                return [(int(i), bytes(d)) for i, d in rows]

            def nodes(level: int, first: int, last: int) -> dict[int, bytes]:
                return {int(i): bytes(h) for i, h in conn.execute(
                    "SELECT idx, hash FROM log_tree WHERE level = %s AND idx BETWEEN %s AND %s",
                    (level, first, last))}

            size = self._committed_size(conn)
            checkpoints = conn.execute(
                "SELECT size, root, note FROM log_checkpoints ORDER BY size").fetchall()
            (count, last) = conn.execute(
                "SELECT COUNT(*), MAX(idx) FROM log_entries").fetchone() or (0, None)
            (node_rows,) = conn.execute("SELECT COUNT(*) FROM log_tree").fetchone() or (0,)
            verify_stored_tree(
                StoredTree(size, int(count), last, int(node_rows), checkpoints, entries_from,
                           nodes),
                lambda signed: open_checkpoint(signed, self._verifier, self._origin))

    # --- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the log's connections."""
        self._pool.close()

    def __enter__(self) -> PostgresAuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
