"""An independent C2SP tlog-tiles reader, written from the texts (tlog-tiles, RFC 6962 §2.1,
tlog-checkpoint, signed-note) with only hashlib, base64, struct, httpx and PyNaCl: it imports
nothing from amanat, so a misreading of the spec shared with vault.tlog would not hide here.

`read_log(prefix, vkey)` fetches ``<prefix>/checkpoint``, checks its Ed25519 signature by the
log's verifier key, fetches every tile and entry bundle the checkpoint's tree size calls for,
recomputes the root from the tiles alone, checks every tile against the one above it and
every entry against its leaf hash, and returns the entries.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

import httpx
import nacl.exceptions
import nacl.signing

WIDTH = 256


class Refused(Exception):
    """What the reader found wrong."""


def leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(hashes: list[bytes]) -> bytes:
    """RFC 6962 MTH over already-hashed leaves (split at the largest power of two < n)."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node(mth(hashes[:k]), mth(hashes[k:]))


def n_path(n: int) -> str:
    """tlog-tiles: 3-digit groups, all but the last prefixed with x."""
    text = f"{n % 1000:03d}"
    n //= 1000
    while n > 0:
        text = f"x{n % 1000:03d}/{text}"
        n //= 1000
    return text


def tile_url(level: str, n: int, width: int) -> str:
    return f"tile/{level}/{n_path(n)}" + (f".p/{width}" if width < WIDTH else "")


@dataclass
class Checkpoint:
    origin: str
    size: int
    root: bytes


def open_checkpoint(text: str, vkey: str) -> Checkpoint:
    """signed-note with an Ed25519 key (type 0x01): the body, a blank line, signature lines
    ``— <name> base64(key id || signature)``; key id = SHA-256(name || \\n || 0x01 || key)[:4]."""
    name, key_hash, encoded = vkey.split("+", 2)
    raw = base64.b64decode(encoded, validate=True)
    if len(raw) != 33 or raw[0] != 0x01:
        raise Refused("not an Ed25519 verifier key")
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if key_id.hex() != key_hash:
        raise Refused("the verifier key's id does not match")
    body, _, signatures = text.rpartition("\n\n")
    body += "\n"
    verified = False
    for line in signatures.rstrip("\n").split("\n"):
        prefix = "\u2014 " + name + " "
        if not line.startswith(prefix):
            continue
        blob = base64.b64decode(line[len(prefix):], validate=True)
        if blob[:4] != key_id or len(blob) != 68:
            continue
        try:
            nacl.signing.VerifyKey(raw[1:]).verify(body.encode(), blob[4:])
        except nacl.exceptions.BadSignatureError:
            raise Refused("the checkpoint's signature does not verify") from None
        verified = True
    if not verified:
        raise Refused("the checkpoint carries no signature by the log key")
    lines = body.split("\n")
    if lines[1] != str(int(lines[1])):
        raise Refused("malformed tree size")
    return Checkpoint(lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True))


class Reader:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix.rstrip("/")
        self.fetched = 0
        self.http = httpx.Client(timeout=30)

    def get(self, path: str) -> httpx.Response:
        response = self.http.get(f"{self.prefix}/{path}")
        self.fetched += 1
        if response.status_code != 200:
            raise Refused(f"{path}: HTTP {response.status_code}")
        return response


def read_log(prefix: str, vkey: str) -> tuple[Checkpoint, list[bytes], Reader]:
    reader = Reader(prefix)
    try:
        checkpoint = open_checkpoint(reader.get("checkpoint").text, vkey)
        size = checkpoint.size
        # levels[l] = every hash of level l (256**l leaves each), from the tiles.
        levels: list[list[bytes]] = []
        level = 0
        while size >> (8 * level):
            count = size >> (8 * level)
            hashes: list[bytes] = []
            for n in range((count + WIDTH - 1) // WIDTH):
                width = min(WIDTH, count - n * WIDTH)
                data = reader.get(tile_url(str(level), n, width)).content
                if len(data) != 32 * width:
                    raise Refused(f"tile {level}/{n} has {len(data)} bytes")
                hashes += [data[i : i + 32] for i in range(0, len(data), 32)]
            if level:
                # Each hash of this level is MTH of a full tile of the level below.
                below = levels[level - 1]
                for j, value in enumerate(hashes):
                    if mth(below[j * WIDTH : (j + 1) * WIDTH]) != value:
                        raise Refused(f"tile {level - 1}/{j} does not hash to level {level}")
            levels.append(hashes)
            level += 1
        # The root from the tiles' right edge: the partial tile of each level, top down, cut
        # into perfect subtrees by the bits of its width (RFC 6962 splits at powers of two).
        edge: list[bytes] = []
        for level_index in range(len(levels) - 1, -1, -1):
            count = size >> (8 * level_index)
            partial = levels[level_index][count - count % WIDTH : count]
            start = 0
            for bit in range(7, -1, -1):
                if len(partial) >> bit & 1:
                    edge.append(mth(partial[start : start + (1 << bit)]))
                    start += 1 << bit
        root = edge[-1] if edge else hashlib.sha256(b"").digest()
        for value in reversed(edge[:-1]):
            root = node(value, root)
        if root != checkpoint.root:
            raise Refused("the tiles' right edge does not hash to the checkpoint's root")
        if mth(levels[0] if levels else []) != checkpoint.root:
            raise Refused("the level 0 tiles do not hash to the checkpoint's root")
        entries: list[bytes] = []
        for n in range((size + WIDTH - 1) // WIDTH):
            width = min(WIDTH, size - n * WIDTH)
            data = reader.get(tile_url("entries", n, width)).content
            offset, got = 0, []
            while offset < len(data):
                (length,) = struct.unpack(">H", data[offset : offset + 2])
                got.append(data[offset + 2 : offset + 2 + length])
                offset += 2 + length
            if offset != len(data) or len(got) != width:
                raise Refused(f"bundle {n} is malformed")
            entries += got
        if [leaf(e) for e in entries] != (levels[0] if levels else []):
            raise Refused("the entries do not match the level 0 tiles")
        return checkpoint, entries, reader
    finally:
        reader.http.close()
