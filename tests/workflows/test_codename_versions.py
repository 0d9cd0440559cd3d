"""Codenames from before derivation version 2 still find their replies.

A witness who submitted with a version 1 reply address (manifest ``amanat/testimony/v1``,
Argon2id) types the same twelve words into today's ``amanat replies``: it asks the version 2
and the version 1 mailboxes and shows the replies of both, oldest first. New testimony
(``submit``, also ``--reuse-codename`` with an old codename) carries a version 2 address and
says so in its manifest (``amanat/testimony/v2``); the investigator's ``open`` reads both.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from tests.workflows.conftest import (
    World,
    amanat,
    base_env,
    codename_from,
    submission_id_from_receipt,
)
from vault.client import VaultClient
from vault.codename import derive, new_codename
from vault.testimony import SCHEMA_ID, SCHEMA_ID_V1, Manifest, Reply
from vault.witness import deliver, sealed_testimony, verified_roster


def _submit_v1(world: World, codename: str, statement: str) -> str:
    """A testimony as a client from before version 2 sent it: v1 address, v1 manifest."""
    old = derive(codename, 1)
    manifest = Manifest(language="en", statement=statement, publication_consent="none",
                        reply=Reply(str(old.reply_identity.recipient()), old.mailbox_id),
                        schema=SCHEMA_ID_V1)
    with VaultClient(world.url) as client:
        roster = verified_roster(client.roster_text(), world.org_vkey)
        sealed = sealed_testimony(manifest, [], roster)
        receipt = deliver(client, io.BytesIO(sealed))
    return receipt.id


def _answer(world: World, tmp_path: Path, submission: str, message: str) -> dict[str, object]:
    case = tmp_path / f"case-{submission[:8]}"
    world.investigator("a", ["open", submission, "-o", str(case)])
    world.investigator("a", ["reply", submission, "--case", str(case), "--message", message])
    manifest: dict[str, object] = json.loads((case / "manifest.json").read_bytes())
    return manifest


def _replies(world: World, tmp_path: Path, codename: str) -> str:
    return amanat(["replies", "--server", world.url], cwd=tmp_path,
                  env=base_env(HOME=str(tmp_path), AMANAT_CODENAME=codename)).stdout


def test_a_version_1_codename_reads_old_and_new_replies(world: World, tmp_path: Path) -> None:
    codename = new_codename()
    first = _submit_v1(world, codename, "Sent with an old client.\n")
    manifest = _answer(world, tmp_path, first, "Answer to the old testimony.")
    assert manifest["schema"] == SCHEMA_ID_V1
    assert manifest["reply"] == {"recipient": str(derive(codename, 1).reply_identity
                                                  .recipient()),
                                 "mailbox_id": derive(codename, 1).mailbox_id}
    assert "Answer to the old testimony." in _replies(world, tmp_path, codename)

    # The same words, reused by today's client: a version 2 address, a v2 manifest.
    again = amanat(["submit", "--server", world.url, "--org", world.org_vkey, "--statement",
                    "-", "--receipt", "-", "--reuse-codename"], cwd=tmp_path,
                   env=base_env(HOME=str(tmp_path), AMANAT_CODENAME=codename.upper()),
                   stdin="Sent with today's client.\n")
    second = submission_id_from_receipt(again.stdout)
    manifest = _answer(world, tmp_path, second, "Answer to the new testimony.")
    assert manifest["schema"] == SCHEMA_ID
    assert manifest["reply"] == {"recipient": str(derive(codename).reply_identity.recipient()),
                                 "mailbox_id": derive(codename).mailbox_id}
    shown = _replies(world, tmp_path, codename)
    answers = re.findall(r"Answer to the (old|new) testimony\.", shown)
    assert answers == ["old", "new"]  # both mailboxes, merged, oldest first


def test_a_new_codename_reads_its_replies_and_no_one_elses(world: World,
                                                            tmp_path: Path) -> None:
    done = amanat(["submit", "--server", world.url, "--org", world.org_vkey, "--statement",
                   "-", "--receipt", "-"], cwd=tmp_path, env=base_env(HOME=str(tmp_path)),
                  stdin="A new witness.\n")
    codename = codename_from(done.stderr)
    _answer(world, tmp_path, submission_id_from_receipt(done.stdout), "Only for you.")
    assert "Only for you." in _replies(world, tmp_path, codename)
    assert "Only for you." not in _replies(world, tmp_path, new_codename())


def test_open_shows_how_to_turn_an_image_upright(world: World, tmp_path: Path) -> None:
    """The web page removes a photo's metadata without re-encoding it and records its EXIF
    orientation (schema v2); `open` says how to show it upright."""
    import hashlib

    from vault.testimony import Attachment
    from vault.witness import PreparedAttachment

    photo = b"\xff\xd8\xff\xdb" + bytes(200) + b"\xff\xd9"
    digest = hashlib.sha256(photo).hexdigest()
    attachments = [PreparedAttachment(Attachment(f"attachment-{n}.jpg", "image/jpeg",
                                                 len(photo), digest, digest, False, turn),
                                      photo, f"IMG_{n}.jpg")
                   for n, turn in ((1, 6), (2, None), (3, 1))]
    manifest = Manifest(language="en", statement="", publication_consent="none",
                        attachments=tuple(a.attachment for a in attachments))
    with VaultClient(world.url) as client:
        roster = verified_roster(client.roster_text(), world.org_vkey)
        receipt = deliver(client, io.BytesIO(sealed_testimony(manifest, attachments, roster)))
    opened = world.investigator("a", ["open", receipt.id, "-o", str(tmp_path / "case")])
    assert opened.stdout.count("to show it upright") == 1
    assert re.search(r"attachment-1\.jpg .*\n +to show it upright: rotate it 90° clockwise "
                     r"\(EXIF orientation 6", opened.stdout), opened.stdout
    saved = json.loads((tmp_path / "case" / "manifest.json").read_bytes())
    assert [a.get("orientation") for a in saved["attachments"]] == [6, None, 1]
