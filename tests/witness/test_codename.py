"""Codenames (vault.codename): the witness's only secret."""

from __future__ import annotations

import hashlib

import pytest
from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vault import age
from vault.codename import (
    CODENAME_SALT,
    CodenameError,
    check_codename,
    codename_entropy,
    derive,
    derive_all,
    mailbox_id_for,
    new_codename,
)

ZERO_PHRASE = " ".join(["abandon"] * 11 + ["about"])  # BIP39: 16 zero bytes of entropy
# Version 1 (Argon2id), pinned: replies to addresses made with it must stay readable.
ZERO_MAILBOX_ID_V1 = "b59bcd44912b7e3ed09f373729bfb6ac24a76088f1db298e7aa7bced89de607d"
ZERO_REPLY_SEED_V1 = "f64482cb82c93801e52821b97ac4650190a4bf16252535a54db76d0e1bafafed"
# Version 2 (HKDF-SHA256), pinned: the web page derives the same (tests/web/vectors).
ZERO_MAILBOX_ID = "66f6911d893948cd5f89dc544ead2dfe5115c6114f3eec982d779eca595d2ad2"
# Another valid phrase (standard BIP39 test vector, entropy 7f7f…7f).
OTHER_PHRASE = "legal winner thank year wave sausage worth useful legal winner thank yellow"


def test_new_codename_has_twelve_valid_words_and_varies() -> None:
    first, second = new_codename(), new_codename()
    assert len(first.split(" ")) == 12
    assert check_codename(first) == first
    assert first != second


def test_check_normalises_case_and_whitespace() -> None:
    messy = "  ABANDON abandon\tAbandon\nabandon  abandon abandon abandon abandon abandon "
    messy += "abandon abandon   About\r\n"
    assert check_codename(messy) == ZERO_PHRASE


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "a codename has 12 words; this has 0"),
        ("abandon " * 11, "a codename has 12 words; this has 11"),
        ("abandon " * 13, "a codename has 12 words; this has 13"),
        (
            ZERO_PHRASE.replace("about", "xyz"),
            'word 12 is not in the word list',
        ),
        (
            "abandon abandon abandon abandon abandon abandon abandn abandon abandon abandon "
            "abandon about",
            'word 7 is not in the word list',
        ),
    ],
)
def test_check_explains_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(CodenameError) as caught:
        check_codename(text)
    assert str(caught.value) == message
    expected_code = "word" if "word list" in message else "count"
    assert caught.value.code == expected_code
    assert caught.value.position == (int(message.split()[1]) if expected_code == "word"
                                     else None)


def test_error_never_echoes_any_word_of_the_codename() -> None:
    typo = ZERO_PHRASE.replace("about", "abouy")
    with pytest.raises(CodenameError) as caught:
        check_codename(typo)
    for word in set(typo.split()) | {"about"}:
        assert word not in str(caught.value)


def test_checksum_catches_swapped_and_wrong_words() -> None:
    words = OTHER_PHRASE.split()
    swapped = [*words[:-2], words[-1], words[-2]]
    for text in (" ".join(swapped), ZERO_PHRASE.replace("about", "abandon")):
        with pytest.raises(CodenameError,
                           match="checksum failed: a word is mistyped or out of") as caught:
            check_codename(text)
        assert (caught.value.code, caught.value.position) == ("checksum", None)


def test_codename_error_is_a_value_error() -> None:
    assert issubclass(CodenameError, ValueError)


def test_derivation_is_deterministic_and_pinned() -> None:
    keys = derive(ZERO_PHRASE)
    again = derive(ZERO_PHRASE.upper())
    assert keys.version == again.version == 2
    assert keys.mailbox_id == again.mailbox_id == ZERO_MAILBOX_ID
    assert keys.mailbox_secret == again.mailbox_secret
    assert str(keys.reply_identity) == str(again.reply_identity)


def test_version_1_is_still_derived_as_before() -> None:
    keys = derive(ZERO_PHRASE, 1)
    assert keys.version == 1
    assert keys.mailbox_id == ZERO_MAILBOX_ID_V1
    assert keys.reply_identity.seed.hex() == ZERO_REPLY_SEED_V1


def test_version_2_follows_the_documented_construction() -> None:
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=b"amanat/codename/v2",
               info=b"amanat/codename/v2 reply+mailbox").derive(bytes(16))
    keys = derive(ZERO_PHRASE, 2)
    assert codename_entropy(ZERO_PHRASE) == bytes(16)
    assert keys.reply_identity.seed == okm[:32]
    assert keys.mailbox_secret == okm[32:]
    assert keys.mailbox_id == hashlib.sha256(okm[32:]).hexdigest()


def test_versions_give_unrelated_keys() -> None:
    new, old = derive(OTHER_PHRASE, 2), derive(OTHER_PHRASE, 1)
    assert new.mailbox_secret != old.mailbox_secret
    assert new.reply_identity.seed != old.reply_identity.seed
    assert [k.version for k in derive_all(OTHER_PHRASE)] == [2, 1]
    assert [k.mailbox_id for k in derive_all(OTHER_PHRASE.upper())] == [
        new.mailbox_id, old.mailbox_id]


def test_unknown_version_is_refused() -> None:
    for version in (0, 3):
        with pytest.raises(ValueError, match="unknown codename derivation version"):
            derive(ZERO_PHRASE, version)


def test_version_2_is_much_cheaper_than_version_1() -> None:
    import time

    start = time.perf_counter()
    derive(OTHER_PHRASE, 1)
    old = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(10):
        derive(OTHER_PHRASE, 2)
    new = (time.perf_counter() - start) / 10
    # Version 1's Argon2id (64 MiB) took ~43 s in a browser without JIT; version 2 is
    # hashing plus the identity's key expansion, a few milliseconds.
    assert new * 5 < old


def test_derivation_follows_the_documented_construction() -> None:
    okm = hash_secret_raw(
        secret=bytes(16),  # the entropy ZERO_PHRASE encodes
        salt=b"amanat/codename/v1",
        time_cost=3,
        memory_cost=65536,
        parallelism=4,
        hash_len=64,
        type=Type.ID,
    )
    keys = derive(ZERO_PHRASE, 1)
    assert CODENAME_SALT == b"amanat/codename/v1"
    assert keys.reply_identity.seed == okm[:32]
    assert keys.mailbox_secret == okm[32:]
    assert keys.mailbox_id == hashlib.sha256(okm[32:]).hexdigest() == mailbox_id_for(okm[32:])
    expected = age.MLKEM768X25519Identity.from_seed(okm[:32])
    assert str(keys.reply_identity.recipient()) == str(expected.recipient())


def test_different_codenames_give_unrelated_keys() -> None:
    one, other = derive(ZERO_PHRASE), derive(OTHER_PHRASE)
    assert one.mailbox_secret != other.mailbox_secret
    assert one.mailbox_id != other.mailbox_id
    assert one.reply_identity.seed != other.reply_identity.seed
    assert one.reply_identity.seed != one.mailbox_secret


def test_reply_identity_opens_what_is_sealed_to_its_recipient() -> None:
    keys = derive(OTHER_PHRASE)
    recipient = keys.reply_identity.recipient()
    assert age.is_post_quantum(recipient)
    assert str(recipient).startswith("age1pq1")
    sealed = age.encrypt_bytes(b"we received your testimony", [recipient])
    assert age.decrypt_bytes(sealed, [derive(OTHER_PHRASE).reply_identity]) == (
        b"we received your testimony"
    )


def test_derive_refuses_a_bad_codename_before_any_work() -> None:
    with pytest.raises(CodenameError, match="word 1"):
        derive("notaword " + " ".join(["abandon"] * 11))


def test_repr_never_shows_secrets() -> None:
    keys = derive(ZERO_PHRASE)
    text = repr(keys)
    assert keys.mailbox_secret.hex() not in text
    assert repr(keys.mailbox_secret) not in text
    assert keys.reply_identity.seed.hex() not in text
    assert "AGE-SECRET-KEY" not in text
    assert ZERO_MAILBOX_ID in text
