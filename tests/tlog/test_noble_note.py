"""Hybrid signed notes across implementations: a note signed by amanat's Ed25519 and
ML-DSA-44 halves (``cryptography``, pynacl) verifies in @noble/curves and
@noble/post-quantum, and a note signed by noble from the same seeds verifies in amanat,
which refuses it with either signature line left out."""

from __future__ import annotations

import base64
from pathlib import Path

import nacl.signing
import pytest

from tests.noble import needs_noble, noble_modules, run_node  # noqa: F401 (fixture)
from vault.tlog import note

SCRIPT = Path(__file__).with_name("noble_note.mjs")
NAME = "example.org/amanat"
TEXT = "amanat.roster/v1 example.org/amanat\nversion 1\n"

pytestmark = needs_noble


def _node(mode: str, payload: dict[str, object]) -> object:
    return run_node(SCRIPT, mode, payload)


def test_amanat_hybrid_note_verifies_in_noble() -> None:
    key = note.HybridSigner(note.Signer(NAME, nacl.signing.SigningKey(b"\x03" * 32)),
                            note.MLDSASigner(NAME, b"\x04" * 32))
    vkeys = key.vkey().split(" ")
    signed = note.sign_note(TEXT, *key.signers())
    assert _node("verify", {"note": signed, "vkeys": vkeys}) == [True, True]
    altered = signed.replace("version 1", "version 2")
    assert _node("verify", {"note": altered, "vkeys": vkeys}) == [False, False]


def test_noble_hybrid_note_verifies_in_amanat_and_needs_both_lines() -> None:
    ed_seed, ml_seed = bytes(range(32)), bytes(range(32, 64))
    made = _node("sign", {"text": TEXT, "name": NAME, "edSeed": base64.b64encode(ed_seed).decode(),
                          "mlSeed": base64.b64encode(ml_seed).decode()})
    assert isinstance(made, dict)
    ours = note.HybridSigner(note.Signer(NAME, nacl.signing.SigningKey(ed_seed)),
                             note.MLDSASigner(NAME, ml_seed))
    assert base64.b64decode(made["mlPublic"]) == ours.post_quantum.public_key  # type: ignore[union-attr]
    assert base64.b64decode(made["edPublic"]) == ours.classical.public_key
    signed = made["note"]
    assert ours.verifier().open(signed).text == TEXT
    body, ed_line, ml_line = signed.rsplit("\n", 3)[0], *signed.split("\n")[-3:-1]
    for kept in (ed_line, ml_line):
        with pytest.raises(note.MissingSignatureError):
            ours.verifier().open(f"{body}\n{kept}\n")
