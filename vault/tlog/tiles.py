"""C2SP tlog-tiles: the log as static, cacheable files, and the tree rebuilt from them.

A tiled log serves its Merkle tree as *tiles*, each up to 256 consecutive hashes of one
level, and its entries as *entry bundles*, so that any cache or mirror can serve the log
and anyone can rebuild the whole tree from those files and check it against a signed
checkpoint (guarantee 4 without trusting whoever serves the files). See c2sp.org/tlog-tiles.

Tiles. Tile level ``L`` (0 to 63) holds the hashes of the complete subtrees of ``256**L``
leaves, i.e. the RFC 9162 tree's nodes at height ``8 * L``; tile ``N`` of that level holds
those with indices ``N * 256`` to ``N * 256 + 255``. A *full* tile has 256 hashes (8,192
bytes); the rightmost tile of a level may be *partial*, with its width ``W`` (1 to 255) in
its path. A tree of size ``s`` has ``s >> (8 * L)`` hashes at level ``L``::

    tile/<L>/<N>[.p/<W>]            N in 3-digit groups, all but the last prefixed "x":
    tile/entries/<N>[.p/<W>]        1234067 is x001/x234/067

Entry bundles. The entries of a level-0 tile, each as a big-endian uint16 length and its
bytes (so an entry is at most 65,535 bytes).

Parsing is strict and canonical (one path per resource, so caches hold one copy): a path
with leading zeroes, a redundant ``x000`` group, a width of 0 or 256, or a level past 63 is
a `TilePathError`; tile bytes of the wrong length and bundles with a cut-off entry, trailing
bytes or the wrong number of entries are a `TileFormatError`.

Rebuilding (`TiledTree`): the hash tiles of one tree size, checked against one another as
they are added (each full tile hashes to its place in the tile above), form a
`vault.tlog.merkle.TreeHashes` source: its root, compared with a signed checkpoint, binds
every hash in every tile, and proofs for any smaller tree can be computed from it. Serving
(`read_tile`) builds a tile's bytes from a store's complete-subtree hashes (`TileSource`).
This module does no I/O.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from vault.tlog.merkle import HASH_SIZE, MerkleError, node_hash, root_at

__all__ = [
    "ENTRIES",
    "MAX_ENTRY_BYTES",
    "MAX_LEVEL",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Tile",
    "TileError",
    "TileFormatError",
    "TileMismatchError",
    "TilePathError",
    "TileRangeError",
    "TileSource",
    "TiledTree",
    "entry_bundle",
    "entry_bundles",
    "format_index",
    "hash_tiles",
    "parse_entry_bundle",
    "parse_tile",
    "parse_tile_path",
    "read_tile",
    "tile_bytes",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile, entries in a full bundle."""
MAX_LEVEL = 63
MAX_ENTRY_BYTES = 0xFFFF
"""The longest entry a bundle can carry (its length is a uint16)."""
ENTRIES = -1
"""The `Tile.level` of an entry bundle."""
_INDEX_LIMIT = 1 << 64  # a tile's first hash index at its level is a uint64

_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")
_GROUP = re.compile(r"x[0-9]{3}")
_LAST_GROUP = re.compile(r"[0-9]{3}")


class TileError(ValueError):
    """Base class of tile errors."""


class TilePathError(TileError):
    """A path that is not the canonical path of a tile or entry bundle."""


class TileFormatError(TileError):
    """Tile or bundle bytes that are not what their path says (length, width, entries)."""


class TileRangeError(TileError, LookupError):
    """A tile or bundle the tree of the current size does not have (beyond its end)."""


class TileMismatchError(TileError):
    """Tiles that contradict one another: ``tile`` does not hash to its place in the tile
    above it."""

    def __init__(self, tile: Tile, message: str) -> None:
        super().__init__(message)
        self.tile = tile


@dataclass(frozen=True, order=True)
class Tile:
    """Tile ``index`` of ``level`` (0 to 63), or entry bundle ``index`` (level `ENTRIES`),
    ``width`` hashes or entries wide (256: full; 1 to 255: partial)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not ENTRIES <= self.level <= MAX_LEVEL:
            raise TileError(f"a tile level is 0 to {MAX_LEVEL}, not {self.level}")
        if not 0 <= self.index * TILE_WIDTH < _INDEX_LIMIT:
            raise TileError(f"tile index {self.index} is out of range")
        if not 1 <= self.width <= TILE_WIDTH:
            raise TileError(f"a tile is 1 to {TILE_WIDTH} wide, not {self.width}")

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def is_entries(self) -> bool:
        return self.level == ENTRIES

    @property
    def start(self) -> int:
        """The index of its first hash among the hashes of its level (of its first entry,
        for a bundle)."""
        return self.index * TILE_WIDTH

    @property
    def tree_level(self) -> int:
        """The height in the Merkle tree of the nodes it holds (0: leaves)."""
        return TILE_HEIGHT * max(self.level, 0)

    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]``."""
        level = "entries" if self.is_entries else str(self.level)
        suffix = "" if self.full else f".p/{self.width}"
        return f"tile/{level}/{format_index(self.index)}{suffix}"

    def within(self, size: int) -> bool:
        """Whether the tree of ``size`` leaves has this tile (a partial one as a prefix of
        its tile, full or not)."""
        return self.start + self.width <= size >> self.tree_level


def format_index(index: int) -> str:
    """A tile index as C2SP path elements: ``1234067`` is ``x001/x234/067``."""
    if index < 0:
        raise TileError(f"tile index {index} is negative")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def parse_tile_path(path: str) -> Tile:
    """The tile a canonical path (``tile/...``, relative to the log's prefix) names."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise TilePathError("a tile path is tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]")
    if parts[1] == "entries":
        level = ENTRIES
    elif _LEVEL.fullmatch(parts[1]) and int(parts[1]) <= MAX_LEVEL:
        level = int(parts[1])
    else:
        raise TilePathError(f"a tile level is a number from 0 to {MAX_LEVEL}, no leading zero")
    groups = parts[2:]
    width = TILE_WIDTH
    if len(groups) >= 2 and groups[-2].endswith(".p"):
        if not (_WIDTH.fullmatch(groups[-1]) and int(groups[-1]) < TILE_WIDTH):
            raise TilePathError(
                f"a partial tile's width is a number from 1 to {TILE_WIDTH - 1}, no leading zero"
            )
        width = int(groups[-1])
        groups = [*groups[:-2], groups[-2][: -len(".p")]]
    if not (
        all(_GROUP.fullmatch(group) for group in groups[:-1])
        and _LAST_GROUP.fullmatch(groups[-1])
        and (len(groups) == 1 or groups[0] != "x000")
    ):
        raise TilePathError(
            "a tile index is 3-digit groups, all but the last starting with x, no x000 first"
        )
    index = int("".join(group.lstrip("x") for group in groups))
    if index * TILE_WIDTH >= _INDEX_LIMIT:
        raise TilePathError(f"tile index {index} is out of range")
    return Tile(level, index, width)


def _level_tiles(level: int, count: int) -> Iterator[Tile]:
    """The tiles holding ``count`` consecutive hashes (or entries) from the first."""
    for index in range(count // TILE_WIDTH):
        yield Tile(level, index)
    if count % TILE_WIDTH:
        yield Tile(level, count // TILE_WIDTH, count % TILE_WIDTH)


def _check_size(size: int) -> None:
    if size < 0:
        raise TileError(f"a tree size is not negative, got {size}")


def hash_tiles(size: int) -> Iterator[Tile]:
    """Every hash tile of the tree of ``size`` leaves, level by level, left to right."""
    _check_size(size)
    level = 0
    while size >> (TILE_HEIGHT * level):
        yield from _level_tiles(level, size >> (TILE_HEIGHT * level))
        level += 1


def entry_bundles(size: int) -> Iterator[Tile]:
    """Every entry bundle of the log of ``size`` entries, in order."""
    _check_size(size)
    return _level_tiles(ENTRIES, size)


# --- bytes -------------------------------------------------------------------------------------


def _check_count(count: int, what: str) -> None:
    if not 1 <= count <= TILE_WIDTH:
        raise TileFormatError(f"a {what} holds 1 to {TILE_WIDTH}, not {count}")


def tile_bytes(hashes: Sequence[bytes]) -> bytes:
    """A hash tile's bytes: its hashes (1 to 256, 32 bytes each) one after another."""
    _check_count(len(hashes), "tile")
    for position, value in enumerate(hashes):
        if len(value) != HASH_SIZE:
            raise TileFormatError(f"hash {position} is {len(value)} bytes, not {HASH_SIZE}")
    return b"".join(hashes)


def parse_tile(data: bytes, width: int) -> list[bytes]:
    """The ``width`` hashes of a tile's bytes, which must be exactly ``32 * width`` long."""
    _check_count(width, "tile")
    if len(data) != HASH_SIZE * width:
        raise TileFormatError(
            f"a tile {width} hashes wide is {HASH_SIZE * width} bytes, not {len(data)}"
        )
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def entry_bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle's bytes: each entry (1 to 256 of them) as a big-endian uint16
    length, then its bytes."""
    _check_count(len(entries), "bundle")
    out = bytearray()
    for position, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_BYTES:
            raise TileFormatError(
                f"entry {position} is {len(entry)} bytes; a bundle holds at most "
                f"{MAX_ENTRY_BYTES} per entry"
            )
        out += struct.pack(">H", len(entry)) + entry
    return bytes(out)


def parse_entry_bundle(data: bytes, width: int) -> list[bytes]:
    """The ``width`` entries of a bundle's bytes, which must hold exactly that many and
    nothing after them."""
    _check_count(width, "bundle")
    entries: list[bytes] = []
    offset = 0
    while offset < len(data):
        if len(entries) == width:
            raise TileFormatError(f"the bundle goes on after its {width} entries")
        if offset + 2 > len(data):
            raise TileFormatError(f"entry {len(entries)} of the bundle is cut off in its length")
        (length,) = struct.unpack_from(">H", data, offset)
        offset += 2
        if offset + length > len(data):
            raise TileFormatError(f"entry {len(entries)} of the bundle is cut off")
        entries.append(bytes(data[offset : offset + length]))
        offset += length
    if len(entries) != width:
        raise TileFormatError(f"the bundle holds {len(entries)} entries, not {width}")
    return entries


# --- serving -----------------------------------------------------------------------------------


class TileSource(Protocol):
    """What a log store offers to build tiles from (`vault.store.auditlog.AuditLog`)."""

    def size(self) -> int:
        """The number of entries in the latest checkpoint."""
        ...

    def subtree_hashes(self, level: int, start: int, end: int) -> list[bytes]:
        """The stored hashes of the complete subtrees of height ``level`` with indices
        ``start`` to ``end`` (exclusive), in order."""
        ...

    def entries(self, start: int, end: int) -> list[bytes]:
        """Entries ``start`` to ``end`` (exclusive)."""
        ...


def read_tile(source: TileSource, tile: Tile) -> bytes:
    """The bytes of ``tile`` as the log behind ``source`` has it now; TileRangeError when
    the log's current tree does not reach that far."""
    if not tile.within(source.size()):
        raise TileRangeError(f"{tile.path()} is beyond the log's current tree")
    if tile.is_entries:
        return entry_bundle(source.entries(tile.start, tile.start + tile.width))
    return tile_bytes(source.subtree_hashes(tile.tree_level, tile.start, tile.start + tile.width))


# --- rebuilding --------------------------------------------------------------------------------


def _perfect_root(hashes: list[bytes]) -> bytes:
    """The root of the perfect subtree over ``hashes`` (a power of two of them)."""
    while len(hashes) > 1:
        hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
    return hashes[0]


class TiledTree:
    """The tree of ``size`` leaves rebuilt from its hash tiles (`hash_tiles(size)`).

    `add` takes the tiles in that order, level by level from the leaves up, each checked as
    it comes: it must be the tile the tree needs next, of its width, and each of its hashes
    (above level 0) must be the root of the full tile below it. So when the tree is
    `complete`, every hash of every tile is bound to `root`, which a caller compares with a
    signed checkpoint. `get` makes it a `vault.tlog.merkle.TreeHashes` source, for the root
    of, and proofs about, any smaller tree.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._expected = hash_tiles(size)
        self._next: Tile | None = next(self._expected, None)
        self._tiles: dict[tuple[int, int], bytes] = {}  # kept whole: 32 bytes a hash
        self._level = 0
        self._below: list[bytes] = []  # roots of the full tiles of the level below, in order
        self._roots: list[bytes] = []  # roots of the full tiles of this level so far

    @property
    def next_tile(self) -> Tile | None:
        """The tile `add` needs next, or None when the tree is complete."""
        return self._next

    @property
    def complete(self) -> bool:
        return self._next is None

    def add(self, tile: Tile, data: bytes) -> None:
        """Add the next tile and its bytes; TileFormatError or TileMismatchError when they
        cannot be that tile of this tree."""
        if tile != self._next:
            wanted = "none" if self._next is None else self._next.path()
            raise TileError(f"the tree of size {self.size} needs {wanted}, not {tile.path()}")
        hashes = parse_tile(data, tile.width)
        if tile.level != self._level:
            self._level, self._below, self._roots = tile.level, self._roots, []
        for offset, value in enumerate(hashes if tile.level else ()):
            below = Tile(tile.level - 1, tile.start + offset)
            if self._below[below.index] != value:
                raise TileMismatchError(
                    below, f"{below.path()} does not hash to the hash {tile.path()} holds for it"
                )
        if tile.full:
            self._roots.append(_perfect_root(hashes))
        self._tiles[(tile.level, tile.index)] = bytes(data)
        self._next = next(self._expected, None)

    def get(self, level: int, index: int) -> bytes:
        """The hash of the complete subtree of height ``level`` at ``index``, from the tile
        that holds it (LookupError if no tile added does)."""
        tile_level, height = divmod(level, TILE_HEIGHT)
        first = index << height
        data = self._tiles.get((tile_level, first // TILE_WIDTH), b"")
        begin = first % TILE_WIDTH * HASH_SIZE
        end = begin + (HASH_SIZE << height)
        if end > len(data):
            raise LookupError(f"no tile holds the subtree at level {level}, index {index}")
        return _perfect_root([data[i : i + HASH_SIZE] for i in range(begin, end, HASH_SIZE)])

    def leaf_hashes(self, tile: Tile) -> list[bytes]:
        """The level-0 hashes the entries of bundle ``tile`` must have."""
        data = self._tiles.get((0, tile.index), b"")
        if not tile.is_entries or len(data) != tile.width * HASH_SIZE:
            raise TileError(f"{tile.path()} is not an entry bundle of the tree")
        return parse_tile(data, tile.width)

    def root(self, size: int | None = None) -> bytes:
        """The root of the tree, or of its first ``size`` leaves (at most ``self.size``)."""
        if self._next is not None:
            raise TileError(f"the tree still needs {self._next.path()}")
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise MerkleError(f"the tree has {self.size} leaves, not {size}")
        return root_at(self, size)
