"""RFC 9162 Merkle tree hashing and proofs, as pure functions over hashes.

This is the maths behind the log's tamper evidence: an inclusion proof shows that an entry is in
the tree a checkpoint commits to, and a consistency proof shows that a later tree extends an
earlier one without rewriting it. Verification is strict; generation reads only the hashes of
complete subtrees, so a store can serve any proof in O(log n) reads.

Hashing (RFC 9162 §2.1.1), SHA-256 throughout::

    leaf hash = SHA-256(0x00 || entry)
    node hash = SHA-256(0x01 || left || right)
    empty tree = SHA-256("")

A tree of ``n`` leaves splits at ``k``, the largest power of two smaller than ``n``. Its
*complete subtrees* are named by ``(level, index)``: the hash of leaves
``[index * 2**level, (index + 1) * 2**level)``. A `TreeHashes` source returns those; the
`Frontier` (the complete subtrees along the right edge, one per set bit of the size) is all an
append needs: adding a leaf computes O(log n) new node hashes and the new root.

Size-0 policy. The empty tree's root is ``SHA-256("")``. A consistency proof from size 0 to any
size ``n`` is *accepted* when the proof is empty and the old root is the empty-tree root, as
C2SP tlog-witness and the CCTV vectors do: every tree extends the empty tree, so there is nothing
to prove. (transparency-dev/merkle instead refuses every size-0 consistency check.) Inclusion in
a tree of size 0 is impossible and always refused. Every hash given to a verifier must be exactly
32 bytes, including in the trivial cases (equal sizes), where transparency-dev/merkle only
compares the roots.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "InMemoryTree",
    "InvalidProofError",
    "MerkleError",
    "NodeHash",
    "TreeHashes",
    "consistency_proof",
    "consistency_proof_size",
    "inclusion_proof",
    "inclusion_proof_size",
    "leaf_hash",
    "node_hash",
    "root_at",
    "root_from_inclusion_proof",
    "root_hash",
    "subtree_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root hash of the tree with no leaves."""


class MerkleError(ValueError):
    """Arguments that cannot describe a Merkle tree (negative size, index beyond the tree...)."""


class InvalidProofError(MerkleError):
    """A proof, root or leaf hash that does not verify."""


def leaf_hash(entry: bytes) -> bytes:
    """Return the RFC 9162 hash of a leaf: ``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 hash of an interior node: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split_point(size: int) -> int:
    """Return the largest power of two strictly smaller than ``size`` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def _check_size(size: int, what: str) -> None:
    if size < 0:
        raise MerkleError(f"{what} must not be negative, got {size}")


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise InvalidProofError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


class TreeHashes(Protocol):
    """A source of complete-subtree hashes, such as a store's table of tree nodes.

    ``get(level, index)`` returns the hash of leaves ``[index * 2**level, (index+1) * 2**level)``.
    Proof generation only asks for complete subtrees of the tree size it is given.
    """

    def get(self, level: int, index: int) -> bytes: ...


@dataclass(frozen=True)
class NodeHash:
    """The hash of the complete subtree at ``(level, index)``."""

    level: int
    index: int
    hash: bytes


def subtree_hash(source: TreeHashes, begin: int, end: int) -> bytes:
    """Return MTH of leaves ``[begin, end)``, a node of the RFC 9162 tree (O(log n) reads).

    ``begin`` must be a multiple of the smallest power of two >= ``end - begin``, which holds
    for every node of every tree; the empty range gives the empty-tree root.
    """
    size = end - begin
    if size < 0:
        raise MerkleError(f"subtree [{begin}, {end}) is reversed")
    if size == 0:
        return EMPTY_ROOT
    alignment = 1 << (size - 1).bit_length()
    if begin % alignment:
        raise MerkleError(f"[{begin}, {end}) is not a node of any Merkle tree")
    if size == alignment:
        level = size.bit_length() - 1
        return source.get(level, begin >> level)
    k = _split_point(size)
    return node_hash(
        source.get(k.bit_length() - 1, begin // k), subtree_hash(source, begin + k, end)
    )


def root_at(source: TreeHashes, size: int) -> bytes:
    """Return the root hash of the tree made of the first ``size`` leaves of ``source``."""
    _check_size(size, "tree size")
    return subtree_hash(source, 0, size)


def root_hash(leaf_hashes: Iterable[bytes]) -> bytes:
    """Return the root hash of the tree whose leaves have these hashes (O(n))."""
    frontier, _ = Frontier.empty().extend(leaf_hashes)
    return frontier.root()


def inclusion_proof_size(index: int, size: int) -> int:
    """Return the number of hashes proving leaf ``index`` in a tree of ``size``."""
    if not 0 <= index < size:
        raise MerkleError(f"leaf index {index} is outside a tree of size {size}")
    # Levels where the paths to index and to the last leaf differ, plus the right-edge levels
    # above them where index's subtree has a left sibling.
    inner = (index ^ (size - 1)).bit_length()
    return inner + bin(index >> inner).count("1")


def inclusion_proof(source: TreeHashes, index: int, size: int) -> list[bytes]:
    """Return the RFC 9162 inclusion proof (audit path) of leaf ``index`` in a tree of ``size``.

    Hashes are ordered from the leaf up to the root.
    """
    inclusion_proof_size(index, size)
    path: list[bytes] = []
    begin, end = 0, size
    while end - begin > 1:
        k = _split_point(end - begin)
        if index < begin + k:
            path.append(subtree_hash(source, begin + k, end))
            end = begin + k
        else:
            path.append(subtree_hash(source, begin, begin + k))
            begin += k
    path.reverse()
    return path


def consistency_proof_size(old_size: int, new_size: int) -> int:
    """Return the number of hashes in the consistency proof from ``old_size`` to ``new_size``."""
    _check_consistency_sizes(old_size, new_size)
    if old_size in (0, new_size):
        return 0
    count, m, n, complete = 0, old_size, new_size, True
    while m != n:
        k = _split_point(n)
        if m <= k:
            n = k
        else:
            m, n, complete = m - k, n - k, False
        count += 1
    return count + (0 if complete else 1)


def _check_consistency_sizes(old_size: int, new_size: int) -> None:
    _check_size(old_size, "old tree size")
    if old_size > new_size:
        raise MerkleError(f"old tree size {old_size} is larger than new tree size {new_size}")


def consistency_proof(source: TreeHashes, old_size: int, new_size: int) -> list[bytes]:
    """Return the RFC 9162 consistency proof that the tree of ``new_size`` extends ``old_size``.

    Empty when the sizes are equal or the old tree is empty (see the module's size-0 policy).
    """
    _check_consistency_sizes(old_size, new_size)
    if old_size in (0, new_size):
        return []
    # SUBPROOF(m, D[begin:end], complete), unrolled; hashes collected root-down, then reversed.
    proof: list[bytes] = []
    begin, m, end, complete = 0, old_size, new_size, True
    while m != end - begin:
        n = end - begin
        k = _split_point(n)
        if m <= k:
            proof.append(subtree_hash(source, begin + k, end))
            end = begin + k
        else:
            proof.append(subtree_hash(source, begin, begin + k))
            begin, m, complete = begin + k, m - k, False
    if not complete:
        proof.append(subtree_hash(source, begin, end))
    proof.reverse()
    return proof


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """Return the root that ``proof`` places ``leaf`` (a leaf hash) under, at ``index``.

    Raises InvalidProofError if the proof cannot belong to that index and size.
    """
    _check_hash(leaf, "leaf hash")
    if not 0 <= index < size:
        raise InvalidProofError(f"leaf index {index} is outside a tree of size {size}")
    for position, value in enumerate(proof):
        _check_hash(value, f"inclusion proof hash {position}")
    expected = inclusion_proof_size(index, size)
    if len(proof) != expected:
        raise InvalidProofError(
            f"an inclusion proof for leaf {index} in a tree of size {size} has {expected} "
            f"hashes, this one has {len(proof)}"
        )
    # RFC 9162 §2.1.3.2.
    fn, sn, result = index, size - 1, leaf
    for value in proof:
        if fn & 1 or fn == sn:
            result = node_hash(value, result)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, value)
        fn >>= 1
        sn >>= 1
    return result


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` (a leaf hash) is at ``index`` in the tree of ``size`` with ``root``.

    Returns None on success; raises InvalidProofError, saying why, otherwise.
    """
    _check_hash(root, "root hash")
    computed = root_from_inclusion_proof(leaf, index, size, proof)
    if not hmac.compare_digest(computed, root):
        raise InvalidProofError(
            f"inclusion proof for leaf {index} does not lead to the root of the tree of size {size}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree (new_size, new_root) extends the tree (old_size, old_root).

    Returns None on success; raises InvalidProofError, saying why, otherwise. A proof from
    size 0 is accepted when empty, with the empty-tree root as old root (module docstring).
    """
    _check_hash(old_root, "old root hash")
    _check_hash(new_root, "new root hash")
    for position, value in enumerate(proof):
        _check_hash(value, f"consistency proof hash {position}")
    if old_size < 0 or old_size > new_size:
        raise InvalidProofError(f"old tree size {old_size} cannot precede new tree size {new_size}")
    expected = consistency_proof_size(old_size, new_size)
    if len(proof) != expected:
        raise InvalidProofError(
            f"a consistency proof from size {old_size} to {new_size} has {expected} hashes, "
            f"this one has {len(proof)}"
        )
    if old_size == 0:
        if not hmac.compare_digest(old_root, EMPTY_ROOT):
            raise InvalidProofError("the root of the empty tree is SHA-256 of the empty string")
        if new_size == 0 and not hmac.compare_digest(new_root, EMPTY_ROOT):
            raise InvalidProofError("the root of the empty tree is SHA-256 of the empty string")
        return
    if old_size == new_size:
        if not hmac.compare_digest(old_root, new_root):
            raise InvalidProofError(f"two different roots for the same tree size {old_size}")
        return

    # RFC 9162 §2.1.4.2.
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new tree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for value in path[1:]:
        if fn & 1 or fn == sn:
            fr = node_hash(value, fr)
            sr = node_hash(value, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, value)
        fn >>= 1
        sn >>= 1
    if not hmac.compare_digest(fr, old_root):
        raise InvalidProofError(
            f"consistency proof does not lead to the old root (size {old_size})"
        )
    if not hmac.compare_digest(sr, new_root):
        raise InvalidProofError(
            f"consistency proof does not lead to the new root (size {new_size})"
        )


@dataclass(frozen=True)
class Frontier:
    """The right edge of a tree: the hashes of its largest complete subtrees, left to right.

    There is one hash per set bit of ``size``, the biggest subtree first. It is all an append
    needs to compute the new complete subtrees and the new root.
    """

    size: int
    hashes: tuple[bytes, ...] = field(default=())

    def __post_init__(self) -> None:
        _check_size(self.size, "tree size")
        if len(self.hashes) != bin(self.size).count("1"):
            raise MerkleError(
                f"a tree of size {self.size} has {bin(self.size).count('1')} frontier hashes, "
                f"not {len(self.hashes)}"
            )
        for position, value in enumerate(self.hashes):
            if len(value) != HASH_SIZE:
                raise MerkleError(f"frontier hash {position} is not {HASH_SIZE} bytes")

    @classmethod
    def empty(cls) -> Frontier:
        return cls(0, ())

    @classmethod
    def from_source(cls, source: TreeHashes, size: int) -> Frontier:
        """Read the frontier of the tree of ``size`` from a source (popcount(size) reads)."""
        return cls(size, tuple(source.get(n.level, n.index) for n in cls.nodes(size)))

    @staticmethod
    def nodes(size: int) -> list[NodeHash]:
        """Return the (level, index) of each frontier subtree of a tree of ``size``."""
        _check_size(size, "tree size")
        nodes: list[NodeHash] = []
        begin = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                nodes.append(NodeHash(level, begin >> level, b""))
                begin += 1 << level
        return nodes

    def root(self) -> bytes:
        """Return the root hash of the tree."""
        if not self.hashes:
            return EMPTY_ROOT
        result = self.hashes[-1]
        for value in reversed(self.hashes[:-1]):
            result = node_hash(value, result)
        return result

    def append(self, leaf: bytes) -> tuple[Frontier, list[NodeHash]]:
        """Add one leaf hash; return the new frontier and the complete subtrees it created.

        The created subtrees are the leaf itself (level 0) and each node it completes.
        """
        return self.extend([leaf])

    def extend(self, leaves: Iterable[bytes]) -> tuple[Frontier, list[NodeHash]]:
        """Add leaf hashes in order; return the new frontier and every subtree created."""
        hashes = list(self.hashes)
        size = self.size
        created: list[NodeHash] = []
        for leaf in leaves:
            if len(leaf) != HASH_SIZE:
                raise MerkleError(f"a leaf hash is {HASH_SIZE} bytes, not {len(leaf)}")
            level, index, value = 0, size, leaf
            created.append(NodeHash(0, index, value))
            while size >> level & 1:
                value = node_hash(hashes.pop(), value)
                level += 1
                index >>= 1
                created.append(NodeHash(level, index, value))
            hashes.append(value)
            size += 1
        return Frontier(size, tuple(hashes)), created


class InMemoryTree:
    """A whole tree held in memory: a `TreeHashes` source for tests and small logs."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = []
        self._frontier = Frontier.empty()
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        return self._frontier.size

    def append(self, leaf: bytes) -> None:
        self.extend([leaf])

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        self._frontier, created = self._frontier.extend(leaf_hashes)
        for node in created:
            if node.level == len(self._levels):
                self._levels.append([])
            self._levels[node.level].append(node.hash)

    def get(self, level: int, index: int) -> bytes:
        """Return the complete subtree at (level, index); LookupError if it is not complete."""
        if level < 0 or index < 0 or level >= len(self._levels):
            raise LookupError(f"no complete subtree at level {level}, index {index}")
        row = self._levels[level]
        if index >= len(row):
            raise LookupError(f"no complete subtree at level {level}, index {index}")
        return row[index]

    def root(self, size: int | None = None) -> bytes:
        """Return the root of the whole tree, or of its first ``size`` leaves."""
        if size is None:
            return self._frontier.root()
        if size > self.size:
            raise MerkleError(f"the tree has {self.size} leaves, not {size}")
        return root_at(self, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(self, index, self.size if size is None else size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return consistency_proof(self, old_size, self.size if new_size is None else new_size)
