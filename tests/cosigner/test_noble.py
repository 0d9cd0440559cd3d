"""Cosignatures across implementations: amanat's ML-DSA-44 and Ed25519 cosignatures verify
in @noble/post-quantum and @noble/curves, and an ML-DSA-44 cosignature made by
@noble/post-quantum from the same seed verifies in amanat (the same FIPS 204 key)."""

from __future__ import annotations

import base64
import struct
from pathlib import Path

from tests.noble import needs_noble, noble_modules, run_node  # noqa: F401 (fixture)
from vault.tlog.checkpoint import Checkpoint
from vault.tlog.cosignature import (
    ALG_MLDSA44,
    Cosignature,
    CosignerSigner,
    CosignerVerifier,
    MLDSACosignerSigner,
    verify,
)
from vault.tlog.merkle import leaf_hash

ORIGIN = "vault.example/log"
SCRIPT = Path(__file__).with_name("noble_cosign.mjs")
BODY = Checkpoint(ORIGIN, 12, leaf_hash(b"root")).format()

pytestmark = needs_noble


def _node(mode: str, payload: dict[str, object]) -> object:
    return run_node(SCRIPT, mode, payload)


def _key_b64(vkey: str) -> str:
    return vkey.split("+", 2)[2]


def test_amanat_cosignatures_verify_in_noble() -> None:
    ed = CosignerSigner.generate("partner.example/c")
    ml = MLDSACosignerSigner("partner.example/c", b"\x09" * 32)
    lines = [ed.sign(BODY, 1_800_000_000).line(), ml.sign(BODY, 1_800_000_000).line()]
    keys = [_key_b64(ed.vkey()), _key_b64(ml.vkey())]
    assert _node("verify", {"body": BODY, "lines": lines, "keys": keys}) == [True, True]
    other = Checkpoint(ORIGIN, 13, leaf_hash(b"root")).format()
    assert _node("verify", {"body": other, "lines": lines, "keys": keys}) == [False, False]


def test_noble_mldsa44_cosignature_verifies_in_amanat() -> None:
    seed = bytes(range(32))
    made = _node("sign", {"body": BODY, "name": "noble.example/c",
                          "seed": base64.b64encode(seed).decode(), "time": 1_800_000_001})
    assert isinstance(made, dict)
    public_key = base64.b64decode(made["publicKey"])
    ours = MLDSACosignerSigner("noble.example/c", seed)
    assert public_key == ours.public_key  # one FIPS 204 key from one seed
    verifier = CosignerVerifier("noble.example/c", public_key, ALG_MLDSA44)
    cosignature = Cosignature("noble.example/c", verifier.key_id, 1_800_000_001,
                              base64.b64decode(made["signature"]))
    assert verify(BODY, cosignature.line(), verifier).timestamp == 1_800_000_001
    tampered = struct.pack(">Q", 1_800_000_002)
    blob = base64.b64decode(cosignature.line().split(" ")[2])
    line = f"\u2014 noble.example/c {base64.b64encode(blob[:4] + tampered + blob[12:]).decode()}"
    assert not verifier.verify(BODY, Cosignature.parse_line(line))
