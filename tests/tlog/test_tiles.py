"""C2SP tlog-tiles: the spec's own examples, strict paths and bytes, and the tree rebuilt
from tiles built from a reference tree (vault.tlog.merkle, itself checked against published
vectors), with every kind of lying tile caught."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.tlog.merkle import EMPTY_ROOT, InMemoryTree, MerkleError, consistency_proof, leaf_hash
from vault.tlog.tiles import (
    ENTRIES,
    MAX_ENTRY_BYTES,
    Tile,
    TiledTree,
    TileError,
    TileFormatError,
    TileMismatchError,
    TilePathError,
    TileRangeError,
    entry_bundle,
    entry_bundles,
    format_index,
    hash_tiles,
    parse_entry_bundle,
    parse_tile,
    parse_tile_path,
    read_tile,
    tile_bytes,
)


def entry(i: int) -> bytes:
    return f"entry {i}\n".encode()


class Reference:
    """A log of ``size`` entries held whole, serving tiles as `read_tile`'s source."""

    def __init__(self, size: int) -> None:
        self.data = [entry(i) for i in range(size)]
        self.tree = InMemoryTree(leaf_hash(d) for d in self.data)

    def size(self) -> int:
        return self.tree.size

    def subtree_hashes(self, level: int, start: int, end: int) -> list[bytes]:
        return [self.tree.get(level, i) for i in range(start, end)]

    def entries(self, start: int, end: int) -> list[bytes]:
        return self.data[start:end]


REFERENCES: dict[int, Reference] = {}


def reference(size: int) -> Reference:
    if size not in REFERENCES:
        REFERENCES[size] = Reference(size)
    return REFERENCES[size]


def rebuilt(size: int) -> TiledTree:
    source = reference(size)
    tree = TiledTree(size)
    for tile in hash_tiles(size):
        tree.add(tile, read_tile(source, tile))
    return tree


# --- the spec's examples ---------------------------------------------------------------------


def test_index_encoding_from_the_spec() -> None:
    assert format_index(1234067) == "x001/x234/067"
    assert parse_tile_path("tile/0/x001/x234/067") == Tile(0, 1234067)
    assert format_index(0) == "000"
    assert format_index(1000) == "x001/000"
    assert Tile(ENTRIES, 5, 3).path() == "tile/entries/005.p/3"
    assert Tile(2, 1234067, 8).path() == "tile/2/x001/x234/067.p/8"


def test_tiles_of_size_70000_are_the_specs() -> None:
    # "273 full level 0 tiles, one partial level 0 tile of width 112, one full level 1
    # tile, one partial level 1 tile of width 17, and one partial level 2 tile of width 1"
    tiles = list(hash_tiles(70_000))
    assert tiles == [*(Tile(0, n) for n in range(273)), Tile(0, 273, 112), Tile(1, 0),
                     Tile(1, 1, 17), Tile(2, 0, 1)]
    assert list(entry_bundles(70_000))[-1] == Tile(ENTRIES, 273, 112)
    assert len(list(entry_bundles(70_000))) == 274


def test_tiles_of_size_256_are_the_specs() -> None:
    # "a tree of size 256 will be represented by a full level 0 tile and a partial level 1
    # tile of width 1"
    assert list(hash_tiles(256)) == [Tile(0, 0), Tile(1, 0, 1)]
    assert list(hash_tiles(0)) == [] and list(entry_bundles(0)) == []
    with pytest.raises(TileError):
        list(hash_tiles(-1))


# --- paths -----------------------------------------------------------------------------------


@given(st.integers(ENTRIES, 63), st.integers(0, 2**56 - 1), st.integers(1, 256))
def test_paths_round_trip(level: int, index: int, width: int) -> None:
    tile = Tile(level, index, width)
    assert parse_tile_path(tile.path()) == tile
    assert parse_tile_path(tile.path()).path() == tile.path()


@pytest.mark.parametrize("path", [
    "", "tile", "tile/0", "tiles/0/000", "/tile/0/000", "tile/0/000/", "tile//000",
    "tile/00/000", "tile/01/000", "tile/64/000", "tile/-1/000", "tile/+1/000", "tile/a/000",
    "tile/0/00", "tile/0/0000", "tile/0/x000", "tile/0/x000/001", "tile/0/001/002",
    "tile/0/x001", "tile/0/x01/002", "tile/0/y001/002", "tile/0/X001/002", "tile/0/x001/x002",
    "tile/0/000.p/0", "tile/0/000.p/256", "tile/0/000.p/01", "tile/0/000.p/", "tile/0/000.p",
    "tile/0/000.p/1/2", "tile/0/000.q/1", "tile/0/.p/1", "tile/0/000p/1", "tile/0/x001.p/1",
    "tile/0/\u0661\u0662\u0663", "tile/entries/", "tile/entries/x000/000", "tile/entry/000",
    "tile/0/x072/x057/x594/x037/x927/936",  # 2**64 / 256 * 1000: beyond uint64 indices
])
def test_bad_paths_are_refused(path: str) -> None:
    with pytest.raises(TilePathError):
        parse_tile_path(path)


def test_largest_index_parses() -> None:
    last = 2**64 // 256 - 1
    assert parse_tile_path(Tile(0, last).path()) == Tile(0, last)
    with pytest.raises(TilePathError):
        parse_tile_path("tile/0/" + format_index(last + 1))


@pytest.mark.parametrize("fields", [(-2, 0, 256), (64, 0, 256), (0, -1, 256),
                                    (0, 2**56, 256), (0, 0, 0), (0, 0, 257)])
def test_impossible_tiles_are_refused(fields: tuple[int, int, int]) -> None:
    with pytest.raises(TileError):
        Tile(*fields)
    with pytest.raises(TileError):
        format_index(-1)


def test_which_tiles_a_tree_has() -> None:
    assert Tile(0, 0).within(256) and not Tile(0, 0).within(255)
    assert Tile(0, 0, 255).within(255) and Tile(0, 0, 7).within(300)
    assert Tile(0, 1, 44).within(300) and not Tile(0, 1, 45).within(300)
    assert Tile(1, 0, 1).within(256) and not Tile(1, 0, 2).within(511)
    assert Tile(ENTRIES, 1, 44).within(300) and not Tile(ENTRIES, 2, 1).within(512)
    assert not Tile(63, 0, 1).within(2**64 - 1)
    assert Tile(7, 0, 1).within(2**56) and Tile(ENTRIES, 0).tree_level == 0
    assert Tile(3, 2).tree_level == 24 and Tile(3, 2).start == 512


# --- bytes -----------------------------------------------------------------------------------


def test_tile_bytes_are_the_hashes_in_order() -> None:
    hashes = [hashlib.sha256(bytes([i])).digest() for i in range(5)]
    data = tile_bytes(hashes)
    assert data == b"".join(hashes) and len(data) == 160
    assert parse_tile(data, 5) == hashes
    with pytest.raises(TileFormatError):
        parse_tile(data, 4)
    with pytest.raises(TileFormatError):
        parse_tile(data + b"\0", 5)
    with pytest.raises(TileFormatError):
        parse_tile(b"", 0)
    with pytest.raises(TileFormatError):
        parse_tile(b"\0" * 32 * 257, 257)
    with pytest.raises(TileFormatError):
        tile_bytes([])
    with pytest.raises(TileFormatError):
        tile_bytes([b"\0" * 31])
    with pytest.raises(TileFormatError):
        tile_bytes([b"\0" * 32] * 257)


def test_entry_bundles_are_length_prefixed() -> None:
    entries = [b"a", b"", b"x" * 300, b"\xff" * MAX_ENTRY_BYTES]
    data = entry_bundle(entries)
    assert data[:3] == b"\x00\x01a" and data[3:5] == b"\x00\x00"
    assert data[5:7] == struct.pack(">H", 300)
    assert parse_entry_bundle(data, 4) == entries
    with pytest.raises(TileFormatError, match="at most 65535"):
        entry_bundle([b"\0" * (MAX_ENTRY_BYTES + 1)])
    with pytest.raises(TileFormatError):
        entry_bundle([])
    with pytest.raises(TileFormatError):
        entry_bundle([b""] * 257)


@pytest.mark.parametrize(("data", "width", "problem"), [
    (b"\x00\x01a\x00", 2, "cut off in its length"),
    (b"\x00\x01a\x00\x02b", 2, "cut off"),
    (b"\x00\x01a\x00\x01b", 1, "goes on after its 1 entries"),
    (b"\x00\x01a", 2, "holds 1 entries, not 2"),
    (b"", 1, "holds 0 entries, not 1"),
    (b"", 0, "holds 1 to 256"),
    (b"\x00\x00" * 257, 257, "holds 1 to 256"),
])
def test_malformed_bundles_are_refused(data: bytes, width: int, problem: str) -> None:
    with pytest.raises(TileFormatError, match=problem):
        parse_entry_bundle(data, width)


# --- serving and rebuilding ------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 2, 255, 256, 257, 511, 512, 65535, 65536, 65537, 70_000])
def test_tree_rebuilt_from_tiles_has_the_reference_root(size: int) -> None:
    tree = rebuilt(size)
    assert tree.complete and tree.next_tile is None
    assert tree.root() == reference(size).tree.root()
    for smaller in {s for s in (0, 1, size // 3, size - 1, size) if 0 <= s <= size}:
        assert tree.root(smaller) == reference(size).tree.root(smaller)
    if size:
        assert tree.root(0) == EMPTY_ROOT
        # Proofs for any smaller tree come from the tiles alone.
        assert consistency_proof(tree, size // 2 or 1, size) == (
            reference(size).tree.consistency_proof(size // 2 or 1, size))


def test_bundles_match_the_level_0_tiles() -> None:
    source, tree = reference(700), rebuilt(700)
    for bundle in entry_bundles(700):
        entries = parse_entry_bundle(read_tile(source, bundle), bundle.width)
        assert entries == source.data[bundle.start : bundle.start + bundle.width]
        assert [leaf_hash(e) for e in entries] == tree.leaf_hashes(bundle)
    with pytest.raises(TileError):
        tree.leaf_hashes(Tile(0, 0))  # not a bundle
    with pytest.raises(TileError):
        tree.leaf_hashes(Tile(ENTRIES, 2, 100))  # not this tree's width
    with pytest.raises(TileError):
        tree.leaf_hashes(Tile(ENTRIES, 3))  # beyond it


def test_a_partial_tile_is_a_prefix_of_its_tile() -> None:
    source = reference(600)
    assert read_tile(source, Tile(0, 0, 10)) == read_tile(source, Tile(0, 0))[: 32 * 10]
    assert read_tile(source, Tile(ENTRIES, 2, 88)) == entry_bundle(source.data[512:600])


@pytest.mark.parametrize("tile", [Tile(0, 2), Tile(0, 2, 89), Tile(1, 0, 3), Tile(2, 0, 1),
                                  Tile(ENTRIES, 3, 1), Tile(ENTRIES, 2)])
def test_tiles_beyond_the_tree_are_not_served(tile: Tile) -> None:
    with pytest.raises(TileRangeError):
        read_tile(reference(600), tile)


def _tiles(size: int) -> list[tuple[Tile, bytearray]]:
    source = reference(size)
    return [(tile, bytearray(read_tile(source, tile))) for tile in hash_tiles(size)]


@pytest.mark.parametrize(("size", "which", "named"), [
    (600, 0, 0), (600, 1, 1), (70_000, 0, 0), (70_000, 272, 272), (65536, 255, 255),
    # A changed hash in a level-1 tile disagrees first with the tile below it (hash 2).
    (70_000, 274, 2),
])
def test_a_changed_full_tile_is_caught_by_the_tile_above(size: int, which: int,
                                                         named: int) -> None:
    tiles = _tiles(size)
    assert tiles[which][0].full
    tiles[which][1][77] ^= 1
    tree = TiledTree(size)
    with pytest.raises(TileMismatchError) as caught:
        for tile, data in tiles:
            tree.add(tile, bytes(data))
    assert caught.value.tile == tiles[named][0]
    assert tiles[named][0].path() in str(caught.value)


@pytest.mark.parametrize("size", [1, 300, 70_000])
def test_a_changed_partial_level_0_tile_changes_the_root(size: int) -> None:
    # Nothing above holds the partial tiles' hashes: they hash into the root itself, so the
    # checkpoint catches them.
    for position in (0, -1):
        tiles = _tiles(size)
        partial = next(i for i, (tile, _) in enumerate(tiles) if not tile.full)
        assert tiles[partial][0].level == 0
        tiles[partial][1][position] ^= 0x80
        tree = TiledTree(size)
        for tile, data in tiles:
            tree.add(tile, bytes(data))
        assert tree.root() != reference(size).tree.root()


@pytest.mark.parametrize("size", [300, 70_000, 65536])
def test_a_changed_hash_above_level_0_is_caught(size: int) -> None:
    tiles = _tiles(size)
    tiles[-1][1][-1] ^= 0x80
    tree = TiledTree(size)
    with pytest.raises(TileMismatchError) as caught:
        for tile, data in tiles:
            tree.add(tile, bytes(data))
    assert caught.value.tile.level == tiles[-1][0].level - 1


def test_tiles_must_come_in_order_and_whole() -> None:
    tiles = _tiles(600)
    tree = TiledTree(600)
    with pytest.raises(TileError, match="needs tile/0/000, not tile/0/001"):
        tree.add(tiles[1][0], bytes(tiles[1][1]))
    with pytest.raises(TileError, match="still needs tile/0/000"):
        tree.root()
    with pytest.raises(TileFormatError):
        tree.add(tiles[0][0], bytes(tiles[0][1][:-1]))
    with pytest.raises(TileError, match=r"needs tile/0/000, not tile/0/000\.p/255"):
        tree.add(Tile(0, 0, 255), bytes(tiles[0][1][: 255 * 32]))
    for tile, data in tiles:
        tree.add(tile, bytes(data))
    with pytest.raises(TileError, match="needs none"):
        tree.add(tiles[0][0], bytes(tiles[0][1]))
    with pytest.raises(MerkleError):
        tree.root(601)
    with pytest.raises(MerkleError):
        tree.root(-1)
    with pytest.raises(LookupError):
        tree.get(0, 600)
    with pytest.raises(LookupError):
        tree.get(9, 1)
    with pytest.raises(LookupError):
        tree.get(16, 0)
    assert tree.get(9, 0) == reference(600).tree.get(9, 0)
    assert tree.get(3, 70) == reference(600).tree.get(3, 70)
