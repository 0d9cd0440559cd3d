"""Codenames (vault.codename): the witness's only secret."""

from __future__ import annotations

import hashlib

import pytest
from argon2.low_level import Type, hash_secret_raw

from vault import age
from vault.codename import (
    CODENAME_SALT,
    CodenameError,
    check_codename,
    derive,
    mailbox_id_for,
    new_codename,
)

ZERO_PHRASE = " ".join(["abandon"] * 11 + ["about"])  # BIP39: 16 zero bytes of entropy
ZERO_MAILBOX_ID = "b59bcd44912b7e3ed09f373729bfb6ac24a76088f1db298e7aa7bced89de607d"
ZERO_REPLY_SEED = "f64482cb82c93801e52821b97ac4650190a4bf16252535a54db76d0e1bafafed"
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
        with pytest.raises(CodenameError, match="checksum failed: a word is mistyped or out of"):
            check_codename(text)


def test_codename_error_is_a_value_error() -> None:
    assert issubclass(CodenameError, ValueError)


def test_derivation_is_deterministic_and_pinned() -> None:
    keys = derive(ZERO_PHRASE)
    again = derive(ZERO_PHRASE.upper())
    assert keys.mailbox_id == again.mailbox_id == ZERO_MAILBOX_ID
    assert keys.mailbox_secret == again.mailbox_secret
    assert keys.reply_identity.seed.hex() == ZERO_REPLY_SEED
    assert str(keys.reply_identity) == str(again.reply_identity)


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
    keys = derive(ZERO_PHRASE)
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
    assert ZERO_REPLY_SEED not in text
    assert "AGE-SECRET-KEY" not in text
    assert ZERO_MAILBOX_ID in text
