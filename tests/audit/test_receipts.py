"""`vault.audit` receipts: the file format, offline and online verification, every refusal."""

from __future__ import annotations

import pytest

from tests.audit.fakes import (
    FakeLog,
    Org,
    access,
    new_log,
    receipt_file,
    server_receipt,
    submission,
)
from vault.audit import Finding, receipt_file_text, verify_submission_receipt
from vault.events import EventError, parse_event
from vault.tlog.checkpoint import Checkpoint, sign_checkpoint
from vault.tlog.note import Signer
from vault.tlog.proof import Receipt, ReceiptError


def test_receipt_file_is_a_tlog_proof_carrying_the_entry() -> None:
    org = Org()
    log = new_log(org, 5)
    text = receipt_file(log, 3)
    parsed = Receipt.parse(text)
    assert parsed.extra == submission(3)
    assert parsed.index == 3
    assert text.startswith("c2sp.org/tlog-proof@v1\nextra ")
    # Bytes work too, and a receipt already carrying the same entry is accepted as is.
    assert receipt_file_text(submission(3), text) == text


def test_receipt_file_refuses_other_events_and_other_extra() -> None:
    org = Org()
    log = new_log(org, 5)
    with pytest.raises(EventError, match="not an event of kind access"):
        receipt_file_text(access(1), server_receipt(log, 1))
    with pytest.raises(EventError):
        receipt_file_text(b"junk\n", server_receipt(log, 1))
    with pytest.raises(ReceiptError, match="other extra data"):
        receipt_file_text(submission(2), receipt_file(log, 1))


def test_offline_receipt_verifies_and_names_the_submission() -> None:
    org = Org()
    log = new_log(org, 6)
    verdict = verify_submission_receipt(receipt_file(log, 4), org.vkey, log.roster)
    assert verdict.ok, verdict.summary()
    assert verdict.index == 4 and verdict.checkpoint is not None
    assert verdict.event == parse_event(submission(4))
    assert verdict.latest is None
    summary = verdict.summary()
    assert summary.startswith(f"ok: submission {4:032x} (sha256 ")
    assert "is entry 4 of the log at size 6, root " in summary


def test_every_flipped_byte_is_refused() -> None:
    org = Org()
    log = new_log(org, 6)
    text = receipt_file(log, 2).encode()
    refused: dict[Finding, int] = {}
    for position in range(len(text)):
        for mask in (0x01, 0x80):
            altered = bytearray(text)
            altered[position] ^= mask
            try:
                candidate = altered.decode("utf-8")
            except UnicodeDecodeError:
                continue  # not text: the CLI refuses it before verification
            verdict = verify_submission_receipt(candidate, org.vkey, log.roster)
            assert not verdict.ok, (position, mask)
            refused[verdict.finding] = refused.get(verdict.finding, 0) + 1
    assert {
        Finding.MALFORMED_RECEIPT,
        Finding.NOT_A_SUBMISSION,
        Finding.NOT_INCLUDED,
        Finding.BAD_SIGNATURE,
    } <= set(refused)


@pytest.mark.parametrize("index", [0, 1, 3, 5, 6, 99])
def test_wrong_index_is_refused(index: int) -> None:
    org = Org()
    log = new_log(org, 6)
    good = Receipt.parse(receipt_file(log, 2))
    moved = Receipt(index, good.proof, good.checkpoint, good.extra).format()
    verdict = verify_submission_receipt(moved, org.vkey, log.roster)
    assert verdict.finding is Finding.NOT_INCLUDED, verdict.summary()
    assert verdict.summary().startswith(
        f"entry not in the log: the inclusion proof does not put this submission at index {index}"
    )


def test_other_entry_at_that_index_is_refused() -> None:
    org = Org()
    log = new_log(org, 6)
    good = Receipt.parse(receipt_file(log, 2))
    swapped = Receipt(2, good.proof, good.checkpoint, submission(3)).format()
    assert verify_submission_receipt(swapped, org.vkey, log.roster).finding is Finding.NOT_INCLUDED


def test_checkpoint_signed_by_another_key_is_refused() -> None:
    org = Org()
    log = new_log(org, 6)
    impostor = Signer.generate(log.signer.name)
    good = Receipt.parse(receipt_file(log, 2))
    body = Checkpoint(impostor.name, 6, log.tree.root())
    forged = Receipt(2, good.proof, sign_checkpoint(body, impostor), good.extra).format()
    verdict = verify_submission_receipt(forged, org.vkey, log.roster)
    assert verdict.finding is Finding.BAD_SIGNATURE
    assert "the receipt's checkpoint is not signed by the log key" in verdict.reason


def test_roster_naming_another_log_key_is_refused() -> None:
    org = Org()
    log = new_log(org, 6)
    text = receipt_file(log, 2)
    other_roster = org.sign(Signer.generate("log.example").vkey())
    verdict = verify_submission_receipt(text, org.vkey, other_roster)
    assert verdict.finding is Finding.BAD_SIGNATURE


def test_roster_problems() -> None:
    org, other = Org(), Org()
    log = new_log(org, 2)
    text = receipt_file(log, 1)
    assert verify_submission_receipt(text, other.vkey, log.roster).finding is Finding.BAD_ROSTER
    no_log = org.sign(None)
    verdict = verify_submission_receipt(text, org.vkey, no_log)
    assert verdict.finding is Finding.NO_LOG_KEY


def test_malformed_receipts() -> None:
    org = Org()
    log = new_log(org, 3)
    for text in ("", "hello\n\nworld", server_receipt(log, 1)):
        verdict = verify_submission_receipt(text, org.vkey, log.roster)
        assert verdict.finding is Finding.MALFORMED_RECEIPT, text
    verdict = verify_submission_receipt(server_receipt(log, 1), org.vkey, log.roster)
    assert "carries no log entry" in verdict.reason


def test_receipt_for_another_kind_of_entry() -> None:
    org = Org()
    signer = Signer.generate("log.example")
    log = FakeLog(signer, org.sign(signer.vkey()), [submission(0), access(1), b"junk\n"])
    reasons = {1: "an event of kind access, not a submission", 2: "event text must start"}
    for index, reason in reasons.items():
        good = Receipt.parse(server_receipt(log, index))
        text = Receipt(index, good.proof, good.checkpoint, log.served[index]).format()
        verdict = verify_submission_receipt(text, org.vkey, log.roster)
        assert verdict.finding is Finding.NOT_A_SUBMISSION
        assert reason in verdict.reason


def test_malformed_checkpoint_in_receipt() -> None:
    org = Org()
    log = new_log(org, 3)
    good = Receipt.parse(receipt_file(log, 1))
    bad = Receipt(1, good.proof, "no signature here\n", good.extra).format()
    verdict = verify_submission_receipt(bad, org.vkey, log.roster)
    assert verdict.finding is Finding.MALFORMED_CHECKPOINT


# --- online ---


def test_online_receipt_checks_the_log_still_extends_it() -> None:
    org = Org()
    log = new_log(org, 5)
    text = receipt_file(log, 4)
    log.append(submission(20), submission(21), submission(22))
    verdict = verify_submission_receipt(text, org.vkey, log.roster, source=log)
    assert verdict.ok, verdict.summary()
    assert verdict.latest is not None and verdict.latest.size == 8
    assert verdict.signed_latest == log.signed
    assert verdict.summary().endswith(
        "; the log at size 8 still contains it, and the server still holds it")
    assert ("consistency", 5, 8) in log.calls


def test_online_receipt_against_the_same_checkpoint() -> None:
    org = Org()
    log = new_log(org, 5)
    verdict = verify_submission_receipt(receipt_file(log, 1), org.vkey, log.roster, source=log)
    assert verdict.ok and log.calls == [("held", 1, 2)]  # no proof needed, only presence


def test_online_receipt_rollback_fork_rewrite_and_bad_signature() -> None:
    org = Org()
    log = new_log(org, 5)
    text = receipt_file(log, 4)
    older = FakeLog(log.signer, log.roster, log.served[:4])
    assert (
        verify_submission_receipt(text, org.vkey, log.roster, source=older).finding
        is Finding.ROLLBACK
    )
    fork = FakeLog(log.signer, log.roster, [*log.served[:4], submission(50)])
    verdict = verify_submission_receipt(text, org.vkey, log.roster, source=fork)
    assert verdict.finding is Finding.FORK
    assert verdict.reason.startswith("the log signed two different roots for size 5: ")
    assert "(in the receipt) and " in verdict.reason
    rewritten = FakeLog(log.signer, log.roster, [submission(60 + i) for i in range(9)])
    verdict = verify_submission_receipt(text, org.vkey, log.roster, source=rewritten)
    assert verdict.finding is Finding.REWRITTEN_HISTORY
    impostor = FakeLog(Signer.generate(log.signer.name), log.roster, log.served)
    verdict = verify_submission_receipt(text, org.vkey, log.roster, source=impostor)
    assert verdict.finding is Finding.BAD_SIGNATURE
    assert "the log's latest checkpoint is not signed" in verdict.reason


def test_online_receipt_of_a_deleted_or_dropped_submission() -> None:
    from vault.events import deletion_event

    org = Org()
    log = new_log(org, 4)
    deleted, dropped = receipt_file(log, 1), receipt_file(log, 2)
    log.append(deletion_event(f"{1:032x}", "0123456789abcdef").encode())
    verdict = verify_submission_receipt(deleted, org.vkey, log.roster, source=log)
    assert verdict.finding is Finding.DELETED
    assert verdict.summary() == (
        f"deleted: submission {1:032x} (log entry 1) is no longer held: log entry 4 "
        f"({parse_event(submission(1)).time}) records its deletion by 0123456789abcdef")
    assert ("inclusion", 4, 5) in log.calls  # the deletion entry is proved, not believed
    log.dropped.add(f"{2:032x}")
    verdict = verify_submission_receipt(dropped, org.vkey, log.roster, source=log)
    assert verdict.finding is Finding.MISSING
    assert verdict.summary() == (
        f"missing: submission {2:032x} (log entry 2, {parse_event(submission(2)).time}, "
        "1002 bytes) is in the log with no deletion, but the server does not hold it")
    # A deletion entry the signed tree does not hold is not believed.
    log.served[4] = deletion_event(f"{2:032x}", "0123456789abcdef").encode()
    verdict = verify_submission_receipt(dropped, org.vkey, log.roster, source=log)
    assert verdict.finding is Finding.MISSING
