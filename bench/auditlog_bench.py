"""Audit log throughput and proof latency, against SQLite's own fsync-bound insert rate.

Prints appends/s (one entry per append, and batched), the same figures for plain SQLite inserts
committed the same way (WAL, synchronous=FULL, same directory, so the same disk) as the anchor,
their ratio, and the cost of proofs and receipts once the log holds 10**6 entries, and of the
log as C2SP tlog-tiles: one tile or entry bundle, and the whole tree rebuilt from its tiles.

Run: ``python -m bench.auditlog_bench [--entries N] [--dir DIR]`` (or through ``python -m bench``).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from vault.store.auditlog import AuditLog
from vault.tlog.checkpoint import open_checkpoint
from vault.tlog.note import Signer
from vault.tlog.proof import verify_receipt
from vault.tlog.tiles import ENTRIES, Tile, TiledTree, hash_tiles, read_tile

ORIGIN = "bench.example/log"
ENTRY_BYTES = 120  # about the size of a canonical submission event
SINGLE_APPENDS = 200
BATCH = 1000
BATCHES = 20
FILL_BATCH = 10_000
PROOF_SAMPLES = 2000


def _entry(i: int) -> bytes:
    head = f"submission {i:012d} ".encode()
    return head + b"x" * (ENTRY_BYTES - len(head))


def _sqlite_anchor(path: Path, commits: int, rows_per_commit: int) -> float:
    """Rows per second inserted by plain SQLite, one transaction per ``rows_per_commit``."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE t (idx INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    started = time.perf_counter()
    for commit in range(commits):
        base = commit * rows_per_commit
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(
            "INSERT INTO t VALUES (?, ?)",
            ((base + i, _entry(base + i)) for i in range(rows_per_commit)),
        )
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return commits * rows_per_commit / elapsed


def _per_second(count: int, action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return count / (time.perf_counter() - started)


def _mean_microseconds(
    samples: int, action: Callable[[int], object], rng: random.Random, upper: int
) -> float:
    points = [rng.randrange(upper) for _ in range(samples)]
    started = time.perf_counter()
    for point in points:
        action(point)
    return (time.perf_counter() - started) / samples * 1e6


def run(directory: Path, total: int) -> None:
    signer = Signer.generate(ORIGIN)
    rng = random.Random(2024)
    print(f"directory: {directory} (entries of {ENTRY_BYTES} bytes)")

    anchor_single = _sqlite_anchor(directory / "anchor1.sqlite3", SINGLE_APPENDS, 1)
    anchor_batched = _sqlite_anchor(directory / "anchor2.sqlite3", BATCHES, BATCH)

    log = AuditLog(directory / "auditlog.sqlite3", signer, ORIGIN)
    single = _per_second(
        SINGLE_APPENDS, lambda: [log.append([_entry(i)]) for i in range(SINGLE_APPENDS)]
    )
    batched = _per_second(
        BATCHES * BATCH,
        lambda: [log.append([_entry(b * BATCH + i) for i in range(BATCH)]) for b in range(BATCHES)],
    )
    print(f"{'':34}{'audit log':>12}{'SQLite anchor':>16}{'ratio':>8}")
    print(
        f"{'appends/s, 1 entry per commit':34}{single:12,.0f}{anchor_single:16,.0f}"
        f"{single / anchor_single:8.2f}"
    )
    print(
        f"{f'entries/s, {BATCH} per commit':34}{batched:12,.0f}{anchor_batched:16,.0f}"
        f"{batched / anchor_batched:8.2f}"
    )

    started = time.perf_counter()
    while log.size() < total:
        first = log.size()
        count = min(FILL_BATCH, total - first)
        log.append([_entry(first + i) for i in range(count)])
    fill_seconds = time.perf_counter() - started
    size = log.size()
    database_bytes = sum(
        p.stat().st_size for p in directory.glob("auditlog.sqlite3*") if p.is_file()
    )
    print(
        f"filled to {size:,} entries in {fill_seconds:.1f} s "
        f"({(size - SINGLE_APPENDS - BATCHES * BATCH) / fill_seconds:,.0f} entries/s, "
        f"batches of {FILL_BATCH}); database {database_bytes / 2**20:,.0f} MiB"
    )

    inclusion = _mean_microseconds(PROOF_SAMPLES, lambda i: log.inclusion_proof(i, size), rng, size)
    consistency = _mean_microseconds(
        PROOF_SAMPLES, lambda old: log.consistency_proof(old + 1, size), rng, size
    )
    receipt = _mean_microseconds(PROOF_SAMPLES, log.receipt, rng, size)
    sample = rng.randrange(size)
    text = log.receipt(sample)
    verify = _mean_microseconds(
        200, lambda _: verify_receipt(text, _entry(sample), signer.verifier(), ORIGIN), rng, 1
    )
    full_tiles = size // 256
    tile = _mean_microseconds(
        PROOF_SAMPLES, lambda n: read_tile(log, Tile(0, n)), rng, full_tiles)
    bundle = _mean_microseconds(
        PROOF_SAMPLES, lambda n: read_tile(log, Tile(ENTRIES, n)), rng, full_tiles)
    started = time.perf_counter()
    tree = TiledTree(size)
    for needed in hash_tiles(size):
        tree.add(needed, read_tile(log, needed))
    signed = open_checkpoint(log.latest_checkpoint(), signer.verifier(), ORIGIN)
    if tree.root() != signed.root_hash:
        raise AssertionError("the tiles do not rebuild the signed tree")
    rebuild = time.perf_counter() - started
    log.close()
    started = time.perf_counter()
    AuditLog(directory / "auditlog.sqlite3", signer, ORIGIN).close()
    reopen = (time.perf_counter() - started) * 1e3
    print(f"at {size:,} entries (mean of {PROOF_SAMPLES}):")
    print(f"  inclusion proof      {inclusion:8.0f} µs")
    print(f"  consistency proof    {consistency:8.0f} µs")
    print(f"  receipt (tlog-proof) {receipt:8.0f} µs")
    print(f"  verify receipt       {verify:8.0f} µs (witness side)")
    print(f"  reopen + state check {reopen:8.1f} ms")
    print(f"  tile, full, level 0  {tile:8.0f} µs (8 KiB; mean of {PROOF_SAMPLES})")
    print(f"  entry bundle, full   {bundle:8.0f} µs ({256 * ENTRY_BYTES // 1024} KiB)")
    print(f"  tree from its tiles  {rebuild:8.1f} s  ({len(list(hash_tiles(size))):,} tiles read "
          "and checked, root = the checkpoint's)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=10**6, help="log size for proof timings")
    parser.add_argument(
        "--dir",
        type=Path,
        default=os.environ.get("AMANAT_BENCH_DIR"),
        help="directory on the disk to measure (default: a temporary one)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="amanat-auditlog-bench-") as tmp:
        run(Path(tmp), max(args.entries, SINGLE_APPENDS + BATCHES * BATCH + 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
