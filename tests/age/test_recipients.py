"""Recipient types: spec examples, key encodings, stanza validation, scrypt limits."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey

from vault import age
from vault.age import bech32, pq, scrypt, x25519
from vault.age.format import Stanza, b64encode

# Examples from C2SP age.md.
SPEC_PQ_IDENTITY = "AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFR"
SPEC_PQ_RECIPIENT_START = "age1pq1x34nzsvr0rxjsgdn8zgyhfe8j7ceq5r9rdelkjuh3y235jzxshfg87pzf5zrqtz"
SPEC_PQ_RECIPIENT_END = "zk3tlhl53k2ykx3qheyty7saeq0d3fzv49zc0k"
SPEC_X25519_IDENTITY = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
SPEC_X25519_RECIPIENT = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"
FILE_KEY = bytes(range(16))


def test_spec_pq_example() -> None:
    identity = age.MLKEM768X25519Identity.parse(SPEC_PQ_IDENTITY)
    recipient = str(identity.recipient())
    assert len(recipient) == 1959
    assert recipient.startswith(SPEC_PQ_RECIPIENT_START)
    assert recipient.endswith(SPEC_PQ_RECIPIENT_END)
    assert str(identity) == SPEC_PQ_IDENTITY
    assert age.MLKEM768X25519Recipient.parse(recipient) == identity.recipient()


def test_pq_key_expansion() -> None:
    seed = bytes(range(32))
    identity = age.MLKEM768X25519Identity.from_seed(seed)
    expanded = hashlib.shake_256(seed).digest(96)
    mlkem = MLKEM768PrivateKey.from_seed_bytes(expanded[:64]).public_key().public_bytes_raw()
    public = identity.recipient().public_bytes
    assert public[:1184] == mlkem
    assert len(public) == 1216
    assert identity.seed == seed


def test_spec_x25519_example() -> None:
    identity = age.X25519Identity.parse(SPEC_X25519_IDENTITY)
    assert str(identity.recipient()) == SPEC_X25519_RECIPIENT
    assert str(identity) == SPEC_X25519_IDENTITY
    assert age.X25519Identity.from_bytes(bech32.decode(SPEC_X25519_IDENTITY)[1]).recipient() == (
        age.X25519Recipient.parse(SPEC_X25519_RECIPIENT)
    )


@pytest.mark.parametrize("kind", ["pq", "x25519"])
def test_wrap_unwrap(kind: str) -> None:
    identity: age.MLKEM768X25519Identity | age.X25519Identity = (
        age.MLKEM768X25519Identity.generate() if kind == "pq" else age.X25519Identity.generate()
    )
    other = type(identity).generate()
    stanzas = identity.recipient().wrap(FILE_KEY)
    assert len(stanzas) == 1 and len(stanzas[0].body) == 32
    assert identity.unwrap(stanzas) == FILE_KEY
    assert other.unwrap(stanzas) is None
    assert identity.unwrap([Stanza("grease", ("x",), b"")]) is None
    assert identity.unwrap([Stanza("grease", (), b""), *stanzas]) == FILE_KEY


def test_pq_stanza_shape() -> None:
    stanza = age.MLKEM768X25519Identity.generate().recipient().wrap(FILE_KEY)[0]
    assert stanza.type == "mlkem768x25519"
    assert len(stanza.args) == 1 and len(stanza.args[0]) == 1494  # base64 of 1120 bytes
    assert len(stanza.encode()) == 1557


def test_reprs_do_not_reveal_secrets() -> None:
    for identity in (age.MLKEM768X25519Identity.generate(), age.X25519Identity.generate()):
        assert str(identity) not in repr(identity)
        assert "Identity(recipient=" in repr(identity)
        assert repr(identity.recipient()).startswith(type(identity.recipient()).__name__)
    assert "passphrase" not in repr(age.ScryptIdentity(b"secret"))
    assert "secret" not in repr(age.ScryptRecipient(b"secret", 2))


def test_recipients_compare_by_key() -> None:
    a, b = age.X25519Identity.generate(), age.MLKEM768X25519Identity.generate()
    assert a.recipient() == a.recipient() and hash(a.recipient()) == hash(a.recipient())
    assert b.recipient() == b.recipient() and hash(b.recipient()) == hash(b.recipient())
    assert a.recipient() != b.recipient()
    assert b.recipient() != a.recipient()
    assert len({a.recipient(), a.recipient(), b.recipient()}) == 2


def _stanza_variants(kind: str) -> list[tuple[Stanza, str]]:
    if kind == "X25519":
        good_arg, body = b64encode(bytes(range(1, 33))), bytes(32)
    else:
        good_arg, body = b64encode(bytes(1120)), bytes(32)
    return [
        (Stanza(kind, (), body), "number of arguments"),
        (Stanza(kind, (good_arg, "x"), body), "number of arguments"),
        (Stanza(kind, (good_arg + "=",), body), "canonical"),
        (Stanza(kind, (b64encode(bytes(31)),), body), "wrong length"),
        (Stanza(kind, (good_arg,), bytes(33)), "body has the wrong length"),
    ]


@pytest.mark.parametrize(
    ("identity", "stanza", "message"),
    [(x25519_id, s, m) for x25519_id in ["x25519"] for s, m in _stanza_variants("X25519")]
    + [(pq_id, s, m) for pq_id in ["pq"] for s, m in _stanza_variants("mlkem768x25519")],
)
def test_malformed_stanzas_are_header_errors(identity: str, stanza: Stanza, message: str) -> None:
    ident: age.Identity = (
        age.X25519Identity.generate()
        if identity == "x25519"
        else age.MLKEM768X25519Identity.generate()
    )
    with pytest.raises(age.HeaderError, match=message):
        ident.unwrap([stanza])


@pytest.mark.parametrize("kind", ["pq", "x25519"])
def test_low_order_share_is_a_header_error(kind: str) -> None:
    if kind == "pq":
        stanza = Stanza(pq.STANZA_TYPE, (b64encode(bytes(1120)),), bytes(32))
        identity: age.Identity = age.MLKEM768X25519Identity.generate()
    else:
        stanza = Stanza(x25519.STANZA_TYPE, (b64encode(bytes(32)),), bytes(32))
        identity = age.X25519Identity.generate()
    with pytest.raises(age.HeaderError, match="low-order"):
        identity.unwrap([stanza])


@pytest.mark.parametrize(
    ("cls", "text", "message"),
    [
        (age.X25519Recipient, "age1qqqq", "malformed"),
        (age.X25519Recipient, bech32.encode("age2", bytes(32)), "not an X25519 recipient"),
        (age.X25519Recipient, bech32.encode("age", bytes(31)), "wrong length"),
        (age.X25519Identity, "AGE-SECRET-KEY-1QQQQ", "malformed"),
        (age.X25519Identity, bech32.encode("AGE-SECRET-KEY-PQ-", bytes(32)), "not an X25519"),
        (age.X25519Identity, bech32.encode("AGE-SECRET-KEY-", bytes(33)), "wrong length"),
        (age.MLKEM768X25519Recipient, "age1pq1qqqq", "malformed"),
        (age.MLKEM768X25519Recipient, bech32.encode("age", bytes(1216)), "not an mlkem"),
        (age.MLKEM768X25519Recipient, bech32.encode("age1pq", bytes(100)), "1216 bytes"),
        (age.MLKEM768X25519Recipient, bech32.encode("age1pq", b"\xff" * 1216), "ML-KEM"),
        (age.MLKEM768X25519Identity, "AGE-SECRET-KEY-PQ-1QQQQ", "malformed"),
        (age.MLKEM768X25519Identity, bech32.encode("AGE-SECRET-KEY-", bytes(32)), "not an"),
        (age.MLKEM768X25519Identity, bech32.encode("AGE-SECRET-KEY-PQ-", bytes(31)), "length"),
    ],
)
def test_parse_errors(cls: type, text: str, message: str) -> None:
    with pytest.raises(age.KeyFormatError, match=message):
        cls.parse(text)


def test_raw_constructors_check_lengths() -> None:
    with pytest.raises(age.KeyFormatError):
        age.X25519Identity(bytes(31))
    with pytest.raises(age.KeyFormatError):
        age.X25519Recipient(bytes(33))
    with pytest.raises(age.KeyFormatError):
        age.MLKEM768X25519Identity.from_seed(bytes(33))
    with pytest.raises(age.KeyFormatError):
        age.MLKEM768X25519Recipient.from_public_bytes(bytes(1215))


def test_identity_errors_never_contain_the_key() -> None:
    secret = str(age.X25519Identity.generate())
    damaged = secret[:-1] + ("Q" if secret[-1] != "Q" else "P")
    with pytest.raises(age.KeyFormatError) as info:
        age.parse_identity(damaged)
    assert damaged[16:40] not in str(info.value)


# scrypt: work factor 2 keeps these tests fast.


def test_scrypt_round_trip() -> None:
    sealed = age.encrypt_bytes(b"secret", [age.ScryptRecipient(b"pass", work_factor=2)])
    assert age.decrypt_bytes(sealed, [age.ScryptIdentity(b"pass")]) == b"secret"
    with pytest.raises(age.NoMatchError):
        age.decrypt_bytes(sealed, [age.ScryptIdentity(b"wrong")])


def test_scrypt_work_factor_cap() -> None:
    stanzas = age.ScryptRecipient(b"pass", work_factor=3).wrap(FILE_KEY)
    assert age.ScryptIdentity(b"pass", max_work_factor=3).unwrap(stanzas) == FILE_KEY
    with pytest.raises(age.HeaderError, match="above the limit"):
        age.ScryptIdentity(b"pass", max_work_factor=2).unwrap(stanzas)


def test_scrypt_passphrase_is_asked_only_when_needed() -> None:
    asked: list[int] = []

    def ask() -> bytes:
        asked.append(1)
        return b"pass"

    identity = age.ScryptIdentity(ask, max_work_factor=3)
    assert identity.unwrap([Stanza("other", (), b"")]) is None
    with pytest.raises(age.HeaderError, match="above the limit"):
        identity.unwrap(age.ScryptRecipient(b"pass", work_factor=4).wrap(FILE_KEY))
    assert asked == []
    stanzas = age.ScryptRecipient(b"pass", work_factor=3).wrap(FILE_KEY)
    assert identity.unwrap(stanzas) == FILE_KEY
    assert identity.unwrap(stanzas) == FILE_KEY
    assert asked == [1]  # asked once, then remembered


def test_scrypt_must_be_alone() -> None:
    stanzas = age.ScryptRecipient(b"pass", work_factor=2).wrap(FILE_KEY)
    with pytest.raises(age.HeaderError, match="only stanza"):
        age.ScryptIdentity(b"pass").unwrap([*stanzas, Stanza("other", (), b"")])
    assert age.ScryptIdentity(b"pass").unwrap([Stanza("other", (), b"")]) is None
    with pytest.raises(age.RecipientError, match="only recipient"):
        age.encrypt_bytes(b"x", [age.ScryptRecipient(b"pass", 2), age.ScryptRecipient(b"p", 2)])


@pytest.mark.parametrize(
    ("args", "body", "message"),
    [
        (("AAAAAAAAAAAAAAAAAAAAAA",), bytes(32), "number of arguments"),
        (("AAAAAAAAAAAAAAAAAAAAAA=", "10"), bytes(32), "salt is not canonical"),
        (("AAAAAAAAAAAAAAAAAAAA", "10"), bytes(32), "salt has the wrong length"),
        (("AAAAAAAAAAAAAAAAAAAAAA", "010"), bytes(32), "work factor"),
        (("AAAAAAAAAAAAAAAAAAAAAA", "100"), bytes(32), "work factor"),
        (("AAAAAAAAAAAAAAAAAAAAAA", "10"), bytes(48), "body"),
    ],
)
def test_scrypt_stanza_validation(args: tuple[str, ...], body: bytes, message: str) -> None:
    with pytest.raises(age.HeaderError, match=message):
        scrypt.check_stanza(Stanza("scrypt", args, body))


def test_scrypt_recipient_arguments() -> None:
    with pytest.raises(ValueError, match="empty"):
        age.ScryptRecipient(b"")
    with pytest.raises(ValueError, match="work factor"):
        age.ScryptRecipient(b"x", work_factor=0)
    with pytest.raises(ValueError, match="work factor"):
        age.ScryptRecipient(b"x", work_factor=31)


def test_public_bytes() -> None:
    identity = age.X25519Identity.generate()
    recipient = identity.recipient()
    assert age.X25519Recipient(recipient.public_bytes) == recipient
    assert bech32.decode(str(recipient)) == ("age", recipient.public_bytes)
