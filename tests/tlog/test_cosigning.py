"""The k-of-n cosigning policy (vault.tlog.cosigning) and the roster lines that name it
(keys.roster): a checkpoint counts as cosigned only with both cosignatures (Ed25519 and
ML-DSA-44) of at least k named cosigners; a forged line refuses it; the grammar has one
spelling."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from keys.cosigner import CosignerKey
from keys.errors import RosterFormatError
from keys.org import OrgKey
from keys.roster import Roster, parse_roster, sign_roster, utc_today, verify_roster
from vault.tlog.checkpoint import Checkpoint, sign_checkpoint
from vault.tlog.cosignature import CosignatureError
from vault.tlog.cosigning import (
    MAX_COSIGNERS,
    Cosigner,
    CosigningPolicy,
    NotCosignedError,
    url_problem,
)
from vault.tlog.merkle import leaf_hash
from vault.tlog.note import Signer

ORIGIN = "org.example/amanat"
LOG = Signer.generate("org.example/log")
KEYS = [CosignerKey(f"c{n}.example/cosigner", bytes([n + 1]) * 32, bytes([n + 9]) * 32)
        for n in range(3)]
CHECKPOINT = sign_checkpoint(Checkpoint("org.example/log", 7, leaf_hash(b"seven")), LOG)


def _cosigner(number: int, url: str = "") -> Cosigner:
    return Cosigner.from_vkeys(*KEYS[number].vkeys(),
                               url or f"https://c{number}.example/amanat")


def _policy(quorum: int = 2) -> CosigningPolicy:
    return CosigningPolicy(quorum, tuple(_cosigner(n) for n in range(3)))


def _cosign(note: str, *numbers: int, mldsa: bool = True, at: int = 1_700_000_000) -> str:
    body = note[: note.rfind("\n\n") + 1]
    for number in numbers:
        signers = KEYS[number].signers() if mldsa else (KEYS[number].signer(),)
        note += "".join(signer.sign(body, at + number).line() for signer in signers)
    return note


def test_k_of_n_counts_cosigners_with_both_keys() -> None:
    policy = _policy()
    assert policy.cosigned_by(CHECKPOINT) == []
    assert not policy.is_cosigned(_cosign(CHECKPOINT, 0))
    with pytest.raises(NotCosignedError,
                       match=r"^not yet cosigned: 1 of 2 required; fetch again later$"):
        policy.check(_cosign(CHECKPOINT, 0))
    both = _cosign(CHECKPOINT, 2, 0)
    assert policy.check(both) == ["c0.example/cosigner", "c2.example/cosigner"]
    assert policy.is_cosigned(both)
    # An Ed25519 cosignature alone does not count: both keys must have cosigned.
    assert policy.cosigned_by(_cosign(CHECKPOINT, 0, 1, mldsa=False)) == []
    # The same cosigner twice is one cosigner.
    assert policy.cosigned_by(_cosign(_cosign(CHECKPOINT, 0), 0)) == ["c0.example/cosigner"]


def test_cosigned_as_of_is_the_kth_newest_cosigners_time() -> None:
    """k cosigners vouch for a checkpoint as of the k-th newest of their times; a cosigner's
    time is the earlier of its two cosignatures'."""
    three = _cosign(CHECKPOINT, 0, 1, 2)  # times 1_700_000_000 + 0, + 1, + 2
    assert _policy(1).cosigned_as_of(three) == 1_700_000_002
    assert _policy(2).cosigned_as_of(three) == 1_700_000_001
    assert _policy(3).cosigned_as_of(three) == 1_700_000_000
    body = CHECKPOINT[: CHECKPOINT.rfind("\n\n") + 1]
    ed25519, mldsa = KEYS[2].signers()
    split = CHECKPOINT + ed25519.sign(body, 1_800_000_000).line() + mldsa.sign(
        body, 1_600_000_000).line()
    assert _policy(1).cosigned_as_of(split) == 1_600_000_000
    with pytest.raises(NotCosignedError, match="1 of 2 required"):
        _policy(2).cosigned_as_of(_cosign(CHECKPOINT, 1))


def test_a_forged_cosignature_refuses_the_checkpoint() -> None:
    cosigned = _cosign(CHECKPOINT, 0, 1)
    lines = cosigned.split("\n")
    blob = bytearray(base64.b64decode(lines[-2].split(" ")[2]))
    blob[-1] ^= 1
    lines[-2] = " ".join([*lines[-2].split(" ")[:2], base64.b64encode(bytes(blob)).decode()])
    forged = "\n".join(lines)
    assert not _policy().is_cosigned(forged)
    with pytest.raises(CosignatureError, match="does not verify"):
        _policy().check(forged)


def test_a_cosignature_of_another_checkpoint_does_not_count() -> None:
    other = sign_checkpoint(Checkpoint("org.example/log", 8, leaf_hash(b"eight")), LOG)
    borrowed = CHECKPOINT + _cosign(other, 0, 1)[len(other):]
    assert not _policy().is_cosigned(borrowed)


@pytest.mark.parametrize("url", [
    "https://c.example", "http://127.0.0.1:8080", "http://[::1]:9000/a/b",
    "http://abcdefghijklmnop.onion/cosigner",
])
def test_addresses_in_their_one_spelling(url: str) -> None:
    assert url_problem(url) is None
    assert _cosigner(0, url).url == url


@pytest.mark.parametrize("url", [
    "ftp://c.example", "https://C.example", "https://c.example/", "https://c.example?x=1",
    "https://user@c.example", "https://c.example:0", "https://c.example:080",
    "https://c.example/" + "a" * 200, "c.example", "https://c.example/a b",
])
def test_other_addresses_are_refused(url: str) -> None:
    assert url_problem(url) is not None
    with pytest.raises(CosignatureError, match="cosigner address"):
        _cosigner(0, url)


def test_a_cosigner_has_two_keys_under_one_name() -> None:
    ed25519, mldsa44 = KEYS[0].vkeys()
    with pytest.raises(CosignatureError, match=r"Ed25519 key .* then an ML-DSA-44"):
        Cosigner.from_vkeys(mldsa44, ed25519, "https://c.example")
    with pytest.raises(CosignatureError, match="one name"):
        Cosigner.from_vkeys(ed25519, KEYS[1].vkeys()[1], "https://c.example")
    assert _cosigner(0).name == "c0.example/cosigner"


def test_policy_bounds() -> None:
    one = _cosigner(0)
    with pytest.raises(CosignatureError, match="1 to 16 cosigners"):
        CosigningPolicy(1, ())
    many = tuple(Cosigner.from_vkeys(*CosignerKey(f"c{n}.example", b"\1" * 32, b"\2" * 32)
                                     .vkeys(), "https://c.example")
                 for n in range(MAX_COSIGNERS + 1))
    with pytest.raises(CosignatureError, match="1 to 16 cosigners"):
        CosigningPolicy(1, many)
    for quorum in (0, 2):
        with pytest.raises(CosignatureError, match="quorum must be between 1 and"):
            CosigningPolicy(quorum, (one,))
    with pytest.raises(CosignatureError, match="same name"):
        CosigningPolicy(1, (one, _cosigner(0, "https://elsewhere.example")))


# --- the roster lines ------------------------------------------------------------------------


def _roster(policy: CosigningPolicy | None = None, *, log: bool = True) -> Roster:
    return Roster(ORIGIN, 3, log_vkey=LOG.vkey() if log else None, cosigning=policy,
                  expires=utc_today() + timedelta(days=30))


def test_roster_round_trip_and_signature() -> None:
    org = OrgKey.generate(ORIGIN)
    roster = _roster().with_cosigning(
        CosigningPolicy(2, (_cosigner(2), _cosigner(0), _cosigner(1))))
    text = roster.format()
    assert "\ncosigners 2\ncosigner c0.example/cosigner+" in text
    assert [c.name for c in roster.cosigning.cosigners] == [  # type: ignore[union-attr]
        "c0.example/cosigner", "c1.example/cosigner", "c2.example/cosigner"]
    assert parse_roster(text) == roster
    assert verify_roster(sign_roster(roster, *org.signers()), org.vkey()) == roster
    assert roster.with_cosigning(None).cosigning is None
    assert parse_roster(_roster().format()).cosigning is None  # old rosters: no cosigners


def test_roster_rules() -> None:
    with pytest.raises(RosterFormatError, match="only with a log key"):
        _roster(_policy(), log=False)
    with pytest.raises(RosterFormatError, match="not sorted by name"):
        _roster(CosigningPolicy(1, (_cosigner(1), _cosigner(0))))


def _lines(policy_text: str) -> str:
    text = _roster().format()
    return text + policy_text


@pytest.mark.parametrize(("extra", "problem"), [
    ("cosigners 0\n", "must be 1 to 16"),
    ("cosigners 01\n", "must be 1 to 16"),
    ("cosigners 17\n", "must be 1 to 16"),
    ("cosigners 1\n", "1 to 16 cosigners"),
    ("cosigners 2\ncosigner {0}\n", "quorum must be between"),
    ("cosigner {0}\n", "unexpected 'cosigner' line"),
    ("cosigners 1\ncosigner {0} extra\n", "a cosigner line is"),
    ("cosigners 1\ncosigner  {0}\n", "a cosigner line is"),
    ("cosigners 1\ncosigner {1}\n", "roster line 7: a cosigner's two keys carry one name"),
    ("cosigners 1\ncosigners 1\ncosigner {0}\n", "unexpected 'cosigners' line"),
])
def test_roster_grammar_refusals(extra: str, problem: str) -> None:
    zero = _cosigner(0)
    good = f"{zero.ed25519.vkey()} {zero.mldsa44.vkey()} {zero.url}"
    mixed = f"{zero.ed25519.vkey()} {KEYS[1].vkeys()[1]} {zero.url}"
    with pytest.raises(RosterFormatError, match=problem):
        parse_roster(_lines(extra.format(good, mixed)))


def test_cosigners_come_right_after_the_log_line() -> None:
    text = _roster(CosigningPolicy(1, (_cosigner(0),))).format()
    head, log_line, rest = text.partition(f"log {LOG.vkey()}\n")
    with pytest.raises(RosterFormatError, match="unexpected 'log' line"):
        parse_roster(head + rest + log_line)
    # Without a log line, cosigners may not stand in its place either.
    with pytest.raises(RosterFormatError, match="only with a log key"):
        parse_roster(head + rest)
