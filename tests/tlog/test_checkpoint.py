"""C2SP tlog-checkpoint bodies: exact format, strict parsing, signing and opening."""

from __future__ import annotations

import base64

import nacl.signing
import pytest

from vault.tlog.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    CheckpointError,
    open_checkpoint,
    sign_checkpoint,
)
from vault.tlog.merkle import EMPTY_ROOT, leaf_hash
from vault.tlog.note import (
    InvalidSignatureError,
    NoteError,
    Signer,
    UnverifiedNoteError,
    sign_note,
)

ORIGIN = "amanat.example/log"
ROOT = leaf_hash(b"root")
ROOT_B64 = base64.b64encode(ROOT).decode()
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"


def log_signer(seed: int = 1, name: str = ORIGIN) -> Signer:
    return Signer(name, nacl.signing.SigningKey(bytes([seed]) * 32))


def test_spec_example_body_parses_and_formats_back() -> None:
    checkpoint = Checkpoint.parse(SPEC_BODY)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.extensions == ()
    assert checkpoint.format() == SPEC_BODY


def test_format_with_extensions() -> None:
    checkpoint = Checkpoint(ORIGIN, 5, ROOT, ("ext one", "— two"))
    assert checkpoint.format() == f"{ORIGIN}\n5\n{ROOT_B64}\next one\n— two\n"
    assert Checkpoint.parse(checkpoint.format()) == checkpoint


def test_empty_tree() -> None:
    checkpoint = Checkpoint(ORIGIN, 0, EMPTY_ROOT)
    assert Checkpoint.parse(checkpoint.format()) == checkpoint
    assert checkpoint.format().split("\n")[1] == "0"


def test_max_size() -> None:
    text = f"{ORIGIN}\n{MAX_TREE_SIZE}\n{ROOT_B64}\n"
    assert Checkpoint.parse(text).size == 2**64 - 1


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"{ORIGIN}\n5\n{ROOT_B64}", "end with a newline"),
        (f"{ORIGIN}\n5\n", "at least three lines"),
        (f"\n5\n{ROOT_B64}\n", "origin must not be empty"),
        (f"{ORIGIN}\n5\n{ROOT_B64}\n\n", "extension line must not be empty"),
        (f"{ORIGIN}\n5\n{ROOT_B64}\next\n\nmore\n", "extension line must not be empty"),
        (f"{ORIGIN}\n05\n{ROOT_B64}\n", "leading zero"),
        (f"{ORIGIN}\n00\n{EMPTY_ROOT.hex()}\n", "leading zero"),
        (f"{ORIGIN}\n+5\n{ROOT_B64}\n", "not a decimal"),
        (f"{ORIGIN}\n-5\n{ROOT_B64}\n", "not a decimal"),
        (f"{ORIGIN}\n 5\n{ROOT_B64}\n", "not a decimal"),
        (f"{ORIGIN}\n5.0\n{ROOT_B64}\n", "not a decimal"),
        (f"{ORIGIN}\n\n{ROOT_B64}\n", "not a decimal"),
        (f"{ORIGIN}\n\u0665\n{ROOT_B64}\n", "not a decimal"),  # Arabic-Indic digit five
        (f"{ORIGIN}\n{MAX_TREE_SIZE + 1}\n{ROOT_B64}\n", "unsigned 64-bit"),
        (f"{ORIGIN}\n{'9' * 400}\n{ROOT_B64}\n", "unsigned 64-bit"),
        (f"{ORIGIN}\n5\n{ROOT_B64[:-1]}\n", "not valid base64"),
        (f"{ORIGIN}\n5\n{ROOT_B64} \n", "not valid base64"),
        (f"{ORIGIN}\n5\n{ROOT.hex()}\n", "32 bytes"),
        (f"{ORIGIN}\n5\n\u00e9{ROOT_B64[1:]}\n", "not valid base64"),
        (f"{ORIGIN}\n5\n{ROOT_B64[:-2]}B=\n", "not canonical"),
        (f"{ORIGIN}\n5\n{base64.b64encode(ROOT[:31]).decode()}\n", "32 bytes"),
        (f"{ORIGIN}\n0\n{ROOT_B64}\n", "empty tree"),
        (f"{ORIGIN}\r\n5\n{ROOT_B64}\n", "control characters"),
    ],
)
def test_malformed_bodies_rejected(text: str, reason: str) -> None:
    with pytest.raises(CheckpointError, match=reason):
        Checkpoint.parse(text)


def test_constructor_checks() -> None:
    with pytest.raises(CheckpointError, match="unsigned 64-bit"):
        Checkpoint(ORIGIN, -1, ROOT)
    with pytest.raises(CheckpointError, match="one line"):
        Checkpoint("a\nb", 1, ROOT)
    with pytest.raises(CheckpointError, match="one line"):
        Checkpoint(ORIGIN, 1, ROOT, ("x\ny",))


def test_sign_and_open() -> None:
    signer = log_signer()
    checkpoint = Checkpoint(ORIGIN, 42, ROOT, ("extension",))
    signed = sign_checkpoint(checkpoint, signer)
    assert signed.startswith(checkpoint.format() + "\n\u2014 " + ORIGIN + " ")
    assert open_checkpoint(signed, signer.verifier(), ORIGIN) == checkpoint
    assert open_checkpoint(signed.encode(), [signer.verifier()], ORIGIN) == checkpoint


def test_cosignatures_from_unknown_keys_ignored() -> None:
    signer, witness = log_signer(), log_signer(2, "witness.example")
    signed = sign_note(Checkpoint(ORIGIN, 3, ROOT).format(), signer, witness)
    assert open_checkpoint(signed, signer.verifier(), ORIGIN).size == 3


def test_wrong_origin_rejected() -> None:
    signer = log_signer()
    signed = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), signer)
    with pytest.raises(CheckpointError, match=r"from the log 'amanat\.example/log', expected"):
        open_checkpoint(signed, signer.verifier(), "other.example/log")


def test_wrong_key_rejected() -> None:
    signed = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), log_signer(1))
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(signed, log_signer(2).verifier(), ORIGIN)


def test_altered_checkpoint_rejected() -> None:
    signer = log_signer()
    signed = sign_checkpoint(Checkpoint(ORIGIN, 10, ROOT), signer)
    with pytest.raises(InvalidSignatureError):
        open_checkpoint(signed.replace("\n10\n", "\n11\n"), signer.verifier(), ORIGIN)


def test_signed_malformed_body_rejected() -> None:
    signer = log_signer()
    signed = sign_note(f"{ORIGIN}\n010\n{ROOT_B64}\n", signer)
    with pytest.raises(CheckpointError, match="leading zero"):
        open_checkpoint(signed, signer.verifier(), ORIGIN)
    assert issubclass(CheckpointError, ValueError) and issubclass(NoteError, ValueError)


def test_hybrid_log_key_signs_both_halves_and_both_are_required() -> None:
    from vault.tlog.note import MissingSignatureError, MLDSASigner

    ed = Signer(ORIGIN, nacl.signing.SigningKey(b"\x05" * 32))
    pq = MLDSASigner(ORIGIN, b"\x06" * 32)
    checkpoint = Checkpoint(ORIGIN, 1, ROOT)
    both = [ed.verifier(), pq.verifier()]
    signed = sign_checkpoint(checkpoint, ed, pq)
    assert open_checkpoint(signed, both, ORIGIN, require_all=True) == checkpoint
    for half in (ed, pq):
        with pytest.raises(MissingSignatureError):
            open_checkpoint(sign_checkpoint(checkpoint, half), both, ORIGIN, require_all=True)


def test_hybrid_verifier_requires_every_half_of_the_log_key() -> None:
    from vault.tlog.note import HybridVerifier, MissingSignatureError, MLDSASigner

    ed = Signer(ORIGIN, nacl.signing.SigningKey(b"\x05" * 32))
    pq = MLDSASigner(ORIGIN, b"\x06" * 32)
    checkpoint = Checkpoint(ORIGIN, 1, ROOT)
    key = HybridVerifier(ed.verifier(), pq.verifier())
    assert open_checkpoint(sign_checkpoint(checkpoint, ed, pq), key, ORIGIN) == checkpoint
    with pytest.raises(MissingSignatureError):
        open_checkpoint(sign_checkpoint(checkpoint, ed), key, ORIGIN)
