"""An independent cosignature verifier and add-checkpoint client, written from the C2SP
texts (tlog-cosignature, tlog-witness, signed-note) with only hashlib, base64, struct,
httpx, PyNaCl and cryptography's ML-DSA: it imports nothing from amanat, so a shared
misreading of the spec would not hide here."""

from __future__ import annotations

import base64
import hashlib
import struct

import httpx
import nacl.exceptions
import nacl.signing
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PublicKey


def parse_cosigner_vkey(vkey: str) -> tuple[str, bytes, bytes]:
    """(name, key id, Ed25519 public key) of a ``name+hexid+base64(0x04 || key)`` vkey."""
    name, key_hash, encoded = vkey.split("+", 2)
    raw = base64.b64decode(encoded, validate=True)
    if len(raw) != 33 or raw[0] != 0x04:
        raise ValueError("not an Ed25519 cosignature/v1 key")
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if key_id.hex() != key_hash:
        raise ValueError("key id does not match")
    return name, key_id, raw[1:]


def verify_cosignature(checkpoint_body: str, line: str, vkey: str) -> int:
    """The timestamp of a valid cosignature line; ValueError otherwise."""
    name, key_id, public_key = parse_cosigner_vkey(vkey)
    prefix = "\u2014 " + name + " "
    if not line.startswith(prefix):
        raise ValueError("not a line by this cosigner")
    blob = base64.b64decode(line[len(prefix):].rstrip("\n"), validate=True)
    if len(blob) != 4 + 8 + 64 or blob[:4] != key_id:
        raise ValueError("not a cosignature/v1 by this key")
    (timestamp,) = struct.unpack(">Q", blob[4:12])
    message = b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n"
    try:
        nacl.signing.VerifyKey(public_key).verify(message + checkpoint_body.encode(), blob[12:])
    except nacl.exceptions.BadSignatureError:
        raise ValueError("bad signature") from None
    return timestamp


def verify_mldsa_cosignature(checkpoint_body: str, line: str, vkey: str) -> int:
    """The timestamp of a valid ML-DSA-44 (type 0x06) cosignature line; ValueError
    otherwise. The message is the spec's cosigned_message for a whole checkpoint."""
    name, key_hash, encoded = vkey.split("+", 2)
    raw = base64.b64decode(encoded, validate=True)
    if len(raw) != 1 + 1312 or raw[0] != 0x06:
        raise ValueError("not an ML-DSA-44 cosigner key")
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if key_id.hex() != key_hash:
        raise ValueError("key id does not match")
    prefix = "\u2014 " + name + " "
    if not line.startswith(prefix):
        raise ValueError("not a line by this cosigner")
    blob = base64.b64decode(line[len(prefix):].rstrip("\n"), validate=True)
    if len(blob) != 4 + 8 + 2420 or blob[:4] != key_id:
        raise ValueError("not an ML-DSA-44 cosignature by this key")
    timestamp = blob[4:12]
    origin, size, root = checkpoint_body.split("\n")[:3]
    message = (b"subtree/v1\n\x00" + bytes([len(name)]) + name.encode() + timestamp
               + bytes([len(origin)]) + origin.encode() + struct.pack(">QQ", 0, int(size))
               + base64.b64decode(root))
    try:
        MLDSA44PublicKey.from_public_bytes(raw[1:]).verify(blob[12:], message)
    except InvalidSignature:
        raise ValueError("bad signature") from None
    return int.from_bytes(timestamp, "big")


def add_checkpoint(url: str, old_size: int, proof: list[str], signed_checkpoint: str
                   ) -> httpx.Response:
    """POST <url>/add-checkpoint with the body tlog-witness describes."""
    body = f"old {old_size}\n" + "".join(h + "\n" for h in proof) + "\n" + signed_checkpoint
    return httpx.post(url.rstrip("/") + "/add-checkpoint", content=body.encode(), timeout=10)
