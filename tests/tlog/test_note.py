"""C2SP signed notes: the spec example, round trips, and every way a note must be refused."""

from __future__ import annotations

import base64

import nacl.signing
import pytest

from vault.tlog import note
from vault.tlog.note import (
    InvalidSignatureError,
    NoteError,
    Signer,
    UnverifiedNoteError,
    Verifier,
    open_note,
    sign_note,
)

SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_TEXT = "This is an example message.\n"
SPEC_SIG_LINE = (
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3"
    "mFXmRKuwHjG1Yu72IneyaQM=\n"
)
SPEC_NOTE = SPEC_TEXT + "\n" + SPEC_SIG_LINE


def fixed_signer(name: str, seed_byte: int) -> Signer:
    return Signer(name, nacl.signing.SigningKey(bytes([seed_byte]) * 32))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- the spec example -------------------------------------------------------------------


def test_spec_example_verifies() -> None:
    verifier = Verifier.from_vkey(SPEC_VKEY)
    assert verifier.name == "example.com/foo"
    assert verifier.key_id == bytes.fromhex("530d903a")
    assert verifier.vkey() == SPEC_VKEY
    opened = open_note(SPEC_NOTE, [verifier])
    assert opened.text == SPEC_TEXT
    assert len(opened.verified) == 1
    assert opened.verified[0].name == "example.com/foo"
    assert opened.verified[0].key_id == verifier.key_id
    assert opened.verified[0].line() == SPEC_SIG_LINE
    assert opened.unverified == ()


def test_spec_example_as_bytes() -> None:
    opened = open_note(SPEC_NOTE.encode(), [Verifier.from_vkey(SPEC_VKEY)])
    assert opened.text == SPEC_TEXT


def test_spec_example_altered_text_is_forgery() -> None:
    with pytest.raises(InvalidSignatureError, match="altered or forged"):
        open_note(
            SPEC_NOTE.replace("example message", "example massage"), [Verifier.from_vkey(SPEC_VKEY)]
        )


def test_key_id_formula() -> None:
    verifier = Verifier.from_vkey(SPEC_VKEY)
    assert note.key_id(verifier.name, 0x01, verifier.public_key) == verifier.key_id
    assert note.key_id(verifier.name, 0x04, verifier.public_key) != verifier.key_id


# --- round trips --------------------------------------------------------------------------


def test_sign_and_open_round_trip() -> None:
    signer = fixed_signer("log.example/a", 1)
    text = "line one\n\nline three after a blank line\n"
    signed = sign_note(text, signer)
    opened = open_note(signed, [signer.verifier()])
    assert opened.text == text
    assert [s.name for s in opened.verified] == ["log.example/a"]
    assert signer.verifier().verify(text.encode(), opened.verified[0].signature)


def test_multiple_signers_and_partial_trust() -> None:
    a, b = fixed_signer("a.example", 1), fixed_signer("b.example", 2)
    signed = sign_note("hello\n", a, b)
    opened = open_note(signed, [b.verifier()])
    assert [s.name for s in opened.verified] == ["b.example"]
    assert [s.name for s in opened.unverified] == ["a.example"]


def test_signer_private_key_round_trip() -> None:
    signer = Signer.generate("roster.example/org")
    again = Signer.from_private_key_string(signer.private_key_string())
    assert again.vkey() == signer.vkey()
    assert again.key_id == signer.key_id
    assert again.sign(b"x") == signer.sign(b"x")
    assert "roster.example/org" in repr(signer)
    assert signer.private_key_string() not in repr(signer)


def test_vkey_with_plus_in_base64() -> None:
    # Find a key whose base64 contains '+', which must not confuse the name+id+key split.
    for seed in range(256):
        signer = fixed_signer("k.example", seed)
        if "+" in signer.vkey().split("+", 2)[2]:
            break
    else:  # pragma: no cover - practically impossible
        pytest.fail("no key with '+' in its base64 found")
    assert Verifier.from_vkey(signer.vkey()) == signer.verifier()
    for seed in range(256):
        signer = fixed_signer("k.example", seed)
        if "+" in signer.private_key_string().split("+", 4)[4]:
            break
    else:  # pragma: no cover
        pytest.fail("no private key with '+' in its base64 found")
    assert Signer.from_private_key_string(signer.private_key_string()).vkey() == signer.vkey()


def test_verifier_equality_and_hash() -> None:
    v1 = Verifier.from_vkey(SPEC_VKEY)
    v2 = Verifier.from_vkey(SPEC_VKEY)
    assert v1 == v2 and hash(v1) == hash(v2)
    assert v1 != fixed_signer("example.com/foo", 1).verifier()
    assert v1 != "not a verifier"
    assert SPEC_VKEY in repr(v1)


def test_verify_rejects_wrong_length_signature() -> None:
    v = fixed_signer("a.example", 1).verifier()
    assert not v.verify(b"x", b"\x00" * 63)
    assert not v.verify(b"x", b"\x00" * 64)


# --- rejections: signatures -----------------------------------------------------------------


def test_forged_signature_rejected() -> None:
    signer = fixed_signer("a.example", 1)
    signed = sign_note("msg\n", signer)
    raw = bytearray(base64.b64decode(signed.split(" ")[-1]))
    raw[10] ^= 1
    forged = signed.rsplit(" ", 1)[0] + " " + b64(bytes(raw)) + "\n"
    with pytest.raises(InvalidSignatureError):
        open_note(forged, [signer.verifier()])


def test_forgery_rejected_even_with_another_valid_signature() -> None:
    a, b = fixed_signer("a.example", 1), fixed_signer("b.example", 2)
    good = sign_note("msg\n", a)
    other = sign_note("different\n", b).split("\n\n")[1]  # b's signature over other text
    with pytest.raises(InvalidSignatureError):
        open_note(good + other, [a.verifier(), b.verifier()])


def test_signature_by_other_key_is_unverified() -> None:
    signer, other = fixed_signer("a.example", 1), fixed_signer("b.example", 2)
    signed = sign_note("msg\n", signer)
    with pytest.raises(UnverifiedNoteError, match=r"b\.example") as info:
        open_note(signed, [other.verifier()])
    assert not isinstance(info.value, InvalidSignatureError)


def test_no_verifiers_is_unverified() -> None:
    with pytest.raises(UnverifiedNoteError, match="none given"):
        open_note(SPEC_NOTE, [])


def test_same_name_other_key_is_ignored() -> None:
    # Same name, different key, hence different key id: an unknown key, not a forgery.
    real, impostor = fixed_signer("a.example", 1), fixed_signer("a.example", 2)
    signed = sign_note("msg\n", impostor, real)
    opened = open_note(signed, [real.verifier()])
    assert [s.key_id for s in opened.verified] == [real.key_id]
    assert [s.key_id for s in opened.unverified] == [impostor.key_id]


def test_same_id_other_name_is_ignored() -> None:
    real = fixed_signer("a.example", 1)
    sig = base64.b64encode(real.key_id + b"\x00" * 64).decode()
    signed = sign_note("msg\n", real) + f"\u2014 b.example {sig}\n"
    opened = open_note(signed, [real.verifier()])
    assert [s.name for s in opened.unverified] == ["b.example"]


def test_unknown_duplicate_signatures_collapse() -> None:
    a, b = fixed_signer("a.example", 1), fixed_signer("b.example", 2)
    signed = sign_note("msg\n", a, b)
    sig_b = signed.split("\n")[-2] + "\n"
    opened = open_note(signed + sig_b, [a.verifier()])
    assert len(opened.unverified) == 1


def test_repeated_signature_by_known_key_checked_once() -> None:
    a = fixed_signer("a.example", 1)
    signed = sign_note("msg\n", a)
    opened = open_note(signed + signed.split("\n\n")[1], [a.verifier()])
    assert len(opened.verified) == 1


def test_ambiguous_verifiers_rejected() -> None:
    v = Verifier.from_vkey(SPEC_VKEY)
    twin = object.__new__(Verifier)
    twin.name, twin.key_id, twin.public_key = v.name, v.key_id, bytes(32)
    with pytest.raises(NoteError, match="share the name"):
        open_note(SPEC_NOTE, [v, twin])
    # The same key twice is fine.
    assert open_note(SPEC_NOTE, [v, Verifier.from_vkey(SPEC_VKEY)]).text == SPEC_TEXT


# --- rejections: malformed notes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (SPEC_TEXT + SPEC_SIG_LINE, "no blank line"),
        (SPEC_NOTE[:-1], "lacks a newline"),
        (SPEC_TEXT + "\n", "no signature lines"),
        (SPEC_TEXT + "\n" + SPEC_SIG_LINE.replace("\u2014", "-"), "em dash"),
        (SPEC_TEXT + "\n" + SPEC_SIG_LINE.replace("\u2014 ", "\u2014"), "em dash"),
        (SPEC_TEXT + "\n\u2014 example.com/foo\n", "lacks a signature"),
        (SPEC_TEXT + "\n\u2014 example.com/foo \n", "lacks a signature"),
        (SPEC_TEXT + "\n\u2014  Uw2QOkn8\n", "invalid key name"),
        (SPEC_TEXT + "\n\u2014 a+b Uw2QOkn8\n", "invalid key name"),
        (SPEC_TEXT + "\n\u2014 a.example Uw2Q*kn8\n", "not valid base64"),
        (SPEC_TEXT + "\n\u2014 a.example Uw2QOkn\n", "not valid base64"),
        (SPEC_TEXT + "\n\u2014 a.example Uw2QOkl=\n", "not canonical"),
        (SPEC_TEXT + "\n\u2014 a.example \u00e9w2QOkn8\n", "not valid base64"),
        (SPEC_TEXT + "\n\u2014 a.example " + b64(b"1234") + "\n", "too short"),
        (SPEC_TEXT + "\n" + SPEC_SIG_LINE + "\n", "no signature lines"),
        (SPEC_TEXT + "\n" + SPEC_SIG_LINE.replace("foo ", "foo  "), "not valid base64"),
        ("tab\there\n\n" + SPEC_SIG_LINE, "control character U\\+0009"),
        ("cr\r\n\n" + SPEC_SIG_LINE, "control character U\\+000D"),
        ("nul\x00\n\n" + SPEC_SIG_LINE, "control character U\\+0000"),
    ],
)
def test_malformed_notes_rejected(text: str, reason: str) -> None:
    with pytest.raises(NoteError, match=reason) as info:
        open_note(text, [Verifier.from_vkey(SPEC_VKEY)])
    assert not isinstance(info.value, UnverifiedNoteError)


def test_invalid_utf8_rejected() -> None:
    with pytest.raises(NoteError, match="UTF-8"):
        open_note(b"caf\xe9\n\n" + SPEC_SIG_LINE.encode(), [Verifier.from_vkey(SPEC_VKEY)])


def test_lone_surrogate_rejected() -> None:
    with pytest.raises(NoteError, match="Unicode"):
        open_note("\ud800\n\n" + SPEC_SIG_LINE, [Verifier.from_vkey(SPEC_VKEY)])


def test_blank_line_in_signature_block_splits_at_last() -> None:
    # Everything before the last blank line is text; the earlier signature line is text too.
    v = Verifier.from_vkey(SPEC_VKEY)
    with pytest.raises(InvalidSignatureError):
        open_note(SPEC_TEXT + "\n" + SPEC_SIG_LINE + "\n" + SPEC_SIG_LINE, [v])


def test_signature_count_limits() -> None:
    signers = [fixed_signer(f"s{i}.example", i) for i in range(note.MAX_SIGNATURES)]
    text = "many signatures\n"
    signed = sign_note(text, *signers)
    # At least 16 (here 100) signatures are accepted, all verified.
    opened = open_note(signed, [s.verifier() for s in signers])
    assert len(opened.verified) == note.MAX_SIGNATURES
    # One more line is refused, before any verification work.
    extra = sign_note(text, fixed_signer("extra.example", 200)).split("\n\n")[1]
    with pytest.raises(NoteError, match="at most 100"):
        open_note(signed + extra, [signers[0].verifier()])
    with pytest.raises(NoteError, match="at most 100"):
        sign_note(text, *signers, fixed_signer("extra.example", 200))


# --- rejections: signing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("no newline", "end with a newline"),
        ("bell\x07\n", "control character"),
        ("\ud800\n", "Unicode"),
    ],
)
def test_sign_rejects_bad_text(text: str, reason: str) -> None:
    with pytest.raises(NoteError, match=reason):
        sign_note(text, fixed_signer("a.example", 1))


def test_sign_needs_a_signer() -> None:
    with pytest.raises(NoteError, match="at least one signer"):
        sign_note("x\n")


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\u00a0b", "a\tb", "a\x7fb", "a\nb"])
def test_invalid_key_names_rejected(name: str) -> None:
    with pytest.raises(NoteError, match="invalid key name"):
        Signer(name, nacl.signing.SigningKey(bytes(32)))
    with pytest.raises(NoteError, match="invalid key name"):
        Verifier(name, bytes(32))


# --- rejections: verifier keys ------------------------------------------------------------------

_SPEC_KEY_B64 = SPEC_VKEY.split("+", 2)[2]
_SPEC_PUB = base64.b64decode(_SPEC_KEY_B64)[1:]


@pytest.mark.parametrize(
    ("vkey", "reason"),
    [
        ("example.com/foo", "form name\\+hexid"),
        ("example.com/foo+530d903a", "form name\\+hexid"),
        ("+530d903a+" + _SPEC_KEY_B64, "invalid key name"),
        ("example com+530d903a+" + _SPEC_KEY_B64, "invalid key name"),
        ("example.com/foo+530D903A+" + _SPEC_KEY_B64, "8 lowercase hexadecimal"),
        ("example.com/foo+530d903+" + _SPEC_KEY_B64, "8 lowercase hexadecimal"),
        ("example.com/foo+530d903az+" + _SPEC_KEY_B64, "8 lowercase hexadecimal"),
        ("example.com/foo+530d903g+" + _SPEC_KEY_B64, "8 lowercase hexadecimal"),
        ("example.com/foo+530d903b+" + _SPEC_KEY_B64, "does not match"),
        ("example.com/bar+530d903a+" + _SPEC_KEY_B64, "does not match"),
        ("example.com/foo+530d903a+" + _SPEC_KEY_B64[:-1], "not valid base64"),
        (
            "example.com/foo+530d903a+" + b64(b"\x01" + _SPEC_PUB + b"\0")[:-3] + "B==",
            "not canonical",
        ),
        ("example.com/foo+530d903a+", "not an Ed25519 key"),
        ("example.com/foo+530d903a+" + b64(b"\x04" + _SPEC_PUB), "not an Ed25519 key"),
        ("example.com/foo+530d903a+" + b64(b"\x01" + _SPEC_PUB[:31]), "not an Ed25519 key"),
        ("example.com/foo+530d903a+" + b64(b"\x01" + _SPEC_PUB + b"\0"), "not an Ed25519 key"),
    ],
)
def test_bad_vkeys_rejected(vkey: str, reason: str) -> None:
    with pytest.raises(NoteError, match=reason):
        Verifier.from_vkey(vkey)


def test_fuzz_finding_key_name_with_lone_surrogates_is_a_note_error() -> None:
    """Fuzzing (tests/fuzz note_keys) found that a key name holding lone surrogates (what
    Python makes of undecodable bytes in argv, e.g. a mangled --org) passed the name check
    and raised UnicodeEncodeError from the key id instead of NoteError."""
    name = "fuzz.exam\udcff\udcfflog"
    with pytest.raises(NoteError, match="invalid key name"):
        Verifier.from_vkey(f"{name}+fc03564a+{_SPEC_KEY_B64}")
    with pytest.raises(NoteError, match="invalid key name"):
        Verifier(name, _SPEC_PUB)
    with pytest.raises(NoteError, match="invalid key name"):
        Signer(name, nacl.signing.SigningKey(bytes(32)))


def test_verifier_public_key_length() -> None:
    with pytest.raises(NoteError, match="32 bytes"):
        Verifier("a.example", bytes(31))


# --- rejections: private keys ---------------------------------------------------------------------


def _private(name: str, id_hex: str, payload: bytes) -> str:
    return f"PRIVATE+KEY+{name}+{id_hex}+{b64(payload)}"


def test_bad_private_keys_rejected_without_leaking() -> None:
    signer = fixed_signer("a.example", 7)
    good = signer.private_key_string()
    seed_b64 = good.split("+", 4)[4]
    cases = [
        ("KEY+PRIVATE+" + good[len("PRIVATE+KEY+") :], "starts with"),
        ("PRIVATE+KEY+a.example+" + signer.key_id.hex(), "form PRIVATE"),
        (good.replace("a.example", "a b"), "invalid key name"),
        (good.replace(signer.key_id.hex(), "zzzzzzzz"), "8 lowercase hexadecimal"),
        (good[:-1] + "*", "not valid base64"),
        (good[:-1] + "\u00e9", "not valid base64"),
        (_private("a.example", signer.key_id.hex(), b"\x02" + bytes(32)), "not an Ed25519"),
        (_private("a.example", signer.key_id.hex(), b"\x01" + bytes(31)), "not an Ed25519"),
        (good.replace(signer.key_id.hex(), "00000000"), "does not match"),
        (good.replace("a.example", "b.example"), "does not match"),
    ]
    for text, reason in cases:
        with pytest.raises(NoteError, match=reason) as info:
            Signer.from_private_key_string(text)
        assert seed_b64 not in str(info.value)


# --- ML-DSA-44 halves and hybrid keys ---------------------------------------------------

HYBRID_NAME = "example.org/hybrid"


def fixed_mldsa(name: str, seed_byte: int) -> note.MLDSASigner:
    return note.MLDSASigner(name, bytes([seed_byte]) * 32)


def test_mldsa_vkey_round_trip_and_key_id() -> None:
    signer = fixed_mldsa(HYBRID_NAME, 7)
    vkey = signer.vkey()
    raw = base64.b64decode(vkey.split("+", 2)[2])
    assert raw.startswith(b"\xffamanat/ml-dsa-44") and len(raw) == 17 + 1312
    parsed = note.MLDSAVerifier.from_vkey(vkey)
    assert parsed == signer.verifier() and hash(parsed) == hash(signer.verifier())
    assert parsed.key_id == note.key_id(HYBRID_NAME, note.MLDSA44_TYPE, signer.public_key)
    assert note.parse_vkey(vkey) == parsed
    assert "seed" not in repr(signer) and signer.key_id.hex() in repr(parsed)
    assert parsed != fixed_signer(HYBRID_NAME, 7).verifier()


def test_same_name_keys_of_two_types_never_share_an_id() -> None:
    ed = fixed_signer(HYBRID_NAME, 7)
    assert note.parse_vkey(ed.vkey()) == ed.verifier()
    assert ed.key_id != fixed_mldsa(HYBRID_NAME, 7).key_id


def test_mldsa_vkey_refusals() -> None:
    good = fixed_mldsa(HYBRID_NAME, 7).vkey()
    name, id_hex, key_b64 = good.split("+", 2)
    with pytest.raises(note.KeyIdMismatchError):
        note.MLDSAVerifier.from_vkey(f"{name}x+{id_hex}+{key_b64}")
    with pytest.raises(NoteError, match="not an ML-DSA-44 key"):
        note.MLDSAVerifier.from_vkey(fixed_signer(name, 7).vkey())
    short = base64.b64encode(base64.b64decode(key_b64)[:-1]).decode()
    with pytest.raises(NoteError, match="not an ML-DSA-44 key"):
        note.MLDSAVerifier.from_vkey(f"{name}+{id_hex}+{short}")
    with pytest.raises(NoteError, match="1312 bytes"):
        note.MLDSAVerifier(name, b"\x00" * 32)
    with pytest.raises(NoteError, match="seed is 32 bytes"):
        note.MLDSASigner(name, b"\x00" * 31)
    with pytest.raises(NoteError, match="not an Ed25519 key"):
        Verifier.from_vkey(good)


def test_hybrid_public_form() -> None:
    ed, pq = fixed_signer(HYBRID_NAME, 1), fixed_mldsa(HYBRID_NAME, 2)
    classical = note.HybridVerifier.from_vkey(ed.vkey())
    assert (classical.classical, classical.post_quantum, classical.is_hybrid) == (
        ed.verifier(), None, False)
    assert classical.verifiers() == [ed.verifier()] and classical.vkey() == ed.vkey()
    pair = f"{ed.vkey()} {pq.vkey()}"
    hybrid = note.HybridVerifier.from_vkey(pair)
    assert hybrid.is_hybrid and hybrid.name == HYBRID_NAME and hybrid.vkey() == pair
    assert hybrid == note.HybridVerifier(ed.verifier(), pq.verifier()) != classical
    assert hash(hybrid) == hash(note.HybridVerifier.from_vkey(pair))
    assert hybrid != ed.verifier() and "hybrid=True" in repr(hybrid)
    with pytest.raises(NoteError, match="separated by one space"):
        note.HybridVerifier.from_vkey(f"{pair} {pq.vkey()}")
    with pytest.raises(NoteError, match="different names"):
        note.HybridVerifier.from_vkey(f"{ed.vkey()} {fixed_mldsa('example.org/other', 2).vkey()}")
    with pytest.raises(NoteError, match="not an Ed25519 key"):
        note.HybridVerifier.from_vkey(f"{pq.vkey()} {ed.vkey()}")
    with pytest.raises(NoteError):
        note.HybridVerifier.from_vkey(f"{ed.vkey()}  {pq.vkey()}")
    signed = sign_note("hi\n", ed, pq)
    assert hybrid.open(signed).text == "hi\n"
    with pytest.raises(note.MissingSignatureError):
        hybrid.open(sign_note("hi\n", ed))


def test_hybrid_note_needs_both_halves_under_require_all() -> None:
    ed, pq = fixed_signer(HYBRID_NAME, 1), fixed_mldsa(HYBRID_NAME, 2)
    both = [ed.verifier(), pq.verifier()]
    signed = sign_note("hello\n", ed, pq)
    assert len(signed.splitlines()) == 4
    opened = open_note(signed, both, require_all=True)
    assert {s.key_id for s in opened.verified} == {ed.key_id, pq.key_id}
    with pytest.raises(note.MissingSignatureError, match="ML-DSA-44 signature"):
        open_note(sign_note("hello\n", ed), both, require_all=True)
    with pytest.raises(note.MissingSignatureError, match="Ed25519 signature"):
        open_note(sign_note("hello\n", pq), both, require_all=True)
    # Without require_all one trusted signature is enough (the classical policy's rule).
    assert open_note(sign_note("hello\n", ed), both).text == "hello\n"


def test_forged_mldsa_half_rejects_the_note() -> None:
    ed, pq = fixed_signer(HYBRID_NAME, 1), fixed_mldsa(HYBRID_NAME, 2)
    signed = sign_note("hello\n", ed, pq)
    other = sign_note("hullo\n", pq).splitlines()[-1]
    forged = "\n".join([*signed.splitlines()[:-1], other]) + "\n"
    with pytest.raises(InvalidSignatureError, match="does not verify"):
        open_note(forged, [ed.verifier(), pq.verifier()])
    assert not pq.verifier().verify(b"hello\n", b"\x00" * 64)


def test_hybrid_signer_private_form_round_trip_and_upgrade() -> None:
    ed = fixed_signer(HYBRID_NAME, 1)
    classical = note.HybridSigner.of(ed)
    assert classical.signers() == (ed,) and classical.vkey() == ed.vkey()
    assert note.HybridSigner.of(classical) is classical
    assert note.HybridSigner.from_private_key_string(ed.private_key_string()).vkey() == ed.vkey()
    hybrid = classical.with_post_quantum_half()
    assert hybrid.name == HYBRID_NAME and hybrid.verifier().is_hybrid
    assert hybrid.vkey().startswith(ed.vkey() + " ") and "hybrid=True" in repr(hybrid)
    text = hybrid.private_key_string()
    assert len(text.split("\n")) == 2
    again = note.HybridSigner.from_private_key_string(text)
    assert again.vkey() == hybrid.vkey()
    assert again.verifier().open(sign_note("x\n", *again.signers())).text == "x\n"
    assert note.HybridSigner.generate(HYBRID_NAME).verifier().is_hybrid
    with pytest.raises(NoteError, match="already has"):
        hybrid.with_post_quantum_half()
    with pytest.raises(NoteError, match="at most two"):
        note.HybridSigner.from_private_key_string(f"{text}\n{text}")
    with pytest.raises(NoteError, match="not an ML-DSA-44 key"):
        note.HybridSigner.from_private_key_string(f"{ed.private_key_string()}\n"
                                                  f"{ed.private_key_string()}")
    pq_line = text.split("\n")[1]
    name, _, rest = pq_line[len("PRIVATE+KEY+"):].split("+", 2)
    with pytest.raises(NoteError, match="does not match"):
        note.HybridSigner.from_private_key_string(
            f"{ed.private_key_string()}\nPRIVATE+KEY+{name}+00000000+{rest}")
    with pytest.raises(NoteError, match="different names"):
        note.HybridSigner(ed, fixed_mldsa("example.org/other", 2))
