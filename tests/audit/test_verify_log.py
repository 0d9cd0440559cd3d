"""`vault.audit.verify_log` against an in-memory log: every finding, the state it keeps."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

import pytest

from keys.cosigner import CosignerKey
from keys.roster import POLICY_ALLOW_X25519, Roster, sign_roster
from tests.audit.fakes import FakeLog, Org, access, new_log, submission
from vault import audit
from vault.audit import AuditState, AuditStateError, Finding, verify_log
from vault.tlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from vault.tlog.cosigning import Cosigner, CosigningPolicy
from vault.tlog.merkle import EMPTY_ROOT
from vault.tlog.note import Signer, Verifier, sign_note


def test_ok_summary_names_size_and_root() -> None:
    org = Org()
    log = new_log(org, 5)
    verdict = verify_log(log, org.vkey)
    assert verdict.ok
    root = base64.b64encode(log.tree.root()).decode()
    assert verdict.summary() == f"ok: size 5, root {root}"
    assert verdict.roster_version == 1
    assert verdict.log_vkey == log.signer.vkey()
    assert verdict.entries_checked is None
    assert [c[0] for c in log.calls] == []  # nothing but roster and checkpoint was needed


def test_state_follows_the_log_and_is_private(tmp_path: Path) -> None:
    org = Org()
    log = new_log(org, 3)
    path = tmp_path / "state" / "audit.json"
    with AuditState.open(path) as state:
        first = verify_log(log, org.vkey, state=state)
    assert first.ok and first.summary().endswith("first checkpoint seen from this log")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    log.append(submission(10), submission(11))
    with AuditState.open(path) as state:
        second = verify_log(log, org.vkey, state=state)
    assert second.ok, second.summary()
    assert second.summary().endswith("consistent with size 3 seen before")
    assert second.previous_size == 3
    assert ("consistency", 3, 5) in log.calls
    document = json.loads(path.read_text())
    assert document["format"] == "amanat.audit-state/v1"
    kept = document["organizations"][org.vkey]
    assert kept["roster"]["version"] == 1
    assert kept["logs"][log.signer.vkey()]["checkpoint"] == log.signed


def test_growth_from_the_empty_log_needs_no_proof() -> None:
    org = Org()
    log = new_log(org, 0)
    state = AuditState()
    assert verify_log(log, org.vkey, state=state).ok
    log.append(submission(1))
    verdict = verify_log(log, org.vkey, state=state)
    assert verdict.ok and verdict.previous_size == 0
    assert log.calls == []


def test_same_checkpoint_again_is_ok() -> None:
    org = Org()
    log = new_log(org, 4)
    state = AuditState()
    assert verify_log(log, org.vkey, state=state).ok
    assert verify_log(log, org.vkey, state=state).ok


def _seen(org: Org, log: FakeLog) -> AuditState:
    state = AuditState()
    assert verify_log(log, org.vkey, state=state).ok
    return state


def test_rollback_is_caught_and_the_state_keeps_the_evidence() -> None:
    org = Org()
    log = new_log(org, 5)
    state = _seen(org, log)
    evidence = log.signed
    older = FakeLog(log.signer, log.roster, log.served[:3])
    verdict = verify_log(older, org.vkey, state=state)
    assert verdict.finding is Finding.ROLLBACK
    assert verdict.summary().startswith("rollback: the log now shows 3 entries, fewer than the 5")
    assert verdict.previous == evidence and verdict.signed_checkpoint == older.signed
    assert state.checkpoint_seen(org.vkey, log.signer.vkey()) == evidence
    # Both pieces of evidence verify under the log key.
    verifier = log.signer.verifier()
    sizes = {open_checkpoint(t, verifier, verifier.name).size for t in (evidence, older.signed)}
    assert sizes == {3, 5}


def test_fork_same_size_different_root() -> None:
    org = Org()
    log = new_log(org, 4)
    state = _seen(org, log)
    fork = FakeLog(log.signer, log.roster, [*log.served[:3], submission(99)])
    verdict = verify_log(fork, org.vkey, state=state)
    assert verdict.finding is Finding.FORK
    assert verdict.summary().startswith("fork: the log signed two different roots for size 4")
    assert state.checkpoint_seen(org.vkey, log.signer.vkey()) == log.signed


def test_rewritten_history_larger_but_inconsistent() -> None:
    org = Org()
    log = new_log(org, 4)
    state = _seen(org, log)
    rewritten = FakeLog(log.signer, log.roster, [submission(i + 50) for i in range(7)])
    verdict = verify_log(rewritten, org.vkey, state=state)
    assert verdict.finding is Finding.REWRITTEN_HISTORY
    assert "cannot prove it extends the checkpoint seen before at size 4: " in verdict.reason
    assert verdict.previous == log.signed


def test_rewritten_history_when_the_proof_is_garbage() -> None:
    org = Org()
    log = new_log(org, 4)
    state = _seen(org, log)
    log.append(submission(7))
    log.consistency_proof = lambda old, new: [b"\x00" * 32]  # type: ignore[method-assign]
    assert verify_log(log, org.vkey, state=state).finding is Finding.REWRITTEN_HISTORY


def test_checkpoint_signed_by_another_key_with_the_same_name() -> None:
    org = Org()
    log = new_log(org, 2)
    impostor = Signer.generate(log.signer.name)
    log.signed = sign_checkpoint(Checkpoint(impostor.name, 2, log.tree.root()), impostor)
    verdict = verify_log(log, org.vkey)
    assert verdict.finding is Finding.BAD_SIGNATURE
    assert verdict.summary().startswith("bad signature: the latest checkpoint is not signed")
    assert verdict.checkpoint is None


def test_altered_checkpoint_text_is_a_bad_signature() -> None:
    org = Org()
    log = new_log(org, 2)
    log.signed = log.signed.replace("\n2\n", "\n3\n", 1)
    assert verify_log(log, org.vkey).finding is Finding.BAD_SIGNATURE


@pytest.mark.parametrize(
    "make",
    [
        lambda s: "not a note at all",
        lambda s: sign_note("just one line\n", s),
        lambda s: sign_checkpoint(Checkpoint("other-origin", 0, EMPTY_ROOT), s),
    ],
    ids=["not-a-note", "not-a-checkpoint", "other-origin"],
)
def test_malformed_checkpoint(make: object) -> None:
    org = Org()
    log = new_log(org, 1)
    log.signed = make(log.signer)  # type: ignore[operator]
    verdict = verify_log(log, org.vkey)
    assert verdict.finding is Finding.MALFORMED_CHECKPOINT, verdict.summary()


def test_roster_from_another_organization() -> None:
    org, other = Org(), Org()
    log = new_log(other, 1)
    verdict = verify_log(log, org.vkey)
    assert verdict.finding is Finding.BAD_ROSTER
    assert verdict.log_vkey is None


def test_roster_rollback_and_equivocation() -> None:
    org = Org()
    log = new_log(org, 1)
    old_roster = log.roster
    log.roster = org.sign(log.signer.vkey())  # version 2
    state = _seen(org, log)
    assert state.roster_seen(org.vkey) is not None
    log.roster = old_roster
    verdict = verify_log(log, org.vkey, state=state)
    assert verdict.finding is Finding.ROSTER_ROLLBACK
    assert "refusing a rollback" in verdict.reason
    # Another roster carrying version 2, signed by the same org key.
    other = Roster(org.key.origin, 2, POLICY_ALLOW_X25519, log.signer.vkey(),
                   expires=org.roster.expires)
    log.roster = sign_roster(other, *org.key.signers())
    verdict = verify_log(log, org.vkey, state=state)
    assert verdict.finding is Finding.ROSTER_ROLLBACK, verdict.summary()
    assert "two different rosters carry version 2" in verdict.reason


def test_roster_without_log_key() -> None:
    org = Org()
    log = new_log(org, 1)
    log.roster = org.sign(None)
    verdict = verify_log(log, org.vkey)
    assert verdict.finding is Finding.NO_LOG_KEY
    assert verdict.summary().startswith("no log key: roster version 2 names no audit log key")


def test_new_log_key_starts_a_new_history() -> None:
    org = Org()
    first = new_log(org, 3, "log-one")
    state = _seen(org, first)
    second = new_log(org, 1, "log-two")
    verdict = verify_log(second, org.vkey, state=state)
    assert verdict.ok and verdict.summary().endswith("first checkpoint seen from this log")
    assert state.checkpoint_seen(org.vkey, first.signer.vkey()) == first.signed
    assert state.checkpoint_seen(org.vkey, second.signer.vkey()) == second.signed


def test_state_holding_a_checkpoint_that_does_not_verify() -> None:
    org = Org()
    log = new_log(org, 2)
    state = AuditState()
    digest = hashlib.sha256(org.roster.format().encode()).digest()
    tampered = log.signed.replace("\n2\n", "\n1\n")
    state.record(org.vkey, org.roster.version, digest, log.signer.vkey(), tampered)
    with pytest.raises(AuditStateError, match="does not verify"):
        verify_log(log, org.vkey, state=state)


# --- full checks ---


def test_full_check_pages_through_every_entry() -> None:
    org = Org()
    log = new_log(org, 10)
    log.max_page = 4
    verdict = verify_log(log, org.vkey, full=True, page_size=5)
    assert verdict.ok and verdict.entries_checked == 10
    assert verdict.summary().endswith(
        "all 10 entries re-hashed: 10 submissions; all 10 undeleted submissions held")
    starts = [c[1] for c in log.calls if c[0] == "entries"]
    assert starts == [0, 4, 8]  # asked for 5, served 4 at most


def test_full_check_of_the_empty_log() -> None:
    org = Org()
    log = new_log(org, 0)
    assert verify_log(log, org.vkey, full=True).ok


@pytest.mark.parametrize("size", [1, 2, 7, 8, 13])
def test_full_check_locates_an_edited_entry(size: int) -> None:
    org = Org()
    for bad in range(size):
        log = new_log(org, size)
        log.served[bad] = submission(500 + bad)
        verdict = verify_log(log, org.vkey, full=True)
        assert verdict.finding is Finding.ENTRIES_MISMATCH
        assert verdict.first_bad_entry == bad
        assert f"entry {bad} is the first that the signed tree does not contain" in verdict.reason
        assert verdict.summary().startswith("entries do not match the checkpoint: the ")


def test_full_check_catches_a_deleted_entry() -> None:
    org = Org()
    log = new_log(org, 9)
    del log.served[4]
    verdict = verify_log(log, org.vkey, full=True)
    assert verdict.finding is Finding.ENTRIES_MISMATCH
    assert verdict.first_bad_entry == 4
    assert verdict.reason.startswith("the server returned no entries from index 8")


def test_full_check_catches_swapped_entries() -> None:
    org = Org()
    log = new_log(org, 9)
    log.served[2], log.served[6] = log.served[6], log.served[2]
    verdict = verify_log(log, org.vkey, full=True)
    assert verdict.finding is Finding.ENTRIES_MISMATCH
    assert verdict.first_bad_entry == 2


def test_full_check_without_proofs_still_refuses() -> None:
    org = Org()
    log = new_log(org, 9)
    log.served[3] = submission(77)
    log.refuse_proofs = True
    verdict = verify_log(log, org.vkey, full=True)
    assert verdict.finding is Finding.ENTRIES_MISMATCH
    assert verdict.first_bad_entry is None
    assert "first that" not in verdict.reason


def test_full_check_server_returning_nothing_or_too_much() -> None:
    org = Org()
    log = new_log(org, 5)
    del log.served[3:]
    verdict = verify_log(log, org.vkey, full=True)
    assert verdict.finding is Finding.ENTRIES_MISMATCH
    assert "returned no entries from index 3" in verdict.reason
    assert verdict.first_bad_entry == 3  # what was served is all in the tree
    log = new_log(org, 5)
    log.entries = lambda start, end: [submission(0)] * (end - start + 1)  # type: ignore[method-assign]
    verdict = verify_log(log, org.vkey, full=True)
    assert verdict.finding is Finding.ENTRIES_MISMATCH
    assert "returned 6 entries for the 5 from index 0" in verdict.reason


def test_full_check_signed_but_malformed_entry() -> None:
    org = Org()
    signer = Signer.generate("log.example")
    entries = [submission(0), access(1), b"junk\n", b"more junk\n"]
    log = FakeLog(signer, org.sign(signer.vkey()), entries)
    verdict = verify_log(log, org.vkey, full=True)
    assert verdict.finding is Finding.MALFORMED_ENTRY
    assert verdict.first_bad_entry == 2
    assert verdict.summary() == (
        "malformed entry: entry 2 is in the signed tree but is not canonical event text"
    )


def test_full_check_failure_does_not_update_the_state() -> None:
    org = Org()
    log = new_log(org, 3)
    state = _seen(org, log)
    log.append(submission(40))
    log.served[0] = submission(41)
    assert verify_log(log, org.vkey, state=state, full=True).finding is Finding.ENTRIES_MISMATCH
    seen = state.checkpoint_seen(org.vkey, log.signer.vkey())
    assert seen is not None and "\n3\n" in seen


def test_page_size_must_be_positive() -> None:
    org = Org()
    with pytest.raises(ValueError, match="page_size"):
        verify_log(new_log(org, 1), org.vkey, page_size=0)


def test_source_errors_propagate() -> None:
    org = Org()
    log = new_log(org, 3)
    state = _seen(org, log)
    log.append(submission(9))
    log.refuse_proofs = True
    with pytest.raises(ConnectionError):
        verify_log(log, org.vkey, state=state)


def test_verifier_of_the_public_key_module_is_used() -> None:
    # The log key is exactly the one the roster names.
    org = Org()
    log = new_log(org, 1)
    verdict = verify_log(log, org.vkey)
    assert verdict.log_vkey is not None
    assert Verifier.from_vkey(verdict.log_vkey).public_key == log.signer.public_key
    assert audit.DEFAULT_PAGE_SIZE == 1000


def test_check_consistent_for_other_callers() -> None:
    org = Org()
    log = new_log(org, 4)
    verifier = log.signer.verifier()
    seen = open_checkpoint(log.signed, verifier, verifier.name)
    log.append(submission(9))
    latest = open_checkpoint(log.signed, verifier, verifier.name)
    assert audit.check_consistent(log, seen, latest) is None
    assert audit.check_consistent(log, seen, seen) is None
    finding, reason = audit.check_consistent(log, latest, seen) or (None, "")
    assert finding is Finding.ROLLBACK
    assert reason == "the log now shows 4 entries, fewer than the 5 of the checkpoint seen before"
    other = FakeLog(log.signer, log.roster, [submission(i + 20) for i in range(6)])
    forked = open_checkpoint(other.signed, verifier, verifier.name)
    result = audit.check_consistent(other, latest, forked)
    assert result is not None and result[0] is Finding.REWRITTEN_HISTORY


def test_full_check_names_each_submission_the_server_no_longer_holds() -> None:
    from vault.events import deletion_event

    org = Org()
    log = new_log(org, 2500)
    log.append(deletion_event(f"{7:032x}", "0123456789abcdef").encode())
    log.dropped |= {f"{7:032x}", f"{3:032x}", f"{2100:032x}"}  # 7 was deleted, with an entry
    verdict = verify_log(log, org.vkey, full=True)
    assert verdict.finding is Finding.MISSING
    assert [(item.id, item.index) for item in verdict.missing] == [
        (f"{3:032x}", 3), (f"{2100:032x}", 2100)]
    assert verdict.summary() == (
        "missing: 2 of the 2499 submissions the log records with no deletion are not held by "
        "the server")
    assert verdict.missing_lines()[0].startswith(
        f"missing: submission {3:032x} (log entry 3, ")
    # A page at a time, then once more for each one missing before it is called missing.
    assert [call for call in log.calls if call[0] == "held"] == [
        ("held", 0, 1000), ("held", 1000, 2000), ("held", 2000, 2501), ("held", 3, 4),
        ("held", 2100, 2101)]


def test_full_check_asks_again_before_calling_a_submission_missing() -> None:
    """A submission logged a moment before it is recorded as held is not reported."""

    class StoredMeanwhile(FakeLog):
        def held(self, start: int, end: int) -> tuple[int, set[str]]:
            answer = super().held(start, end)
            self.dropped.clear()  # stored by the time the auditor asks again
            return answer

    org = Org()
    log = new_log(org, 3)
    late = StoredMeanwhile(log.signer, log.roster, log.served)
    late.dropped.add(f"{1:032x}")
    verdict = verify_log(late, org.vkey, full=True)
    assert verdict.ok, verdict.summary()
    assert [call[0] for call in late.calls].count("held") == 2


def test_the_cosignatures_relied_on_must_be_recent() -> None:
    """A stateless auditor cannot tell an old cosigned checkpoint (a frozen view) from the
    current one by the tree alone; the cosigners' times tell. The vault has them cosign its
    newest checkpoint again every hour, so cosignatures older than a day are refused."""
    org = Org()
    log = new_log(org, 3)
    key = CosignerKey.generate("c.example/cosigner")
    org.roster = org.roster.with_cosigning(
        CosigningPolicy(1, (Cosigner.from_vkeys(*key.vkeys(), "https://c.example"),)))
    log.roster = org.sign(log.signer.vkey())
    plain = log.signed
    body = plain[: plain.rfind("\n\n") + 1]
    now = 1_800_000_000

    def cosigned(at: int) -> str:
        return plain + "".join(signer.sign(body, at).line() for signer in key.signers())

    log.signed = cosigned(now - 3600 - 5)
    fresh = verify_log(log, org.vkey, clock=lambda: now)
    assert fresh.ok, fresh.summary()
    assert "cosigned by c.example/cosigner 1 h ago" in fresh.summary()
    log.signed = cosigned(now - 25 * 3600)
    for state in (None, AuditState()):
        stale = verify_log(log, org.vkey, state=state, clock=lambda: now)
        assert stale.finding is Finding.NOT_COSIGNED
        assert stale.reason.startswith(
            "the latest checkpoint (size 3) was last cosigned 25 h ago, more than 24 h: ")
    assert verify_log(log, org.vkey, clock=lambda: now + 3 * 86400,
                      max_cosigned_age=None).ok
    assert "4 days ago" in verify_log(log, org.vkey, clock=lambda: now + 3 * 86400,
                                      max_cosigned_age=5 * 86400).summary()
    log.signed = cosigned(now - 90)
    assert "1 min ago" in verify_log(log, org.vkey, clock=lambda: now).summary()
    assert "0 s ago" in verify_log(log, org.vkey, clock=lambda: now - 200).summary()
