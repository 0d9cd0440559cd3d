"""Guarantee 4 on the investigator's side: a lying server cannot get a swapped or unlogged
testimony opened.

`vault.investigator.open_submission` (what ``amanat open`` runs) decrypts nothing until the
downloaded ciphertext's SHA-256 equals the one in the submission's log entry, that entry is
the one the log serves at its index, and a checkpoint signed by the roster's log key
includes it. Each test makes the server lie in one way and checks that the case folder is
never created.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest

from keys.cosigner import CosignerKey
from keys.roster import expiry_after, sign_roster
from tests.api.conftest import client, data_dir, dev, opened, service
from tests.api.vaultkit import DevKeys
from vault.client import IntegrityError, VaultClient
from vault.investigator import (
    InvestigatorError,
    Session,
    connect,
    delete_submission,
    open_submission,
)
from vault.service.service import VaultService
from vault.tlog.checkpoint import Checkpoint, sign_checkpoint
from vault.tlog.cosigning import Cosigner, CosigningPolicy
from vault.tlog.note import Signer
from vault.witness import build_manifest, sealed_testimony

__all__ = ["client", "data_dir", "dev", "opened", "service"]

CANARY = b"the-statement-of-the-real-witness"


class LyingClient:
    """A real client whose answers can be replaced one method at a time."""

    def __init__(self, real: VaultClient, **lies: Any) -> None:
        self._real = real
        self._lies = lies

    def __getattr__(self, name: str) -> Any:
        return self._lies.get(name) or getattr(self._real, name)


def _submit(vault: VaultClient, dev: DevKeys, statement: str) -> str:
    sealed = sealed_testimony(build_manifest(statement), [], dev.roster())
    return vault.submit(sealed).id


@pytest.fixture
def vault(client: Any) -> VaultClient:
    return VaultClient("http://testserver", transport=client._transport)


@pytest.fixture
def session(vault: VaultClient, dev: DevKeys) -> Session:
    return connect(vault, dev.investigator, org_vkey=dev.org_vkey)


def test_honest_server_opens(session: Session, vault: VaultClient, dev: DevKeys,
                             tmp_path: Path) -> None:
    submission = _submit(vault, dev, CANARY.decode())
    record = open_submission(session, submission, tmp_path / "case")
    assert record.manifest.statement == CANARY.decode()
    assert record.custody["log"]["key_verified_by_organization"] is True  # type: ignore[index]


def test_swapped_ciphertext_is_refused(session: Session, vault: VaultClient, dev: DevKeys,
                                       data_dir: Path, service: VaultService,
                                       tmp_path: Path) -> None:
    """The operator replaces the blob with another testimony sealed to the same roster."""
    real = _submit(vault, dev, CANARY.decode())
    forged = sealed_testimony(build_manifest("a planted statement"), [], dev.roster())
    (data_dir / "blobs" / "submissions" / real).write_bytes(forged)
    with pytest.raises((InvestigatorError, IntegrityError)):
        open_submission(session, real, tmp_path / "case")
    assert not (tmp_path / "case").exists()

    # Also rewriting the database's digest and size: the log entry no longer matches.
    db = service.store._db  # type: ignore[attr-defined]
    db.execute("UPDATE submissions SET sha256 = ?, size = ? WHERE id = ?",
               (hashlib.sha256(forged).hexdigest(), len(forged), real))
    with pytest.raises(InvestigatorError, match="is not the submission the server lists"):
        open_submission(session, real, tmp_path / "case")
    assert not (tmp_path / "case").exists()


def test_download_differing_from_the_listing_is_refused(
        session: Session, vault: VaultClient, dev: DevKeys, tmp_path: Path) -> None:
    """The server lists (and logged) one file but sends another with a matching header."""
    real = _submit(vault, dev, CANARY.decode())
    other = sealed_testimony(build_manifest("another"), [], dev.roster())

    def download(submission_id: str, dst: io.BytesIO, size: int | None = None) -> str:
        dst.write(other)
        return hashlib.sha256(other).hexdigest()

    session.client = LyingClient(vault, download=download)  # type: ignore[assignment]
    with pytest.raises(InvestigatorError, match="refusing to open it"):
        open_submission(session, real, tmp_path / "case")
    assert not (tmp_path / "case").exists()


def test_entry_outside_the_signed_tree_is_refused(
        session: Session, vault: VaultClient, dev: DevKeys, tmp_path: Path) -> None:
    real = _submit(vault, dev, CANARY.decode())
    bad_proofs = LyingClient(vault, inclusion_proof=lambda index, size: [b"\x00" * 32] * 3)
    session.client = bad_proofs  # type: ignore[assignment]
    with pytest.raises(InvestigatorError, match="cannot prove entry"):
        open_submission(session, real, tmp_path / "case")
    assert not (tmp_path / "case").exists()


def test_checkpoint_signed_by_another_key_is_refused(
        session: Session, vault: VaultClient, dev: DevKeys, tmp_path: Path) -> None:
    real = _submit(vault, dev, CANARY.decode())
    log_name = (dev.roster().log_vkey or "").split("+")[0]
    impostor = Signer.generate(log_name)
    fake = sign_checkpoint(Checkpoint(log_name, 1000, b"\x11" * 32), impostor)
    session.client = LyingClient(vault, checkpoint=lambda: fake)  # type: ignore[assignment]
    with pytest.raises(InvestigatorError, match="does not verify under the roster's log key"):
        open_submission(session, real, tmp_path / "case")
    assert not (tmp_path / "case").exists()


def test_entry_served_at_another_index_is_refused(
        session: Session, vault: VaultClient, dev: DevKeys, tmp_path: Path) -> None:
    first = _submit(vault, dev, "first")
    _submit(vault, dev, "second")
    entries = vault.entries

    def shifted(start: int, end: int) -> list[bytes]:
        return entries(start + 1, end + 1)

    session.client = LyingClient(vault, entries=shifted)  # type: ignore[assignment]
    with pytest.raises(InvestigatorError, match="is not the submission the server lists"):
        open_submission(session, first, tmp_path / "case")
    assert not (tmp_path / "case").exists()


def test_a_deletion_the_log_does_not_show_is_reported(
        session: Session, vault: VaultClient, dev: DevKeys) -> None:
    """`amanat delete` checks the entry at the index the server names: a server that
    answers with the index of another entry (here the submission's own) is caught."""
    kept = _submit(vault, dev, "first")
    doomed = _submit(vault, dev, "second")
    submission_index = next(s.log_index for s in vault.iter_submissions() if s.id == doomed)
    real_delete = vault.delete_submission

    def misreported(submission_id: str) -> int:
        real_delete(submission_id)
        return submission_index

    session.client = LyingClient(vault, delete_submission=misreported)  # type: ignore[assignment]
    with pytest.raises(InvestigatorError, match=f"log entry {submission_index} is not its "
                                                f"deletion by {dev.investigator.key_id}"):
        delete_submission(session, doomed)
    session.client = vault
    deletion = delete_submission(session, kept)
    assert (deletion.event.kind, deletion.event.get("id")) == ("deletion", kept)
    assert deletion.tree_size > deletion.index


def test_inbox_names_a_logged_submission_the_server_stops_listing(
        session: Session, vault: VaultClient, dev: DevKeys) -> None:
    """`inbox` compares the listing with the whole log; before accusing, it lists again (a
    submission being stored is logged a moment before it is listed)."""
    from dataclasses import replace

    from vault.investigator import list_inbox, unlisted_submissions

    kept, hidden = _submit(vault, dev, "kept"), _submit(vault, dev, "hidden")
    partial = [info for info in list_inbox(session) if info.id != hidden]
    assert unlisted_submissions(session, partial) == []  # listed again: it is there
    always_hiding = replace(session, client=LyingClient(  # type: ignore[arg-type]
        vault, iter_submissions=lambda: iter(partial)))
    (missing,) = unlisted_submissions(always_hiding, partial)
    assert missing.id == hidden and missing.index == 2
    assert [info.id for info in partial] == [kept]


def test_open_relies_only_on_a_cosigned_checkpoint(vault: VaultClient, dev: DevKeys,
                                                   service: VaultService,
                                                   tmp_path: Path) -> None:
    """With a roster naming cosigners, `open` needs no state: it relies on a checkpoint
    cosigned as the policy requires, and refuses while there is none."""
    key = CosignerKey.generate("c.partner.example/cosigner")
    policy = CosigningPolicy(1, (Cosigner.from_vkeys(*key.vkeys(), "http://127.0.0.1:9"),))
    roster = dev.roster().with_cosigning(policy).with_expiry(expiry_after(30))
    vault.publish_roster(sign_roster(roster, *dev.org.signers()))
    submission = _submit(vault, dev, CANARY.decode())
    session = connect(vault, dev.investigator, org_vkey=dev.org_vkey)
    with pytest.raises(InvestigatorError,
                       match=r"not yet cosigned: 0 of 1 required; fetch again later"):
        open_submission(session, submission, tmp_path / "early")
    assert not (tmp_path / "early").exists()
    # The cosigner cosigns the latest checkpoint (which holds the submission).
    log = service.audit_log
    note = log.latest_checkpoint()
    body = note[: note.rfind("\n\n") + 1]
    log.add_cosignatures(log.size(), [signer.sign(body, 1_800_000_000).line().rstrip("\n")
                                      for signer in key.signers()])
    record = open_submission(session, submission, tmp_path / "case")
    assert record.manifest.statement == CANARY.decode()
