"""Identity and org key files: round trips, every damaged file refused, secrets never shown."""

from __future__ import annotations

import base64

import nacl.signing
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa

from keys.errors import InvalidNameError, KeyFileError, UnlockError
from keys.identity import (
    CLASSICAL_IDENTITY_KIND,
    IDENTITY_KIND,
    InvestigatorIdentity,
    is_identity_file,
)
from keys.keyfile import key_file_params, seal_key_file
from keys.org import ORG_KEY_KIND, OrgKey
from tests.keys.conftest import CHEAP_KDF
from vault import age
from vault.tlog import note

PASSPHRASE = "тау бұлақ 2024"
NAME = "Гүлнара Исмаилова"


@pytest.fixture(scope="module")
def identity() -> InvestigatorIdentity:
    return InvestigatorIdentity.generate(NAME)


@pytest.fixture(scope="module")
def identity_file(identity: InvestigatorIdentity) -> bytes:
    return identity.seal(PASSPHRASE, CHEAP_KDF)


def test_identity_round_trip(identity: InvestigatorIdentity, identity_file: bytes) -> None:
    opened = InvestigatorIdentity.unseal(identity_file, PASSPHRASE)
    assert opened.name == NAME
    assert opened.key_id == identity.key_id
    assert opened.card() == identity.card()
    assert opened.export_age() == identity.export_age()
    assert bytes(opened.auth_signing_key()) == bytes(identity.auth_signing_key())
    assert is_identity_file(identity_file)
    assert key_file_params(identity_file, IDENTITY_KIND) == CHEAP_KDF


def test_identity_keys_work(identity: InvestigatorIdentity) -> None:
    card = identity.card()
    sealed = age.encrypt_bytes(b"testimony", [age.parse_recipient(card.recipient)])
    assert age.decrypt_bytes(sealed, [identity.age_identity()]) == b"testimony"
    exported = age.parse_identity(identity.export_age())
    assert identity.export_age().startswith("AGE-SECRET-KEY-PQ-1")
    assert age.decrypt_bytes(sealed, [exported]) == b"testimony"
    signed = identity.auth_signing_key().sign(b"challenge")
    assert nacl.signing.VerifyKey(card.auth_key).verify(signed) == b"challenge"
    assert card.is_post_quantum()


def test_two_identities_differ() -> None:
    first, second = InvestigatorIdentity.generate("A"), InvestigatorIdentity.generate("A")
    assert first.key_id != second.key_id


def _secret_strings(identity: InvestigatorIdentity) -> list[str]:
    age_seed = identity._age_seed
    auth_seed = identity._auth_seed
    mldsa_seed = identity._mldsa_seed or b""
    return [
        mldsa_seed.hex(),
        base64.b64encode(mldsa_seed).decode(),
        repr(mldsa_seed),
        identity.export_age(),
        identity.export_age()[20:60],
        age_seed.hex(),
        auth_seed.hex(),
        base64.b64encode(age_seed).decode(),
        base64.b64encode(auth_seed).decode(),
        repr(age_seed),
        repr(auth_seed),
    ]


def test_repr_hides_secrets(identity: InvestigatorIdentity) -> None:
    shown = repr(identity) + str(identity)
    assert identity.key_id in shown
    for secret in _secret_strings(identity):
        assert secret not in shown


def test_wrong_passphrase(identity_file: bytes) -> None:
    with pytest.raises(UnlockError, match="wrong passphrase"):
        InvestigatorIdentity.unseal(identity_file, PASSPHRASE + " ")


def test_every_flipped_byte_of_an_identity_file_is_refused(identity_file: bytes) -> None:
    for index in range(len(identity_file)):
        damaged = bytearray(identity_file)
        damaged[index] ^= 0x01
        with pytest.raises(KeyFileError) as caught:
            InvestigatorIdentity.unseal(bytes(damaged), PASSPHRASE)
        assert PASSPHRASE not in str(caught.value)


def test_every_truncation_of_an_identity_file_is_refused(identity_file: bytes) -> None:
    for length in range(len(identity_file)):
        with pytest.raises(KeyFileError):
            InvestigatorIdentity.unseal(identity_file[:length], PASSPHRASE)


def test_org_key_file_is_not_an_identity(identity_file: bytes) -> None:
    org_file = OrgKey.generate("example.org/amanat").seal(PASSPHRASE, CHEAP_KDF)
    with pytest.raises(KeyFileError, match="wrong kind"):
        InvestigatorIdentity.unseal(org_file, PASSPHRASE)
    with pytest.raises(KeyFileError, match="wrong kind"):
        OrgKey.unseal(identity_file, PASSPHRASE)
    assert not is_identity_file(org_file)


@pytest.mark.parametrize(
    ("kind", "plaintext", "error", "match"),
    [
        (IDENTITY_KIND, b"\1" * 96, KeyFileError, "no name"),
        (IDENTITY_KIND, b"\1" * 96 + b"\xff", KeyFileError, "not UTF-8"),
        (IDENTITY_KIND, b"\1" * 96 + b" padded ", InvalidNameError, "space"),
        (CLASSICAL_IDENTITY_KIND, b"\1" * 64, KeyFileError, "no name"),
        (CLASSICAL_IDENTITY_KIND, b"\1" * 64 + b"\xff", KeyFileError, "not UTF-8"),
    ],
)
def test_identity_plaintext_from_another_program(
    kind: str, plaintext: bytes, error: type[Exception], match: str
) -> None:
    data = seal_key_file(kind, plaintext, PASSPHRASE, CHEAP_KDF)
    with pytest.raises(error, match=match):
        InvestigatorIdentity.unseal(data, PASSPHRASE)


def test_identity_constructor_checks() -> None:
    with pytest.raises(InvalidNameError):
        InvestigatorIdentity.generate("")
    with pytest.raises(KeyFileError, match="32 bytes"):
        InvestigatorIdentity("A", b"\0" * 31, b"\0" * 32)
    with pytest.raises(KeyFileError, match="32 bytes"):
        InvestigatorIdentity("A", b"\0" * 32, b"\0" * 33)
    with pytest.raises(KeyFileError, match="32 bytes"):
        InvestigatorIdentity("A", b"\0" * 32, b"\0" * 32, b"")


def test_a_new_identity_is_hybrid_and_signs_logins_with_both_keys(
        identity: InvestigatorIdentity, identity_file: bytes) -> None:
    assert identity.is_hybrid and identity.card().is_hybrid
    assert identity_file.startswith(IDENTITY_KIND.encode() + b"\n")
    classical, post_quantum = identity.sign_login(b"login message")
    card = identity.card()
    nacl.signing.VerifyKey(card.auth_key).verify(b"login message", classical)
    assert card.auth_pq is not None and post_quantum is not None and len(post_quantum) == 2420
    mldsa.MLDSA44PublicKey.from_public_bytes(card.auth_pq).verify(post_quantum, b"login message")
    with pytest.raises(InvalidSignature):  # bound to the message
        mldsa.MLDSA44PublicKey.from_public_bytes(card.auth_pq).verify(post_quantum, b"other")
    assert identity.sign_login(b"login message")[1] != post_quantum  # hedged


def test_a_classical_identity_opens_upgrades_and_keeps_its_age_recipient() -> None:
    """An identity file from before ML-DSA-44 auth keys (v1) still opens; the upgrade adds an
    ML-DSA-44 key, keeps the age identity (testimony sealed to it still opens) and the
    Ed25519 key, and changes the key id."""
    classical = InvestigatorIdentity(NAME, b"\x11" * 32, b"\x22" * 32)
    data = classical.seal(PASSPHRASE, CHEAP_KDF)
    assert data.startswith(CLASSICAL_IDENTITY_KIND.encode() + b"\n") and is_identity_file(data)
    opened = InvestigatorIdentity.unseal(data, PASSPHRASE)
    assert not opened.is_hybrid and opened.key_id == classical.key_id
    assert opened.auth_mldsa_key() is None and opened.sign_login(b"m")[1] is None
    assert opened.card().format().startswith("amanat.card/v1\n")
    old_testimony = age.encrypt_bytes(b"sealed before the upgrade",
                                      [age.parse_recipient(opened.card().recipient)])

    upgraded = opened.with_post_quantum_half()
    again = InvestigatorIdentity.unseal(upgraded.seal(PASSPHRASE, CHEAP_KDF), PASSPHRASE)
    assert again.is_hybrid and again.key_id == upgraded.key_id != classical.key_id
    assert again.card().recipient == classical.card().recipient
    assert again.card().auth_key == classical.card().auth_key
    assert again.card().format().startswith("amanat.card/v2\n")
    assert age.decrypt_bytes(old_testimony, [again.age_identity()]) == b"sealed before the upgrade"
    with pytest.raises(KeyFileError, match="already has"):
        again.with_post_quantum_half()
    # Two upgrades of one classical identity get different ML-DSA-44 keys.
    assert opened.with_post_quantum_half().key_id != upgraded.key_id


# --- organization key ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def org() -> OrgKey:
    return OrgKey.generate("example.org/amanat")


@pytest.fixture(scope="module")
def org_file(org: OrgKey) -> bytes:
    return org.seal(PASSPHRASE, CHEAP_KDF)


def test_org_round_trip(org: OrgKey, org_file: bytes) -> None:
    opened = OrgKey.unseal(org_file, PASSPHRASE)
    assert opened.origin == "example.org/amanat"
    assert opened.vkey() == org.vkey()
    verifier = note.HybridVerifier.from_vkey(org.vkey())
    assert verifier.name == "example.org/amanat" and verifier.is_hybrid
    signed = note.sign_note("hello\n", *opened.signers())
    assert verifier.open(signed).text == "hello\n"


def test_classical_org_key_file_still_opens_and_can_be_made_hybrid() -> None:
    from keys.org import CLASSICAL_ORG_KEY_KIND

    classical = OrgKey("example.org/old", b"\7" * 32)
    data = classical.seal(PASSPHRASE, CHEAP_KDF)
    assert data.startswith(CLASSICAL_ORG_KEY_KIND.encode() + b"\n")
    opened = OrgKey.unseal(data, PASSPHRASE)
    assert not opened.is_hybrid and opened.vkey() == classical.signer().vkey()
    upgraded = opened.with_post_quantum_half()
    assert upgraded.is_hybrid and upgraded.signer().vkey() == classical.signer().vkey()
    again = OrgKey.unseal(upgraded.seal(PASSPHRASE, CHEAP_KDF), PASSPHRASE)
    assert again.vkey() == upgraded.vkey() and again.vkey().startswith(classical.vkey() + " ")
    with pytest.raises(KeyFileError, match="already has"):
        upgraded.with_post_quantum_half()


def test_org_repr_hides_the_seed(org: OrgKey) -> None:
    shown = repr(org)
    assert org.origin in shown and "hybrid=True" in shown
    assert org._seed.hex() not in shown
    assert base64.b64encode(org._seed).decode() not in shown
    assert org.signer().private_key_string() not in shown


def test_every_flipped_byte_of_an_org_key_file_is_refused(org_file: bytes) -> None:
    for index in range(len(org_file)):
        damaged = bytearray(org_file)
        damaged[index] ^= 0x80
        with pytest.raises(KeyFileError):
            OrgKey.unseal(bytes(damaged), PASSPHRASE)


def test_org_wrong_passphrase(org_file: bytes) -> None:
    with pytest.raises(UnlockError):
        OrgKey.unseal(org_file, "nope")


def test_org_checks() -> None:
    with pytest.raises(InvalidNameError, match="spaces"):
        OrgKey.generate("has space")
    with pytest.raises(KeyFileError, match="32 bytes"):
        OrgKey("example.org", b"\0" * 16)
    data = seal_key_file(ORG_KEY_KIND, b"\1" * 64 + "é".encode(), PASSPHRASE, CHEAP_KDF)
    with pytest.raises(KeyFileError, match="not ASCII"):
        OrgKey.unseal(data, PASSPHRASE)
