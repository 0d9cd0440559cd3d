"""C2SP tlog-proof receipts: the spec example's layout, round trips, and every refusal."""

from __future__ import annotations

import base64

import nacl.signing
import pytest

from vault.tlog.checkpoint import Checkpoint, CheckpointError, sign_checkpoint
from vault.tlog.merkle import InMemoryTree, InvalidProofError, leaf_hash
from vault.tlog.note import InvalidSignatureError, NoteError, Signer, UnverifiedNoteError
from vault.tlog.proof import (
    MAX_PROOF_HASHES,
    RECEIPT_HEADER,
    LeafHash,
    Receipt,
    ReceiptError,
    verify_receipt,
)

ORIGIN = "amanat.example/log"
SPEC_RECEIPT = """c2sp.org/tlog-proof@v1
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=

example.com/fancylog
109482
sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=

\u2014 example.com/fancylog hI2DJw[...]1roloI=
\u2014 witness1.example mJirIklj[...]qY9v2B/5bg==
"""

ENTRIES = [f"entry {i}\n".encode() for i in range(13)]
TREE = InMemoryTree(leaf_hash(e) for e in ENTRIES)
SIGNER = Signer(ORIGIN, nacl.signing.SigningKey(b"\x07" * 32))
SIGNED = sign_checkpoint(Checkpoint(ORIGIN, TREE.size, TREE.root()), SIGNER)


def make_receipt(index: int, extra: bytes | None = None) -> str:
    return Receipt(index, tuple(TREE.inclusion_proof(index)), SIGNED, extra).format()


def test_spec_example_parses_and_formats_back() -> None:
    receipt = Receipt.parse(SPEC_RECEIPT)
    assert receipt.index == 73894
    assert len(receipt.proof) == 5
    assert receipt.extra == base64.b64decode("YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ")
    assert receipt.checkpoint.startswith("example.com/fancylog\n109482\n")
    assert receipt.format() == SPEC_RECEIPT


def test_every_entry_has_a_verifying_receipt() -> None:
    for index, entry in enumerate(ENTRIES):
        text = make_receipt(index)
        assert text.startswith(f"{RECEIPT_HEADER}\nindex {index}\n")
        result = verify_receipt(text, entry, SIGNER.verifier(), ORIGIN)
        assert result.index == index
        assert result.checkpoint == Checkpoint(ORIGIN, 13, TREE.root())
        assert result.extra is None
        by_hash = verify_receipt(text, LeafHash(leaf_hash(entry)), [SIGNER.verifier()], ORIGIN)
        assert by_hash == result


def test_single_entry_tree_receipt_has_no_hashes() -> None:
    tree = InMemoryTree([leaf_hash(b"only")])
    signed = sign_checkpoint(Checkpoint(ORIGIN, 1, tree.root()), SIGNER)
    text = Receipt(0, (), signed).format()
    assert text == f"{RECEIPT_HEADER}\nindex 0\n\n{signed}"
    assert verify_receipt(text, b"only", SIGNER.verifier(), ORIGIN).index == 0


def test_extra_round_trip() -> None:
    text = make_receipt(3, extra=b"opaque\x00data")
    assert "\nextra b3BhcXVlAGRhdGE=\nindex 3\n" in text
    assert verify_receipt(text, ENTRIES[3], SIGNER.verifier(), ORIGIN).extra == b"opaque\x00data"


def test_wrong_entry_rejected() -> None:
    with pytest.raises(InvalidProofError, match="does not lead to the root"):
        verify_receipt(make_receipt(4), ENTRIES[5], SIGNER.verifier(), ORIGIN)
    with pytest.raises(InvalidProofError):
        verify_receipt(make_receipt(4), LeafHash(ENTRIES[4]), SIGNER.verifier(), ORIGIN)
    with pytest.raises(InvalidProofError, match="leaf hash must be 32 bytes"):
        verify_receipt(make_receipt(4), LeafHash(b"short"), SIGNER.verifier(), ORIGIN)


def test_wrong_index_rejected() -> None:
    text = make_receipt(4).replace("index 4\n", "index 5\n")
    with pytest.raises(InvalidProofError):
        verify_receipt(text, ENTRIES[4], SIGNER.verifier(), ORIGIN)
    text = make_receipt(12).replace("index 12\n", "index 13\n")
    with pytest.raises(InvalidProofError, match="outside the checkpoint's tree of size 13"):
        verify_receipt(text, ENTRIES[12], SIGNER.verifier(), ORIGIN)


def test_corrupted_proof_hashes_rejected() -> None:
    text = make_receipt(6)
    lines = text.split("\n")
    for position in range(2, 2 + len(TREE.inclusion_proof(6))):
        raw = bytearray(base64.b64decode(lines[position]))
        for bit in range(0, 256, 17):
            changed = bytearray(raw)
            changed[bit // 8] ^= 1 << (bit % 8)
            bad = [*lines]
            bad[position] = base64.b64encode(bytes(changed)).decode()
            with pytest.raises(InvalidProofError):
                verify_receipt("\n".join(bad), ENTRIES[6], SIGNER.verifier(), ORIGIN)
        removed = lines[:position] + lines[position + 1 :]
        with pytest.raises(InvalidProofError, match="has 4 hashes, this one has 3"):
            verify_receipt("\n".join(removed), ENTRIES[6], SIGNER.verifier(), ORIGIN)


def test_checkpoint_problems_surface_with_their_class() -> None:
    text = make_receipt(1)
    with pytest.raises(CheckpointError, match=r"expected 'other\.example/log'"):
        verify_receipt(text, ENTRIES[1], SIGNER.verifier(), "other.example/log")
    other = Signer(ORIGIN, nacl.signing.SigningKey(b"\x08" * 32))
    with pytest.raises(UnverifiedNoteError):
        verify_receipt(text, ENTRIES[1], other.verifier(), ORIGIN)
    with pytest.raises(InvalidSignatureError):
        verify_receipt(text.replace("\n13\n", "\n14\n"), ENTRIES[1], SIGNER.verifier(), ORIGIN)
    with pytest.raises(NoteError):
        verify_receipt(text.rstrip("\n"), ENTRIES[1], SIGNER.verifier(), ORIGIN)


_HASH = base64.b64encode(bytes(32)).decode()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"{RECEIPT_HEADER}\nindex 0\n{_HASH}\n", "no blank line"),
        (f"c2sp.org/tlog-proof@v2\nindex 0\n\n{SIGNED}", "first line must be"),
        (f"\n\n{SIGNED}", "first line must be"),
        (f"{RECEIPT_HEADER}\n\n{SIGNED}", "lacks its 'index N'"),
        (f"{RECEIPT_HEADER}\nextra AAAA\n\n{SIGNED}", "lacks its 'index N'"),
        (f"{RECEIPT_HEADER}\n{_HASH}\nindex 0\n\n{SIGNED}", "lacks its 'index N'"),
        (f"{RECEIPT_HEADER}\nindex  0\n\n{SIGNED}", "not a decimal"),
        (f"{RECEIPT_HEADER}\nindex 0x1\n\n{SIGNED}", "not a decimal"),
        (f"{RECEIPT_HEADER}\nindex \n\n{SIGNED}", "not a decimal"),
        (f"{RECEIPT_HEADER}\nindex -1\n\n{SIGNED}", "not a decimal"),
        (f"{RECEIPT_HEADER}\nindex 01\n\n{SIGNED}", "leading zero"),
        (f"{RECEIPT_HEADER}\nindex {2**64 - 1}\n\n{SIGNED}", "beyond any possible tree"),
        (f"{RECEIPT_HEADER}\nindex {'9' * 500}\n\n{SIGNED}", "beyond any possible tree"),
        (f"{RECEIPT_HEADER}\nextra \nindex 0\n\n{SIGNED}", "extra line is empty"),
        (f"{RECEIPT_HEADER}\nextra AAB=\nindex 0\n\n{SIGNED}", "extra data is not canonical"),
        (f"{RECEIPT_HEADER}\nextra *\nindex 0\n\n{SIGNED}", "extra data is not valid"),
        (f"{RECEIPT_HEADER}\nindex 0\n{_HASH} \n\n{SIGNED}", "line 1 is not valid base64"),
        (f"{RECEIPT_HEADER}\nindex 0\n{_HASH}\n\u00e9\n\n{SIGNED}", "line 2 is not valid"),
        (f"{RECEIPT_HEADER}\nindex 0\nAAAA\n\n{SIGNED}", "hash 0 is not 32 bytes"),
        (f"{RECEIPT_HEADER}\nindex 0\n" + f"{_HASH}\n" * 65 + f"\n{SIGNED}", "at most 64"),
        (f"{RECEIPT_HEADER}\nindex 0\n\n", "no checkpoint"),
        (f"{RECEIPT_HEADER}\nindex 0\n\n\n{SIGNED}", "no checkpoint"),
    ],
)
def test_malformed_receipts_rejected(text: str, reason: str) -> None:
    with pytest.raises(ReceiptError, match=reason):
        Receipt.parse(text)
    with pytest.raises(ReceiptError, match=reason):
        verify_receipt(text, b"x", SIGNER.verifier(), ORIGIN)


def test_constructor_checks() -> None:
    with pytest.raises(ReceiptError, match="beyond"):
        Receipt(-1, (), SIGNED)
    with pytest.raises(ReceiptError, match="at most 64"):
        Receipt(0, (bytes(32),) * (MAX_PROOF_HASHES + 1), SIGNED)
    with pytest.raises(ReceiptError, match="not 32 bytes"):
        Receipt(0, (bytes(31),), SIGNED)
    with pytest.raises(ReceiptError, match="must not be empty"):
        Receipt(0, (), SIGNED, b"")
    with pytest.raises(ReceiptError, match="no checkpoint"):
        Receipt(0, (), "")
    assert issubclass(ReceiptError, ValueError)
