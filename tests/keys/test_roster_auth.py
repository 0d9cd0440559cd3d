"""The roster's auth field: an Ed25519 key, or Ed25519 and ML-DSA-44 keys joined by ','.

A hybrid investigator's line carries both auth keys and a v2 key id; a classical one (a card
from before ML-DSA-44 auth keys) the Ed25519 key and a v1 key id. Every other spelling of the
field is refused, and so is a key id that does not match the keys on its line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keys._text import b64encode
from keys.card import derive_key_id
from keys.errors import RosterFormatError
from keys.identity import InvestigatorIdentity
from keys.org import OrgKey
from keys.roster import Roster, parse_roster, sign_roster, utc_today, verify_roster
from vault.tlog import note

ORIGIN = "example.org/amanat"


@pytest.fixture(scope="module")
def org() -> OrgKey:
    return OrgKey.generate(ORIGIN)


@pytest.fixture(scope="module")
def hybrid() -> InvestigatorIdentity:
    return InvestigatorIdentity.generate("Гүлнара Исмаилова")


@pytest.fixture(scope="module")
def classical() -> InvestigatorIdentity:
    return InvestigatorIdentity("Erlan Nurlanuly", b"\x05" * 32, b"\x06" * 32)


@pytest.fixture(scope="module")
def roster(hybrid: InvestigatorIdentity, classical: InvestigatorIdentity) -> Roster:
    return (Roster.empty(ORIGIN).with_added([hybrid.card(), classical.card()])
            .with_expiry(utc_today() + timedelta(days=30)))


def _line_of(roster: Roster, key_id: str) -> str:
    return next(line for line in roster.format().split("\n") if f" {key_id} " in line)


def _replace_auth(text: str, key_id: str, auth: str) -> str:
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if line.startswith(f"investigator {key_id} "):
            fields = line.split(" ", 5)
            fields[3] = auth
            lines[number] = " ".join(fields)
    return "\n".join(lines)


def test_hybrid_and_classical_lines_parse_and_round_trip(
        roster: Roster, hybrid: InvestigatorIdentity, classical: InvestigatorIdentity,
        org: OrgKey) -> None:
    card = hybrid.card()
    assert card.auth_pq is not None
    hybrid_line = _line_of(roster, hybrid.key_id)
    assert f" {b64encode(card.auth_key)},{b64encode(card.auth_pq)} " in hybrid_line
    classical_line = _line_of(roster, classical.key_id)
    assert f" {b64encode(classical.card().auth_key)} age1pq1" in classical_line
    assert "," not in classical_line.split(" ")[3]
    verified = verify_roster(sign_roster(roster, *org.signers()), org.vkey())
    assert verified == roster and verified.format() == roster.format()
    found = verified.find(hybrid.key_id)
    assert found is not None and found.is_hybrid and found.auth_pq == card.auth_pq
    assert found.card() == card
    old = verified.find(classical.key_id)
    assert old is not None and not old.is_hybrid and old.auth_pq is None
    assert old.key_id == derive_key_id(old.recipient, old.auth_key)  # v1 key id


def _ed(identity: InvestigatorIdentity) -> str:
    return b64encode(identity.card().auth_key)


def _pq(identity: InvestigatorIdentity) -> str:
    auth_pq = identity.card().auth_pq
    assert auth_pq is not None
    return b64encode(auth_pq)


MALFORMED = {
    "two commas": lambda i: f"{_ed(i)},{_pq(i)},{_pq(i)}",
    "empty ML-DSA-44 half": lambda i: f"{_ed(i)},",
    "empty Ed25519 half": lambda i: f",{_pq(i)}",
    "only a comma": lambda i: ",",
    "ML-DSA-44 half without padding": lambda i: f"{_ed(i)},{_pq(i).rstrip('=')}",
    "Ed25519 half without padding": lambda i: f"{_ed(i).rstrip('=')},{_pq(i)}",
    "ML-DSA-44 half not base64": lambda i: f"{_ed(i)},{_pq(i)[:-8]}!!!!!!!=",
    "ML-DSA-44 half with non-zero unused bits": lambda i: f"{_ed(i)},{_pq(i)[:-3]}B==",
    "space instead of comma": lambda i: f"{_ed(i)} {_pq(i)}",
    "semicolon instead of comma": lambda i: f"{_ed(i)};{_pq(i)}",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_auth_fields_are_refused(case: str, roster: Roster,
                                           hybrid: InvestigatorIdentity) -> None:
    text = _replace_auth(roster.format(), hybrid.key_id, MALFORMED[case](hybrid))
    with pytest.raises(RosterFormatError):
        parse_roster(text)


@pytest.mark.parametrize(("size", "match"), [(1311, "1312-byte"), (1313, "1312-byte"),
                                             (32, "1312-byte")])
def test_an_ml_dsa_key_of_the_wrong_length_is_refused(
        size: int, match: str, roster: Roster, hybrid: InvestigatorIdentity) -> None:
    text = _replace_auth(roster.format(), hybrid.key_id, f"{_ed(hybrid)},"
                         + b64encode(b"\x07" * size))
    with pytest.raises(RosterFormatError, match=match):
        parse_roster(text)


def test_a_key_id_that_does_not_match_the_line_is_refused(
        roster: Roster, hybrid: InvestigatorIdentity, classical: InvestigatorIdentity,
        org: OrgKey) -> None:
    text = roster.format()
    other = InvestigatorIdentity.generate("Other")
    cases = [
        # The ML-DSA-44 half dropped: a classical line under a v2 key id.
        _replace_auth(text, hybrid.key_id, _ed(hybrid)),
        # Another ML-DSA-44 key in place of the investigator's.
        _replace_auth(text, hybrid.key_id, f"{_ed(hybrid)},{_pq(other)}"),
        # An ML-DSA-44 half added to a classical line (its v1 key id covers no such key).
        _replace_auth(text, classical.key_id, f"{_ed(classical)},{_pq(other)}"),
    ]
    for case in cases:
        with pytest.raises(RosterFormatError, match="does not match the keys"):
            verify_roster(note.sign_note(case, *org.signers()), org.vkey())
