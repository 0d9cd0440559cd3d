"""Fixed keys, names and dates for the fuzz harnesses and their seeds.

Everything is derived from constant labels, so a harness behaves the same in every run and a
seed signed or sealed once (tests/fuzz/corpus) still verifies or opens later. None of these
keys protects anything.
"""

from __future__ import annotations

import hashlib
from datetime import date
from functools import cache

import nacl.signing

from keys.identity import InvestigatorIdentity
from keys.keyfile import KdfParams
from keys.org import OrgKey
from vault import age
from vault.tlog.cosignature import CosignerSigner, MLDSACosignerSigner
from vault.tlog.note import Signer, Verifier

# The day the harnesses take for "today" (roster expiry, manifest dates).
TODAY = date(2026, 12, 3)
LOG_ORIGIN = "fuzz.example/log"
ORG_ORIGIN = "fuzz.example/org"
# The passphrase of the key files among the seeds, with parameters cheap enough to try on
# every input (a file that asks for more memory or passes is only parsed, never opened).
PASSPHRASE = "fuzz harness passphrase, not a secret"
CHEAP_KDF = KdfParams(memory_kib=64, iterations=1, parallelism=1)
# Scrypt stanzas are opened up to this work factor (the shared vectors use 10 and below).
SCRYPT_PASSPHRASES = (b"password", b"hunter2")
SCRYPT_MAX_WORK_FACTOR = 10

# The identities of the C2SP CCTV age vectors (public test keys, in ../shared/vectors/age):
# with them, mutations of the vectors reach the stanza, MAC and payload checks.
CCTV_IDENTITIES = (
    "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0",
    "AGE-SECRET-KEY-143WN7DCXU4G8R5AXQSSYD9AEPYDNT3HXSLWSPK36CDU6E8M59SSSAGZ3KG",
    "AGE-SECRET-KEY-PQ-143WN7DCXU4G8R5AXQSSYD9AEPYDNT3HXSLWSPK36CDU6E8M59SSS8XZSCQ",
    "AGE-SECRET-KEY-PQ-1HZLGZUPT4ETPKDEV8HSGFDCYZ4E522W0A7PU2LHT8EH9W6YLNC3SW78XKG",
)
# The C2SP signed-note example key (signed-note.md).
EXAMPLE_NOTE_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"


def seed(label: str) -> bytes:
    """32 bytes derived from ``label``."""
    return hashlib.sha256(b"amanat/fuzz/" + label.encode()).digest()


@cache
def pq_identity() -> age.MLKEM768X25519Identity:
    return age.MLKEM768X25519Identity.from_seed(seed("pq identity"))


@cache
def x25519_identity() -> age.X25519Identity:
    return age.X25519Identity(seed("x25519 identity"))


@cache
def age_identities() -> tuple[age.Identity, ...]:
    """Every identity the decrypting harness tries: ours, the vectors', and passphrases."""
    parsed = [age.parse_identity(text) for text in CCTV_IDENTITIES]
    scrypt = [age.ScryptIdentity(p, max_work_factor=SCRYPT_MAX_WORK_FACTOR)
              for p in SCRYPT_PASSPHRASES]
    return (pq_identity(), x25519_identity(), *parsed, *scrypt)


@cache
def log_signer() -> Signer:
    return Signer(LOG_ORIGIN, nacl.signing.SigningKey(seed("log key")))


@cache
def log_verifier() -> Verifier:
    return log_signer().verifier()


@cache
def other_signer() -> Signer:
    """A second key with the log's name: signatures by it must be told apart."""
    return Signer(LOG_ORIGIN, nacl.signing.SigningKey(seed("other log key")))


@cache
def note_verifiers() -> tuple[Verifier, ...]:
    return (log_verifier(), Verifier.from_vkey(EXAMPLE_NOTE_VKEY))


@cache
def org_key() -> OrgKey:
    return OrgKey(ORG_ORIGIN, seed("org key"))


@cache
def investigators() -> tuple[InvestigatorIdentity, ...]:
    return (
        InvestigatorIdentity("Fuzz Reader", seed("reader age"), seed("reader auth")),
        InvestigatorIdentity("ئابدۇرېھىم Admin", seed("admin age"), seed("admin auth")),
    )


@cache
def cosigners() -> tuple[CosignerSigner, MLDSACosignerSigner]:
    """A partner's cosigner keys, Ed25519 and ML-DSA-44, under one name."""
    return (CosignerSigner("fuzz.example/cosigner", nacl.signing.SigningKey(seed("cosigner"))),
            MLDSACosignerSigner("fuzz.example/cosigner", seed("ml-dsa cosigner")))
