"""C2SP tlog-cosignature (cosignature/v1, Ed25519): key ids, vkeys, signature lines, the
signed message, and vectors signed by cosigners nobody here runs."""

from __future__ import annotations

import base64
import hashlib
import struct
from pathlib import Path

import nacl.signing
import pytest

from vault.tlog.checkpoint import Checkpoint, sign_checkpoint
from vault.tlog.cosignature import (
    ALG_MLDSA44,
    MAX_TIMESTAMP,
    Cosignature,
    CosignatureError,
    CosignerSigner,
    CosignerVerifier,
    MLDSACosignerSigner,
    cosign,
    cosignatures_in_note,
    mldsa_signed_message,
    signed_message,
    verify,
)
from vault.tlog.merkle import leaf_hash
from vault.tlog.note import NoteError, Signer, open_note

# c2sp.org/tlog-cosignature, "Ed25519 signed message" and the example at the top of the spec
# (C2SP/C2SP tlog-cosignature.md). The spec publishes no key for witness.example.com/w1, so
# what can be checked is the framing: key id, the timestamp of the message example, length.
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_MESSAGE = "cosignature/v1\ntime 1679315147\n" + SPEC_BODY
SPEC_LINE = ("\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5"
             "OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==")

# A checkpoint of the public log arche2025h1.staging.ct.transparency.dev cosigned by four
# public witnesses run by others (copied from a public Python test suite of C2SP checkpoints).
# The vkeys are the witnesses' published keys: remora.n621.de's is the native 0x04 key in
# transparency-dev/formats note/note_cosigv1_test.go (TestCoSigV1NewVerifier); the others
# are as listed by the witnesses' operators (transparency.dev/witnesses and their pages).
REAL_BODY = ("arche2025h1.staging.ct.transparency.dev\n1432088532\n"
             "U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n")
REAL_LOG_LINE = ("\u2014 arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQ"
                 "Qabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=\n")
REAL_LOG_VKEY = ("arche2025h1.staging.ct.transparency.dev+ba2f06c0+"
                 "AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f")
REAL_COSIGNATURES = {
    "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2":
        "\u2014 remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZ"
        "I+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==\n",
    "transparency.dev/DEV:witness-little-garden+d8042a87+"
    "BCtusOxINQNUTN5Oj8HObRkh2yHf/MwYaGX4CPdiVEPM":
        "\u2014 transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6U"
        "P8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==\n",
    "witness1.smartit.nu/witness1+a48c820f+BPSFWg9G6KPiO7QPryYO5Xq4oYJJ+kAvLKLSimDhoxMO":
        "\u2014 witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8"
        "eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==\n",
    "witness.stagemole.eu+67f7aea0+BEqSG3yu9YrmcM3BHvQYTxwFj3uSWakQepafafpUqklv":
        "\u2014 witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8Ft"
        "EyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==\n",
}
REAL_TIME = 1779573024

BODY = Checkpoint("amanat.example/log", 5, leaf_hash(b"root")).format()


def _signer(name: str = "cosigner.example/a", seed: bytes = b"\x01" * 32) -> CosignerSigner:
    return CosignerSigner(name, nacl.signing.SigningKey(seed))


def test_spec_example_line_frames_the_spec_message_time() -> None:
    cosignature = Cosignature.parse_line(SPEC_LINE)
    assert cosignature.name == "witness.example.com/w1"
    assert cosignature.key_id == bytes.fromhex("8d66cf3f")
    assert cosignature.timestamp == 1679315147
    assert cosignature.line() == SPEC_LINE + "\n"  # one encoding: it round-trips exactly
    assert signed_message(SPEC_BODY, cosignature.timestamp) == SPEC_MESSAGE.encode()


@pytest.mark.parametrize("vkey", sorted(REAL_COSIGNATURES))
def test_real_witnesses_cosignatures_verify(vkey: str) -> None:
    verifier = CosignerVerifier.from_vkey(vkey)
    assert verifier.vkey() == vkey
    cosignature = verify(REAL_BODY, REAL_COSIGNATURES[vkey], verifier)
    assert cosignature.timestamp == REAL_TIME
    with pytest.raises(CosignatureError, match="does not verify"):
        verify(REAL_BODY.replace("1432088532", "1432088533"), REAL_COSIGNATURES[vkey], verifier)


def test_real_note_cosignatures_found_beside_the_log_signature() -> None:
    note = REAL_BODY + "\n" + REAL_LOG_LINE + "".join(REAL_COSIGNATURES.values())
    verifiers = [CosignerVerifier.from_vkey(v) for v in sorted(REAL_COSIGNATURES)]
    found = cosignatures_in_note(note, verifiers)
    assert sorted(c.name for c in found) == sorted(v.name for v in verifiers)
    assert cosignatures_in_note(note.encode(), verifiers[:1])[0].name == verifiers[0].name
    # The log's signature (type 0x01) still opens with the ordinary note verifier, and the
    # cosignatures are ignored there as signatures of unknown keys.
    from vault.tlog.note import Verifier

    opened = open_note(note, [Verifier.from_vkey(REAL_LOG_VKEY)])
    assert opened.text == REAL_BODY and len(opened.unverified) == 4


def test_round_trip_and_key_id_of_type_4() -> None:
    signer = _signer()
    expected_id = hashlib.sha256(b"cosigner.example/a\n\x04" + signer.public_key).digest()[:4]
    assert signer.key_id == expected_id
    vkey = signer.vkey()
    assert vkey.split("+")[2].startswith("B")  # base64 of 0x04 ...
    verifier = CosignerVerifier.from_vkey(vkey)
    assert verifier == signer.verifier() and hash(verifier) == hash(signer.verifier())
    assert verifier != object() and "cosigner.example/a" in repr(verifier)
    assert "cosigner.example/a" in repr(signer) and "seed" not in repr(signer)
    line = cosign(BODY, signer, 1_700_000_000)
    assert verify(BODY, line, verifier).timestamp == 1_700_000_000
    assert verify(BODY.encode(), line, verifier).signature == Cosignature.parse_line(line).signature
    # What is signed is exactly the spec's message, checked with plain Ed25519.
    raw = base64.b64decode(line.split(" ")[2])
    nacl.signing.VerifyKey(signer.public_key).verify(
        b"cosignature/v1\ntime 1700000000\n" + BODY.encode(), raw[12:])
    assert struct.unpack(">Q", raw[4:12]) == (1_700_000_000,)


def test_generated_signer_and_extension_lines_are_signed() -> None:
    signer = CosignerSigner.generate("cosigner.example/b")
    body = Checkpoint("amanat.example/log", 5, leaf_hash(b"x"), ("ext one",)).format()
    line = cosign(body, signer, 0)
    verify(body, line, signer.verifier())
    with pytest.raises(CosignatureError, match="does not verify"):
        verify(body.replace("ext one", "ext two"), line, signer.verifier())


def test_a_flipped_byte_anywhere_is_refused() -> None:
    signer = _signer()
    line = cosign(BODY, signer, 1_700_000_000)
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    for position in range(len(raw)):
        flipped = bytearray(raw)
        flipped[position] ^= 0x01
        bad = f"\u2014 cosigner.example/a {base64.b64encode(bytes(flipped)).decode()}\n"
        with pytest.raises(CosignatureError):
            verify(BODY, bad, signer.verifier())


def test_refuses_another_cosigners_line_and_a_log_signature_key() -> None:
    line = cosign(BODY, _signer(), 1)
    other = _signer("cosigner.example/b")
    with pytest.raises(CosignatureError, match=r"not by cosigner\.example/b"):
        verify(BODY, line, other.verifier())
    assert not other.verifier().verify(BODY, Cosignature.parse_line(line))
    # The same Ed25519 key as a signed-note (0x01) vkey is not a cosigner key.
    log_vkey = Signer("cosigner.example/a", nacl.signing.SigningKey(b"\x01" * 32)).vkey()
    with pytest.raises(CosignatureError, match="type 0x04"):
        CosignerVerifier.from_vkey(log_vkey)


@pytest.mark.parametrize("vkey, message", [
    ("no-plus", "form name"),
    ("bad name+00000000+BAAA", "invalid key name"),
    ("a+0000000+BAAA", "8 lowercase"),
    ("a+00000000+not base64!", "base64"),
    ("a+00000000+" + base64.b64encode(b"\x04" + b"\x00" * 31).decode(), "type 0x04"),
    ("a+00000000+" + base64.b64encode(b"\x04" + b"\x00" * 32).decode(), "does not match"),
])
def test_malformed_vkeys(vkey: str, message: str) -> None:
    with pytest.raises(CosignatureError, match=message):
        CosignerVerifier.from_vkey(vkey)


def _blob_line(blob: bytes, name: str = "c.example") -> str:
    return f"\u2014 {name} {base64.b64encode(blob).decode()}"


@pytest.mark.parametrize("line, message", [
    ("\u2014 a b\nc", "one line"),
    ("- a AAAA", "em dash"),
    ("\u2014 nameonly", "key name, a space"),
    ("\u2014 bad\x01name AAAA", "key name, a space"),
    ("\u2014 a AAA", "base64"),
    ("\u2014 a QUJ=", "canonical"),  # not canonical: "J" leaves bits set
    (_blob_line(b"\x00" * 75), "76 or 2432 bytes"),
    (_blob_line(b"\x00" * 77), "76 or 2432 bytes"),
    (_blob_line(b"\x00" * 4 + b"\x80" + b"\x00" * 71), "2\\^63"),
])
def test_malformed_lines(line: str, message: str) -> None:
    with pytest.raises(CosignatureError, match=message):
        Cosignature.parse_line(line)


def test_cosignature_fields_are_checked() -> None:
    with pytest.raises(NoteError):
        Cosignature("bad name", b"\x00" * 4, 0, b"\x00" * 64)
    with pytest.raises(CosignatureError, match="key id"):
        Cosignature("a", b"\x00" * 3, 0, b"\x00" * 64)
    with pytest.raises(CosignatureError, match="2\\^63"):
        Cosignature("a", b"\x00" * 4, -1, b"\x00" * 64)
    with pytest.raises(CosignatureError, match="64 bytes"):
        Cosignature("a", b"\x00" * 4, 0, b"\x00" * 63)
    assert Cosignature("a", b"\x00" * 4, MAX_TIMESTAMP, b"\x00" * 64).timestamp == MAX_TIMESTAMP
    with pytest.raises(CosignatureError, match="32 bytes"):
        CosignerVerifier("a", b"\x00" * 31)


@pytest.mark.parametrize("body, message", [
    (b"\xff\n1\nAAAA\n", "not UTF-8"),
    ("example\n5\n", "not a checkpoint body"),
    ("example\n5\n" + base64.b64encode(b"\x00" * 32).decode() + "\n\ud800\n", "not valid Unicode"),
])
def test_only_checkpoint_bodies_are_cosigned(body: str | bytes, message: str) -> None:
    with pytest.raises(CosignatureError, match=message):
        _signer().sign(body, 1)
    with pytest.raises(CosignatureError, match="2\\^63"):
        signed_message(BODY, MAX_TIMESTAMP + 1)


def test_note_cosignatures_skip_others_and_refuse_forgeries() -> None:
    log = Signer.generate("amanat.example/log")
    a, b = _signer("c.example/a", b"\x02" * 32), _signer("c.example/b", b"\x03" * 32)
    note = sign_checkpoint(Checkpoint.parse(BODY), log)
    unrelated = _signer("c.example/a", b"\x04" * 32)  # same name, another key
    note += cosign(BODY, unrelated, 5)
    note += f"\u2014 c.example/a {base64.b64encode(b'x' * 68).decode()}\n"  # not a cosignature
    note += cosign(BODY, a, 7) + cosign(BODY, a, 8)  # a second one by a is ignored
    found = cosignatures_in_note(note, [a.verifier(), b.verifier()])
    assert [(c.name, c.timestamp) for c in found] == [("c.example/a", 7)]
    forged = note.replace(BODY.split("\n")[1], "6", 1)  # the body changes under the lines
    with pytest.raises(CosignatureError, match=r"c\.example/a does not verify"):
        cosignatures_in_note(forged, [a.verifier()])
    with pytest.raises(CosignatureError, match="not UTF-8"):
        cosignatures_in_note(b"\xff", [a.verifier()])
    with pytest.raises(CosignatureError, match="not a signed note"):
        cosignatures_in_note(BODY, [a.verifier()])


def test_the_independent_verifier_agrees_on_the_real_witnesses() -> None:
    from tests.cosigner import independent

    for vkey, line in REAL_COSIGNATURES.items():
        assert independent.verify_cosignature(REAL_BODY, line, vkey) == REAL_TIME
        ours = cosign(BODY, _signer(), 77)
        assert independent.verify_cosignature(BODY, ours, _signer().vkey()) == 77
        with pytest.raises(ValueError, match="not a line by this cosigner"):
            independent.verify_cosignature(REAL_BODY, line, _signer().vkey())


# --- ML-DSA-44 (type 0x06, subtree/v1) ---

MLDSA_VECTOR = Path(__file__).parent / "vectors" / "mldsa44-cosignature.txt"


def _mldsa_vector() -> tuple[str, str, str]:
    """(vkey, checkpoint body, cosignature line) of the real witness's ML-DSA-44 vector."""
    lines = [line for line in MLDSA_VECTOR.read_text().split("\n") if not line.startswith("#")]
    vkey, note = lines[0], "\n".join(lines[1:])
    body, _, signatures = note.partition("\n\n")
    return vkey, body + "\n", signatures


def test_real_witness_mldsa44_cosignature_verifies() -> None:
    from tests.cosigner import independent

    vkey, body, line = _mldsa_vector()
    assert independent.verify_mldsa_cosignature(body, line, vkey) == 1785704691
    verifier = CosignerVerifier.from_vkey(vkey)
    assert verifier.alg == ALG_MLDSA44 and verifier.vkey() == vkey
    cosignature = verify(body, line, verifier)
    assert cosignature.alg == ALG_MLDSA44 and cosignature.timestamp == 1785704691
    assert cosignature.line() == line  # one encoding
    with pytest.raises(CosignatureError, match="does not verify"):
        verify(body.replace("185550722", "185550723"), line, verifier)
    assert cosignatures_in_note(body + "\n" + line, [verifier]) == [cosignature]


def test_mldsa44_round_trip_and_message() -> None:
    signer = MLDSACosignerSigner("cosigner.example/a", b"\x05" * 32)
    assert "cosigner.example/a" in repr(signer) and "seed" not in repr(signer)
    assert signer.key_id == hashlib.sha256(
        b"cosigner.example/a\n\x06" + signer.public_key).digest()[:4]
    verifier = CosignerVerifier.from_vkey(signer.vkey())
    assert verifier == signer.verifier() and "0x06" in repr(verifier)
    line = cosign(BODY, signer, 9)
    assert len(base64.b64decode(line.split(" ")[2])) == 2432
    assert verify(BODY, line, verifier).timestamp == 9
    checkpoint = Checkpoint.parse(BODY)
    assert mldsa_signed_message("cosigner.example/a", BODY, 9) == (
        b"subtree/v1\n\x00" + bytes([18]) + b"cosigner.example/a" + struct.pack(">Q", 9)
        + bytes([18]) + b"amanat.example/log" + struct.pack(">QQ", 0, 5)
        + checkpoint.root_hash)
    # Extension lines are not part of the ML-DSA-44 message (spec), unlike Ed25519's.
    extended = Checkpoint("amanat.example/log", 5, checkpoint.root_hash, ("ext",)).format()
    verify(extended, line, verifier)
    # Both types under one name are two keys: each verifies only its own line.
    ed = _signer("cosigner.example/a")
    ed_line = cosign(BODY, ed, 9)
    with pytest.raises(CosignatureError, match="not by"):
        verify(BODY, ed_line, verifier)
    found = cosignatures_in_note(sign_checkpoint(checkpoint, Signer.generate("l")) + ed_line
                                 + line, [verifier, ed.verifier()])
    assert sorted(c.alg for c in found) == [0x04, 0x06]


def test_mldsa44_refusals() -> None:
    signer = MLDSACosignerSigner("c", b"\x05" * 32)
    verifier = signer.verifier()
    assert verifier != CosignerVerifier("c", b"\x00" * 32)
    # A signature of the other type's length under this key id is not this key's.
    wrong_type = Cosignature("c", verifier.key_id, 1, b"\x00" * 64)
    assert not verifier.verify(BODY, wrong_type)
    forged = Cosignature("c", verifier.key_id, 1, b"\x00" * 2420)
    assert not verifier.verify(BODY, forged)
    with pytest.raises(CosignatureError, match="seed is 32 bytes"):
        MLDSACosignerSigner("c", b"\x00" * 31)
    with pytest.raises(CosignatureError, match="unknown cosigner key type 0x05"):
        CosignerVerifier("c", b"\x00" * 32, 0x05)
    with pytest.raises(CosignatureError, match="1312 bytes"):
        CosignerVerifier("c", b"\x00" * 32, ALG_MLDSA44)
    with pytest.raises(CosignatureError, match="type 0x06"):
        CosignerVerifier.from_vkey("c+00000000+" + base64.b64encode(b"\x06" * 33).decode())
    with pytest.raises(CosignatureError, match="type 0x06"):
        CosignerVerifier.from_vkey("c+00000000+")
    long_origin = Checkpoint("o" * 256, 5, leaf_hash(b"x")).format()
    with pytest.raises(CosignatureError, match="log origin of 1 to 255"):
        signer.sign(long_origin, 1)
    with pytest.raises(CosignatureError, match="cosigner name of 1 to 255"):
        MLDSACosignerSigner("n" * 256, b"\x05" * 32).sign(BODY, 1)
