"""`AuditLog.subtree_hashes`, the read behind the tiles: the stored hashes are the reference
tree's, one range read per tile, refused beyond the tree, and a missing row is corruption."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import nacl.signing
import pytest

from vault.store.auditlog import AuditLog, LogCorruptedError, LogRangeError
from vault.tlog.merkle import InMemoryTree, leaf_hash
from vault.tlog.note import Signer
from vault.tlog.tiles import TiledTree, entry_bundles, hash_tiles, parse_entry_bundle, read_tile

ORIGIN = "tiles.example/log"
SIGNER = Signer(ORIGIN, nacl.signing.SigningKey(bytes([7]) * 32))


def test_tiles_from_the_store_rebuild_its_tree(tmp_path: Path) -> None:
    data = [f"e{i}\n".encode() for i in range(700)]
    reference = InMemoryTree(leaf_hash(d) for d in data)
    with AuditLog(tmp_path / "log.sqlite3", SIGNER, ORIGIN) as log:
        for start in range(0, 700, 97):  # batches that cross tile edges
            log.append(data[start : start + 97])
        assert log.subtree_hashes(8, 0, 2) == [reference.get(8, 0), reference.get(8, 1)]
        assert log.subtree_hashes(3, 5, 5) == []
        tree = TiledTree(700)
        for tile in hash_tiles(700):
            tree.add(tile, read_tile(log, tile))
        assert tree.root() == reference.root()
        bundles = [parse_entry_bundle(read_tile(log, b), b.width) for b in entry_bundles(700)]
        assert [e for bundle in bundles for e in bundle] == data


@pytest.mark.parametrize(("level", "start", "end"), [
    (-1, 0, 1), (0, -1, 1), (0, 2, 1), (0, 0, 11), (1, 0, 6), (3, 1, 2), (4, 0, 1),
])
def test_subtree_hashes_beyond_the_tree_are_refused(tmp_path: Path, level: int, start: int,
                                                    end: int) -> None:
    with AuditLog(tmp_path / "log.sqlite3", SIGNER, ORIGIN) as log:
        log.append([b"x"] * 10)
        with pytest.raises(LogRangeError):
            log.subtree_hashes(level, start, end)


def test_a_missing_tree_row_is_corruption(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    with AuditLog(path, SIGNER, ORIGIN) as log:
        log.append([b"x"] * 300)
    db = sqlite3.connect(path)
    with db:
        db.execute("DELETE FROM log_tree WHERE level = 0 AND idx = 100")
    db.close()
    with AuditLog(path, SIGNER, ORIGIN) as log, pytest.raises(LogCorruptedError):
        log.subtree_hashes(0, 0, 256)
