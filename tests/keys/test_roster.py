"""The signed roster: canonical text, verification against the pinned org key, no rollback."""

from __future__ import annotations

import json
import os
import stat
import unicodedata
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys._text import name_problem
from keys.card import PublicCard
from keys.errors import (
    KeysError,
    RosterError,
    RosterExpiredError,
    RosterFormatError,
    RosterPolicyError,
    RosterRollbackError,
    RosterSignatureError,
    RosterStateError,
    VerifierKeyError,
)
from keys.identity import InvestigatorIdentity
from keys.org import OrgKey
from keys.roster import (
    CLOCK_SLACK_DAYS,
    DEFAULT_VALIDITY_DAYS,
    MAX_VALIDITY_DAYS,
    MAX_VERSION,
    POLICY_ALLOW_X25519,
    Investigator,
    Roster,
    RosterState,
    check_expiry,
    default_state_path,
    expiry_after,
    parse_expiry,
    parse_roles,
    parse_roster,
    read_roster_unverified,
    sign_roster,
    utc_today,
    verify_roster,
)
from vault import age
from vault.tlog import note

ORIGIN = "example.org/amanat"
TODAY = utc_today()
EXPIRES = TODAY + timedelta(days=DEFAULT_VALIDITY_DAYS)
NAMES = ("Гүлнара Исмаилова", "ئابدۇرەھىم ھەيت", "Erlan Nurlanuly")


@pytest.fixture(scope="module")
def org() -> OrgKey:
    return OrgKey.generate(ORIGIN)


@pytest.fixture(scope="module")
def identities() -> list[InvestigatorIdentity]:
    return [InvestigatorIdentity.generate(name) for name in NAMES]


@pytest.fixture(scope="module")
def roster(identities: list[InvestigatorIdentity]) -> Roster:
    cards = [identity.card() for identity in identities]
    return (
        Roster.empty(ORIGIN)
        .with_added(cards[:2])
        .with_added(cards[2:], roles=("admin", "reader"))
        .with_expiry(EXPIRES)
    )


@pytest.fixture(scope="module")
def signed(roster: Roster, org: OrgKey) -> str:
    return sign_roster(roster, *org.signers())


def sign_text(text: str, org: OrgKey) -> str:
    return note.sign_note(text, *org.signers())


def test_round_trip(roster: Roster, signed: str, org: OrgKey) -> None:
    assert roster.version == 2
    verified = verify_roster(signed, org.vkey())
    assert verified == roster
    assert verify_roster(signed.encode(), org.vkey()) == roster
    assert parse_roster(roster.format()) == roster
    assert read_roster_unverified(signed) == roster
    key_ids = [person.key_id for person in roster.investigators]
    assert key_ids == sorted(key_ids)


def test_text_layout(roster: Roster, identities: list[InvestigatorIdentity]) -> None:
    lines = roster.format().split("\n")
    assert lines[:4] == [
        f"amanat.roster/v1 {ORIGIN}",
        "version 2",
        "policy pq-only",
        f"expires {EXPIRES.isoformat()}",
    ]
    admin = identities[2].card()
    assert f"investigator {admin.key_id} admin,reader " in roster.format()
    assert any(line.endswith(" " + NAMES[1]) for line in lines)


def test_find_readers_and_recipients(
    roster: Roster, identities: list[InvestigatorIdentity]
) -> None:
    for identity in identities:
        person = roster.find(identity.key_id)
        assert person is not None and person.name == identity.name
        assert person.card() == identity.card()
        assert person.is_reader
    assert roster.find("0" * 16) is None
    assert [p.is_admin for p in roster.readers()].count(True) == 1
    recipients = roster.recipients()
    assert len(recipients) == 3 and all(age.is_post_quantum(r) for r in recipients)


def test_sealed_to_roster_opens_with_each_identity(
    roster: Roster, identities: list[InvestigatorIdentity]
) -> None:
    sealed = age.encrypt_bytes(b"testimony", roster.recipients())
    for identity in identities:
        assert age.decrypt_bytes(sealed, [identity.age_identity()]) == b"testimony"


def test_add_remove_log_policy(roster: Roster, identities: list[InvestigatorIdentity]) -> None:
    log_vkey = note.Signer.generate("log.example.org").vkey()
    removed = roster.with_removed([identities[0].key_id])
    assert removed.version == 3 and removed.find(identities[0].key_id) is None
    logged = removed.with_log(log_vkey)
    assert logged.version == 4 and logged.log_vkey == log_vkey
    assert parse_roster(logged.format()) == logged
    assert logged.format().split("\n")[4] == f"log {log_vkey}"
    relaxed = logged.with_policy(POLICY_ALLOW_X25519)
    assert relaxed.version == 5 and parse_roster(relaxed.format()) == relaxed
    with pytest.raises(RosterError, match="already on the roster"):
        roster.with_added([identities[0].card()])
    with pytest.raises(RosterError, match="not on the roster"):
        roster.with_removed(["0" * 16])
    with pytest.raises(RosterError, match="cannot grow"):
        Roster(ORIGIN, MAX_VERSION, expires=EXPIRES).with_log(log_vkey)


def test_empty_roster_has_no_recipients() -> None:
    with pytest.raises(RosterError, match="no reader"):
        Roster(ORIGIN, 1).recipients()


def test_admin_only_is_not_a_recipient(identities: list[InvestigatorIdentity]) -> None:
    admins = Roster.empty(ORIGIN).with_added([identities[0].card()], roles=["admin"])
    with pytest.raises(RosterError, match="no reader"):
        admins.recipients()


def test_roles() -> None:
    assert parse_roles("reader,admin,reader") == ("admin", "reader")
    with pytest.raises(RosterError, match="unknown role 'owner'"):
        parse_roles("owner")


# --- signatures ----------------------------------------------------------------------------


def test_forged_signature(signed: str, org: OrgKey) -> None:
    head, _, sig_line = signed.rpartition("\n\n")
    prefix, encoded = sig_line.rstrip("\n").rsplit(" ", 1)
    flipped = encoded[:10] + ("A" if encoded[10] != "A" else "B") + encoded[11:]
    with pytest.raises(RosterSignatureError, match="not signed by the organization key"):
        verify_roster(f"{head}\n\n{prefix} {flipped}\n", org.vkey())


def test_altered_text(signed: str, org: OrgKey) -> None:
    altered = signed.replace("version 2", "version 9")
    with pytest.raises(RosterSignatureError, match="forged, altered"):
        verify_roster(altered, org.vkey())


def test_missing_signature(roster: Roster, org: OrgKey) -> None:
    with pytest.raises(RosterSignatureError, match="not signed"):
        verify_roster(roster.format(), org.vkey())


def test_signed_by_another_org_key(roster: Roster, org: OrgKey) -> None:
    impostor = OrgKey.generate(ORIGIN)
    with pytest.raises(RosterSignatureError, match="not signed by the organization key"):
        verify_roster(sign_roster(roster, impostor.signer()), org.vkey())


def test_origin_must_match_pinned_key(roster: Roster) -> None:
    other = OrgKey.generate("other.example")
    forged = note.sign_note(roster.format(), *other.signers())
    with pytest.raises(RosterSignatureError, match="names the organization"):
        verify_roster(forged, other.vkey())
    with pytest.raises(RosterError, match="belongs to"):
        sign_roster(roster, other.signer())


def test_bad_pinned_key(signed: str, org: OrgKey) -> None:
    # The pinned key's own fault, not the roster's: not a RosterError.
    with pytest.raises(VerifierKeyError, match="organization key is mistyped or incomplete"):
        verify_roster(signed, "not-a-vkey")
    vkey = org.vkey()
    for typo in (vkey.replace("+", "x+", 1), vkey[:-3] + ("A" if vkey[-3] != "A" else "B")
                 + vkey[-2:], vkey.replace(vkey.split("+")[1], "0" * 8)):
        with pytest.raises(VerifierKeyError, match="organization key is mistyped: its checksum"):
            verify_roster(signed, typo)
    assert not issubclass(VerifierKeyError, RosterError)


def test_malformed_note(signed: str, org: OrgKey) -> None:
    with pytest.raises(RosterFormatError, match="well-formed signed note"):
        verify_roster(signed.replace("\u2014", "-"), org.vkey())


def test_oversized_roster(org: OrgKey) -> None:
    with pytest.raises(RosterFormatError, match="larger than"):
        verify_roster("x" * (1024 * 1024 + 1), org.vkey())


def test_unsigned_version_zero(org: OrgKey) -> None:
    with pytest.raises(RosterError, match="version 1 or more"):
        sign_roster(Roster.empty(ORIGIN), *org.signers())


# --- format refusals (each signed by the real org key, so only the format is at fault) -----


def _lines(roster: Roster) -> list[str]:
    return roster.format().rstrip("\n").split("\n")


def _text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def test_duplicate_key_id(roster: Roster, org: OrgKey) -> None:
    lines = _lines(roster)
    lines.insert(5, lines[4])
    with pytest.raises(RosterFormatError, match="duplicate key id"):
        verify_roster(sign_text(_text(lines), org), org.vkey())


def test_unsorted_investigators(roster: Roster, org: OrgKey) -> None:
    lines = _lines(roster)
    lines[4], lines[5] = lines[5], lines[4]
    with pytest.raises(RosterFormatError, match="not sorted"):
        verify_roster(sign_text(_text(lines), org), org.vkey())


def _classical_card(name: str = "Classical") -> PublicCard:
    return PublicCard(name, str(age.X25519Identity.generate().recipient()), os.urandom(32))


def test_classical_recipient_under_pq_only(roster: Roster, org: OrgKey) -> None:
    line = Investigator.from_card(_classical_card()).format().rstrip("\n")
    lines = _lines(roster)
    lines = lines[:4] + sorted([*lines[4:], line], key=lambda text: text.split(" ")[1])
    with pytest.raises(RosterPolicyError, match=r"classical X25519 recipient.*pq-only"):
        verify_roster(sign_text(_text(lines), org), org.vkey())
    with pytest.raises(RosterPolicyError):
        roster.with_added([_classical_card()])


def test_allow_x25519_policy(org: OrgKey) -> None:
    cards = [_classical_card("One"), _classical_card("Two")]
    roster = (
        Roster.empty(ORIGIN).with_policy(POLICY_ALLOW_X25519).with_added(cards).with_expiry(EXPIRES)
    )
    verified = verify_roster(sign_roster(roster, *org.signers()), org.vkey())
    assert len(verified.recipients()) == 2
    assert not any(age.is_post_quantum(r) for r in verified.recipients())


def test_mixed_readers_refused(identities: list[InvestigatorIdentity]) -> None:
    relaxed = Roster.empty(ORIGIN).with_policy(POLICY_ALLOW_X25519)
    with pytest.raises(RosterPolicyError, match="mix post-quantum and classical"):
        relaxed.with_added([identities[0].card(), _classical_card()])
    # A classical key on an admin who is not a reader seals nothing: allowed.
    mixed = relaxed.with_added([identities[0].card()]).with_added(
        [_classical_card()], roles=["admin"]
    )
    assert len(mixed.recipients()) == 1


def _set(lines: list[str], index: int, text: str) -> list[str]:
    copy = list(lines)
    copy[index] = text
    return copy


def _edit_roles(lines: list[str], roles: str, new_roles: str) -> list[str]:
    """Replace the roles field of the (only) investigator line that has exactly ``roles``."""
    for index, line in enumerate(lines):
        fields = line.split(" ", 3)
        if fields[0] == "investigator" and fields[2] == roles:
            return _set(lines, index, " ".join([*fields[:2], new_roles, fields[3]]))
    raise AssertionError(roles)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda ls: _set(ls, 0, "amanat.roster/v2 " + ORIGIN), "line 1: expected"),
        (lambda ls: _set(ls, 0, "amanat.roster/v1 bad origin"), "origin"),
        (lambda ls: _set(ls, 1, "version 02"), "positive integer"),
        (lambda ls: _set(ls, 1, "version 0"), "positive integer"),
        (lambda ls: _set(ls, 1, "version -1"), "positive integer"),
        (lambda ls: _set(ls, 1, "version 99999999999999999999"), "positive integer"),
        (lambda ls: _set(ls, 1, "version  2"), "positive integer"),
        (lambda ls: _set(ls, 1, "Version 2"), "line 2: expected a 'version' line"),
        (lambda ls: _set(ls, 2, "policy anything-goes"), "line 3: unknown policy"),
        (lambda ls: ls[:2], "line 3: expected a 'policy' line"),
        (lambda ls: [*ls[:4], "log not-a-vkey", *ls[4:]], "log key is not a valid verifier"),
        (lambda ls: [*ls, "log " + note.Signer.generate("l").vkey()], "line 8: unexpected 'log'"),
        (lambda ls: [*ls, ""], "line 8: unexpected '' line"),
        (lambda ls: [*ls, "# a comment"], "line 8: unexpected '#' line"),
        (lambda ls: [*ls, "member a b c d e"], "line 8: unexpected 'member'"),
        (lambda ls: _set(ls, 4, ls[4] + " "), "line 5: .*space"),
        (lambda ls: _set(ls, 4, ls[4].replace(" ", "  ", 2)), "line 5: malformed"),
        (lambda ls: _edit_roles(ls, "reader", "readers"), "unknown role"),
        (lambda ls: _edit_roles(ls, "reader", "reader,reader"), "sorted"),
        (lambda ls: _edit_roles(ls, "admin,reader", "reader,admin"), "sorted"),
        (lambda ls: _edit_roles(ls, "reader", ""), "malformed"),
        (
            lambda ls: _set(ls, 4, "investigator" + ls[4][12:28].upper() + ls[4][28:]),
            "16 lowercase",
        ),
        (lambda ls: _set(ls, 4, ls[4][:13] + "0" * 16 + ls[4][29:]), "does not match the keys"),
        # The expiry line: required, in its place, and written exactly as YYYY-MM-DD.
        (lambda ls: ls[:3], "line 4: expected a 'expires' line"),
        (lambda ls: [*ls[:3], *ls[4:]], "line 4: expected a 'expires' line"),
        (lambda ls: [*ls[:3], ls[4], ls[3], *ls[5:]], "line 4: expected a 'expires' line"),
        (lambda ls: [*ls, ls[3]], "line 8: unexpected 'expires'"),
        (lambda ls: _set(ls, 3, "expires"), "line 4: expected a 'expires' line"),
        (lambda ls: _set(ls, 3, "expires "), "line 4: .*YYYY-MM-DD, not ''"),
        (lambda ls: _set(ls, 3, "expires  2026-12-01"), "line 4: .*YYYY-MM-DD"),
        (lambda ls: _set(ls, 3, "expires 2026-12-01 "), "line 4: .*YYYY-MM-DD"),
        (lambda ls: _set(ls, 3, "Expires 2026-12-01"), "line 4: expected a 'expires' line"),
        (lambda ls: _set(ls, 3, "expires 2026-2-01"), "line 4: .*YYYY-MM-DD"),
        (lambda ls: _set(ls, 3, "expires 20261201"), "line 4: .*YYYY-MM-DD"),
        (lambda ls: _set(ls, 3, "expires 2026-W48-2"), "line 4: .*YYYY-MM-DD"),
        (lambda ls: _set(ls, 3, "expires 2026-12-01T00:00"), "line 4: .*YYYY-MM-DD"),
        (lambda ls: _set(ls, 3, "expires 2026-12-01Z"), "line 4: .*YYYY-MM-DD"),
        (lambda ls: _set(ls, 3, "expires 2027-02-29"), "line 4: .*real calendar date"),
        (lambda ls: _set(ls, 3, "expires 2026-13-01"), "line 4: .*real calendar date"),
        (lambda ls: _set(ls, 3, "expires 0000-01-01"), "line 4: .*real calendar date"),
        (lambda ls: _set(ls, 3, "expires ２０２６-12-01"), "line 4: .*YYYY-MM-DD"),
        (lambda ls: _set(ls, 3, "expires never"), "line 4: .*YYYY-MM-DD, not 'never'"),
    ],
)
def test_malformed_rosters_are_refused(mutate, match: str, roster: Roster, org: OrgKey) -> None:  # type: ignore[no-untyped-def]
    text = _text(mutate(_lines(roster)))
    with pytest.raises(RosterFormatError, match=match):
        verify_roster(sign_text(text, org), org.vkey())


def test_bad_auth_key_and_recipient(roster: Roster, org: OrgKey) -> None:
    lines = _lines(roster)
    fields = lines[4].split(" ", 5)
    bad_auth = " ".join([*fields[:3], fields[3].rstrip("="), *fields[4:]])
    with pytest.raises(RosterFormatError, match="line 5: the auth key is not canonical"):
        verify_roster(sign_text(_text(_set(lines, 4, bad_auth)), org), org.vkey())
    last = "q" if fields[4][-1] != "q" else "p"
    bad_recipient = " ".join([*fields[:4], fields[4][:-1] + last, fields[5]])
    with pytest.raises(RosterFormatError, match=r"line 5: .*not a valid age recipient"):
        verify_roster(sign_text(_text(_set(lines, 4, bad_recipient)), org), org.vkey())


def test_text_must_end_in_newline(roster: Roster) -> None:
    with pytest.raises(RosterFormatError, match="newline"):
        parse_roster(roster.format().rstrip("\n"))


def test_unverified_reading_needs_a_signature_block(roster: Roster) -> None:
    with pytest.raises(RosterFormatError, match="no signature block"):
        read_roster_unverified(roster.format())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"origin": "bad origin"}, "origin"),
        ({"version": -1}, "version"),
        ({"policy": "none"}, "unknown roster policy"),
        ({"expires": "2026-12-01"}, "must be a date"),
        ({"expires": datetime(2026, 12, 1, tzinfo=UTC)}, "must be a date"),
    ],
)
def test_constructor_checks(kwargs: dict[str, object], match: str) -> None:
    arguments: dict[str, object] = {"origin": ORIGIN, "version": 1} | kwargs
    with pytest.raises(RosterFormatError, match=match):
        Roster(**arguments)  # type: ignore[arg-type]


def test_investigator_checks(identities: list[InvestigatorIdentity]) -> None:
    card = identities[0].card()
    with pytest.raises(RosterFormatError, match="roles"):
        Investigator.from_card(card, roles=())
    good = Investigator.from_card(card)
    with pytest.raises(RosterFormatError, match="16 lowercase"):
        Investigator("x", good.name, good.roles, good.recipient, good.auth_key)


# --- rollback state ------------------------------------------------------------------------


def _signed_version(org: OrgKey, version: int, log: str | None = None) -> str:
    return sign_roster(Roster(ORIGIN, version, log_vkey=log, expires=EXPIRES), *org.signers())


def test_in_memory_state_refuses_rollback(org: OrgKey) -> None:
    state = RosterState()
    verify_roster(_signed_version(org, 5), org.vkey(), state=state)
    assert state.highest(org.vkey()) == 5
    verify_roster(_signed_version(org, 5), org.vkey(), state=state)  # same roster again: fine
    with pytest.raises(RosterRollbackError, match="version 4 is older than version 5"):
        verify_roster(_signed_version(org, 4), org.vkey(), state=state)
    verify_roster(_signed_version(org, 6), org.vkey(), state=state)
    assert state.highest(org.vkey()) == 6
    assert state.highest("other") is None
    assert "RosterState(path=None" in repr(state)


def test_state_is_per_organization(org: OrgKey) -> None:
    other = OrgKey.generate("other.example")
    state = RosterState()
    verify_roster(_signed_version(org, 9), org.vkey(), state=state)
    other_roster = sign_roster(Roster("other.example", 1, expires=EXPIRES), *other.signers())
    verify_roster(other_roster, other.vkey(), state=state)
    assert state.highest(other.vkey()) == 1


def test_equivocation_refused(org: OrgKey) -> None:
    state = RosterState()
    log = note.Signer.generate("log.example").vkey()
    verify_roster(_signed_version(org, 3), org.vkey(), state=state)
    with pytest.raises(RosterRollbackError, match="two different rosters carry version 3"):
        verify_roster(_signed_version(org, 3, log), org.vkey(), state=state)
    state.check_and_update(org.vkey(), 3)  # no digest known: the version alone is checked
    with pytest.raises(RosterRollbackError, match="two different"):
        verify_roster(_signed_version(org, 3, log), org.vkey(), state=state)


def test_file_state_persists_atomically(org: OrgKey, tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state" / "rosters.json"
    state = RosterState.load(path)
    assert state.highest(org.vkey()) is None
    verify_roster(_signed_version(org, 7), org.vkey(), state=state)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    document = json.loads(path.read_text())
    assert document["format"] == "amanat.roster-state/v1"
    assert document["rosters"][org.vkey()]["version"] == 7
    assert len(document["rosters"][org.vkey()]["sha256"]) == 64
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".part")] == []
    again = RosterState.load(path)
    with pytest.raises(RosterRollbackError):
        verify_roster(_signed_version(org, 6), org.vkey(), state=again)


def test_concurrent_states_never_lower_each_other(org: OrgKey, tmp_path: Path) -> None:
    path = tmp_path / "rosters.json"
    early = RosterState.load(path)
    early.check_and_update("other-org", 2)
    late = RosterState.load(path)
    late.check_and_update(org.vkey(), 10)
    # `early` loaded before version 10 was recorded; its update must not erase it.
    early.check_and_update("other-org", 3)
    assert RosterState.load(path).highest(org.vkey()) == 10
    with pytest.raises(RosterRollbackError):
        early.check_and_update(org.vkey(), 9)
    # An entry held only in memory (higher than disk) is kept too.
    late.check_and_update("other-org", 3)
    assert RosterState.load(path).highest("other-org") == 3


def test_save_without_path_is_a_no_op() -> None:
    RosterState().save()


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[]",
        b'{"format": "other"}',
        b'{"format": "amanat.roster-state/v1", "rosters": []}',
        b'{"format": "amanat.roster-state/v1", "rosters": {"k": 5}}',
        b'{"format": "amanat.roster-state/v1", "rosters": {"k": {"version": "5"}}}',
        b'{"format": "amanat.roster-state/v1", "rosters": {"k": {"version": true}}}',
        b'{"format": "amanat.roster-state/v1", "rosters": {"k": {"version": -1}}}',
        b'{"format": "amanat.roster-state/v1", "rosters": {"k": {"version": 1, "sha256": 5}}}',
        b'{"format": "amanat.roster-state/v1", "rosters": {"k": {"version": 1, "sha256": "AB"}}}',
    ],
)
def test_damaged_state_file_refused(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "rosters.json"
    path.write_bytes(content)
    with pytest.raises(RosterStateError, match="damaged"):
        RosterState.load(path)


def test_state_read_and_lock_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RosterStateError, match="cannot read"):
        RosterState.load(tmp_path)  # a directory
    state = RosterState.load(tmp_path / "rosters.json")
    real_open = os.open

    def refuse_lock(path: str, flags: int, mode: int = 0o777) -> int:
        if str(path).endswith(".lock"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", refuse_lock)
    with pytest.raises(RosterStateError, match=r"cannot lock .*Permission denied"):
        state.check_and_update("k", 1)


def test_state_write_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from keys import roster as roster_module

    def refuse(path: Path, data: bytes) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(roster_module, "write_private_file", refuse)
    with pytest.raises(RosterStateError, match=r"cannot write .*Permission denied"):
        RosterState.load(tmp_path / "rosters.json").check_and_update("k", 1)


def test_default_state_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AMANAT_STATE_DIR", str(tmp_path / "s"))
    assert default_state_path() == tmp_path / "s" / "rosters.json"
    monkeypatch.delenv("AMANAT_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "x"))
    assert default_state_path() == tmp_path / "x" / "amanat" / "rosters.json"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_state_path() == tmp_path / "home" / ".local/state/amanat/rosters.json"


def test_errors_are_value_errors() -> None:
    assert issubclass(RosterRollbackError, KeysError)
    assert issubclass(KeysError, ValueError)


def test_restored_old_state_file_does_not_lower_what_is_known(org: OrgKey, tmp_path: Path) -> None:
    path = tmp_path / "rosters.json"
    state = RosterState.load(path)
    state.check_and_update(org.vkey(), 5)
    backup = path.read_bytes()
    state.check_and_update(org.vkey(), 8)
    path.write_bytes(backup)  # e.g. restored from an old backup
    state.check_and_update("other-org", 1)
    assert RosterState.load(path).highest(org.vkey()) == 8


def test_atomic_write_leaves_nothing_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keys import _files

    target = tmp_path / "file"
    target.write_bytes(b"old")

    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_files.os, "replace", fail)
    with pytest.raises(OSError, match="No space"):
        _files.write_private_file(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


_NAME_CHARS = st.characters(categories=("L", "M", "N", "P", "S"), include_characters=" ")


@settings(max_examples=25, deadline=None)
@given(
    names=st.lists(
        st.text(_NAME_CHARS, min_size=1, max_size=30).map(
            lambda text: unicodedata.normalize("NFC", text)
        ),
        min_size=1,
        max_size=4,
    ),
    admin=st.booleans(),
    version_steps=st.integers(min_value=0, max_value=3),
)
def test_any_valid_roster_round_trips(
    names: list[str], admin: bool, version_steps: int, org: OrgKey
) -> None:
    cards = [
        PublicCard(name, RECIPIENT_POOL[i % len(RECIPIENT_POOL)], os.urandom(32))
        for i, name in enumerate(names)
        if name_problem(name) is None
    ]
    roster = (
        Roster.empty(ORIGIN)
        .with_added(cards, roles=["admin", "reader"] if admin else ["reader"])
        .with_expiry(EXPIRES)
    )
    for _ in range(version_steps):
        roster = roster.with_policy(roster.policy)
    assert parse_roster(roster.format()) == roster
    assert verify_roster(sign_roster(roster, *org.signers()), org.vkey()) == roster


RECIPIENT_POOL = [str(age.MLKEM768X25519Identity.generate().recipient()) for _ in range(2)]


# --- expiry ---------------------------------------------------------------------------------


def _signed_expiring(org: OrgKey, expires: date, *, version: int = 4, signed_on: date) -> str:
    return sign_roster(Roster(ORIGIN, version, expires=expires), *org.signers(), today=signed_on)


def test_valid_through_the_expiry_day_refused_the_day_after(org: OrgKey) -> None:
    expires = date(2026, 12, 1)
    signed = _signed_expiring(org, expires, version=7, signed_on=date(2026, 9, 1))
    assert verify_roster(signed, org.vkey(), today=date(2026, 9, 1)).expires == expires
    assert verify_roster(signed, org.vkey(), today=expires).version == 7
    with pytest.raises(RosterExpiredError) as refused:
        verify_roster(signed, org.vkey(), today=date(2026, 12, 2))
    assert str(refused.value) == (
        "roster version 7 expired on 2026-12-01 (today is 2026-12-02 UTC by this computer's "
        "clock): the organization must publish a renewed roster"
    )
    with pytest.raises(RosterExpiredError, match="expired on 2026-12-01"):
        verify_roster(signed, org.vkey(), today=date(2031, 1, 1))


def test_default_today_is_the_clock(org: OrgKey) -> None:
    today = utc_today()
    yesterday = today - timedelta(days=1)
    expired = _signed_expiring(org, yesterday, signed_on=yesterday)
    with pytest.raises(RosterExpiredError, match=f"expired on {yesterday.isoformat()}"):
        verify_roster(expired, org.vkey())
    assert verify_roster(_signed_expiring(org, today, signed_on=today), org.vkey()).version == 4
    assert utc_today() == datetime.now(UTC).date()


def test_expired_roster_is_not_recorded_in_the_state(org: OrgKey) -> None:
    state = RosterState()
    verify_roster(_signed_version(org, 3), org.vkey(), state=state)
    old = _signed_expiring(org, date(2026, 1, 31), version=9, signed_on=date(2026, 1, 1))
    with pytest.raises(RosterExpiredError):
        verify_roster(old, org.vkey(), state=state, today=date(2026, 2, 1))
    assert state.highest(org.vkey()) == 3


def test_expiry_too_far_ahead_is_refused(org: OrgKey) -> None:
    today = date(2026, 3, 1)
    longest = today + timedelta(days=MAX_VALIDITY_DAYS)
    signed = _signed_expiring(org, longest, signed_on=today)
    assert verify_roster(signed, org.vkey(), today=today).expires == longest
    with pytest.raises(RosterPolicyError, match=f"more than {MAX_VALIDITY_DAYS} days after"):
        sign_roster(Roster(ORIGIN, 4, expires=longest + timedelta(days=1)), *org.signers(),
                    today=today)
    # A verifier whose clock is up to CLOCK_SLACK_DAYS behind the signer's still accepts it.
    slow_clock = today - timedelta(days=CLOCK_SLACK_DAYS)
    assert verify_roster(signed, org.vkey(), today=slow_clock).version == 4
    with pytest.raises(RosterPolicyError, match=r"valid until .* shorter validity"):
        verify_roster(signed, org.vkey(), today=slow_clock - timedelta(days=1))
    # A roster valid for decades (signed by another tool) is refused by every verifier.
    decades = sign_text(Roster(ORIGIN, 4, expires=date(2066, 1, 1)).format(), org)
    with pytest.raises(RosterPolicyError, match="valid until 2066-01-01"):
        verify_roster(decades, org.vkey(), today=today)


def test_dates_unchecked_only_when_asked(org: OrgKey) -> None:
    old = _signed_expiring(org, date(2026, 1, 31), signed_on=date(2026, 1, 1))
    far = sign_text(Roster(ORIGIN, 5, expires=date(2066, 1, 1)).format(), org)
    later = date(2026, 6, 1)
    assert verify_roster(old, org.vkey(), today=later, check_dates=False).version == 4
    assert verify_roster(far, org.vkey(), today=later, check_dates=False).version == 5
    with pytest.raises(RosterSignatureError):  # everything else is still checked
        verify_roster(old.replace("version 4", "version 8"), org.vkey(), check_dates=False)


def test_signing_needs_a_current_expiry(org: OrgKey) -> None:
    with pytest.raises(RosterError, match="no expiry date yet"):
        sign_roster(Roster(ORIGIN, 1), *org.signers())
    with pytest.raises(RosterError, match="no expiry date yet"):
        Roster(ORIGIN, 1).format()
    with pytest.raises(RosterExpiredError, match="expired on 2026-01-31"):
        sign_roster(Roster(ORIGIN, 1, expires=date(2026, 1, 31)), *org.signers(),
                    today=date(2026, 2, 1))


def test_renewed_bumps_version_and_expiry_and_keeps_the_rest(roster: Roster, org: OrgKey) -> None:
    log_vkey = note.Signer.generate("log.example.org").vkey()
    current = roster.with_log(log_vkey).with_expiry(EXPIRES)
    later = EXPIRES + timedelta(days=30)
    renewed = current.renewed(later)
    assert renewed.version == current.version + 1
    assert renewed.expires == later
    assert (renewed.origin, renewed.policy, renewed.log_vkey, renewed.investigators) == (
        current.origin, current.policy, current.log_vkey, current.investigators)
    assert verify_roster(sign_roster(renewed, *org.signers()), org.vkey()) == renewed
    # Changes keep the expiry they start from; with_expiry keeps the version.
    assert current.with_removed([roster.investigators[0].key_id]).expires == EXPIRES
    assert current.with_expiry(later).version == current.version


def test_expiry_after_and_days_left() -> None:
    today = date(2026, 12, 31)
    assert expiry_after(1, today=today) == date(2027, 1, 1)
    assert expiry_after(MAX_VALIDITY_DAYS, today=today) == date(2028, 1, 1)
    assert expiry_after(DEFAULT_VALIDITY_DAYS) == utc_today() + timedelta(DEFAULT_VALIDITY_DAYS)
    for days in (0, -1, MAX_VALIDITY_DAYS + 1):
        with pytest.raises(RosterError, match=f"1 to {MAX_VALIDITY_DAYS} days"):
            expiry_after(days, today=today)
    roster = Roster(ORIGIN, 1, expires=date(2026, 12, 1))
    assert roster.days_left(date(2026, 11, 1)) == 30
    assert roster.days_left(date(2026, 12, 1)) == 0
    assert roster.days_left(date(2026, 12, 3)) == -2
    assert Roster(ORIGIN, 1, expires=utc_today()).days_left() == 0
    check_expiry(roster, today=date(2026, 12, 1))
    assert parse_expiry("2028-02-29") == date(2028, 2, 29)


# --- the signature policy: both halves of the organization key -------------------------------


def test_roster_signed_by_one_half_only_is_refused_by_default(roster: Roster, org: OrgKey) -> None:
    ed_half, pq_half = org.signers()
    for half, missing in ((ed_half, "ML-DSA-44"), (pq_half, "Ed25519")):
        one = sign_roster(roster, half)
        with pytest.raises(RosterSignatureError, match=f"lacks the {missing} signature"):
            verify_roster(one, org.vkey())
    # The explicit classical policy accepts one trusted half.
    assert verify_roster(sign_roster(roster, ed_half), "classical " + org.vkey()) == roster


def test_ed25519_only_roster_readable_only_under_the_classical_policy(roster: Roster) -> None:
    old = OrgKey(ORIGIN, b"\x09" * 32)
    signed = sign_roster(roster, *old.signers())
    assert len(old.signers()) == 1
    with pytest.raises(RosterSignatureError, match=r"Ed25519 only.*classical policy"):
        verify_roster(signed, old.vkey())
    state = RosterState()
    assert verify_roster(signed, "classical " + old.vkey(), state=state) == roster
    assert state.highest(old.vkey()) == roster.version
    # The same org made hybrid: its new rosters verify under the new pin, and under the
    # old pin (classical policy) too, by their Ed25519 half.
    hybrid = old.with_post_quantum_half()
    newer = sign_roster(roster.renewed(EXPIRES), *hybrid.signers())
    assert verify_roster(newer, hybrid.vkey()).version == roster.version + 1
    assert verify_roster(newer, "classical " + old.vkey(), state=state).version == 3
    with pytest.raises(VerifierKeyError):
        verify_roster(newer, "classical")
