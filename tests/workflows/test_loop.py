"""The whole loop with real processes: submit, inbox, open, reply, replies, roster removal.

A witness submits a statement, a JPEG carrying a GPS position and a PDF naming its author;
investigator A opens it (the position and the author are gone, the manifest holds both hashes,
custody.json records the chain); A replies and the witness reads it with the codename;
B opens it too; once B is removed from the roster, the next testimony is sealed to A alone.
The tests in this module run in order and share the first submission.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from keys.identity import InvestigatorIdentity
from tests.workflows.conftest import (
    PASSPHRASE,
    World,
    amanat,
    base_env,
    codename_from,
    submission_id_from_receipt,
    with_bad_checksum,
)
from vault import age
from vault.client import VaultClient

CANARY = "CANARY-7f3a9c-the-statement-must-not-reach-the-disk"
STATEMENT = f"My brother was taken from Ghulja in spring 2018. {CANARY}\n"
GPS_IFD = 0x8825
AUTHOR = "Gulnar Secret-Author"
PHOTO_NAME = "IMG_20180312_101010.jpg"
REPLY_TEXT = "We received your testimony. Thank you for your courage."


def make_gps_jpeg() -> bytes:
    image = Image.new("RGB", (96, 64), (180, 40, 40))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[GPS_IFD] = {1: "N", 2: (43.0, 50.0, 10.0), 3: "E", 4: (81.0, 19.0, 5.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD)  # the test means something
    return data


def make_authored_pdf() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.docinfo["/Author"] = AUTHOR
    out = io.BytesIO()
    pdf.save(out)
    data = out.getvalue()
    assert AUTHOR.encode() in data
    return data


@dataclass
class Submitted:
    id: str
    codename: str
    stdout: str
    stderr: str
    receipt_path: Path
    home: Path
    tmpdir: Path
    photo: bytes
    pdf: bytes


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*"))


def tree_contains(path: Path, needle: bytes) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.fixture(scope="module")
def submitted(world: World, tmp_path_factory: pytest.TempPathFactory) -> Submitted:
    """The witness submits from a fresh HOME with an empty TMPDIR; the statement comes
    through standard input and the attachments from a folder outside HOME."""
    witness = tmp_path_factory.mktemp("witness")
    home, tmpdir, files, kept = (witness / n for n in ("home", "tmp", "files", "kept"))
    for folder in (home, tmpdir, files, kept):
        folder.mkdir()
    photo, pdf = make_gps_jpeg(), make_authored_pdf()
    (files / PHOTO_NAME).write_bytes(photo)
    (files / "notice.pdf").write_bytes(pdf)
    receipt_path = kept / "receipt.txt"
    env = base_env(HOME=str(home), TMPDIR=str(tmpdir), TMP=str(tmpdir), TEMP=str(tmpdir),
                   XDG_STATE_HOME=str(home / ".local" / "state"),
                   XDG_CACHE_HOME=str(home / ".cache"))
    result = amanat(
        ["submit", "--server", world.url, "--org", world.org_vkey, "--statement", "-",
         "--attach", str(files / PHOTO_NAME), "--attach", str(files / "notice.pdf"),
         "--language", "en", "--consent", "anonymised", "--receipt", str(receipt_path)],
        cwd=home, env=env, stdin=STATEMENT)
    return Submitted(submission_id_from_receipt(receipt_path.read_text("utf-8")),
                     codename_from(result.stderr),
                     result.stdout, result.stderr, receipt_path, home, tmpdir, photo, pdf)


def test_submit_leaves_no_trace(submitted: Submitted) -> None:
    assert files_under(submitted.tmpdir) == []
    assert tree_contains(submitted.home, CANARY.encode()) == []
    assert files_under(submitted.home) == []  # no state, no cache, no receipt unless asked


def test_submit_keeps_a_receipt_that_verifies_only_where_asked(world: World,
                                                               submitted: Submitted) -> None:
    assert submitted.stdout == ""  # never on the screen unless asked for (--receipt -)
    receipt = submitted.receipt_path.read_text("utf-8")
    assert receipt.startswith("c2sp.org/tlog-proof@v1\n")
    assert submission_id_from_receipt(receipt) == submitted.id
    # One line says what was delivered, then the codename comes last.
    lines = submitted.stderr.splitlines()
    (delivered,) = [n for n, line in enumerate(lines) if line.startswith("amanat: delivered ")]
    assert re.fullmatch(r"amanat: delivered \d+\.\d KiB; receipt checked: entry \d+ of the "
                        r"organization's log", lines[delivered]), lines[delivered]
    assert len(lines[delivered]) <= 80
    assert "YOUR CODENAME" in "\n".join(lines[delivered + 1 :])
    assert [line for line in lines if line.strip()][-1] == "=" * 72
    assert "uploading" in submitted.stderr and "(100%)" in submitted.stderr
    assert PHOTO_NAME in submitted.stderr  # shown to the witness, never sealed
    check = amanat(["receipt", "verify", str(submitted.receipt_path), "--org", world.org_vkey,
                    "--server", world.url], cwd=world.root)
    assert submitted.id in check.stdout + check.stderr


def test_inbox_lists_the_submission_id_first(world: World, submitted: Submitted) -> None:
    lines = world.inbox("a")
    # id, size, hour, log index, fingerprint
    assert lines and all(len(line) == 5 for line in lines)
    (listed,) = [line for line in lines if line[0] == submitted.id]
    assert int(listed[1]) > len(STATEMENT) and int(listed[3]) >= 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00Z", listed[2]), listed[2]
    assert re.fullmatch(r"sha256:[0-9a-f]{8}", listed[4]), listed[4]


@pytest.fixture(scope="module")
def case_a(world: World, submitted: Submitted) -> Path:
    case = world.root / "case-a"
    world.investigator("a", ["open", "--state", str(world.root / "audit-a.json"), submitted.id,
                             "-o", str(case)])
    return case


def test_open_removes_metadata_and_keeps_hashes(submitted: Submitted, case_a: Path) -> None:
    assert (case_a / "statement.txt").read_text("utf-8") == STATEMENT
    manifest = json.loads((case_a / "manifest.json").read_bytes())
    by_name = {a["name"]: a for a in manifest["attachments"]}
    assert sorted(by_name) == ["attachment-1.jpg", "attachment-2.pdf"]
    photo = (case_a / "attachments" / "attachment-1.jpg").read_bytes()
    pdf = (case_a / "attachments" / "attachment-2.pdf").read_bytes()
    assert not Image.open(io.BytesIO(photo)).getexif().get_ifd(GPS_IFD)
    assert b"CameraMaker" not in photo
    assert AUTHOR.encode() not in pdf
    with pikepdf.open(io.BytesIO(pdf)) as opened:
        assert "/Author" not in opened.docinfo
    for name, original, extracted in (("attachment-1.jpg", submitted.photo, photo),
                                      ("attachment-2.pdf", submitted.pdf, pdf)):
        entry = by_name[name]
        assert entry["sha256_before_cleaning"] == hashlib.sha256(original).hexdigest()
        assert entry["sha256_after_cleaning"] == hashlib.sha256(extracted).hexdigest()
        assert entry["metadata_kept"] is False
    assert not any(PHOTO_NAME in name for name in os.listdir(case_a / "attachments"))
    answers = json.loads((case_a / "answers.json").read_bytes())
    assert answers == {"language": "en", "persons": [], "publication_consent": "anonymised"}


def test_open_writes_custody_record(world: World, submitted: Submitted, case_a: Path) -> None:
    custody = json.loads((case_a / "custody.json").read_bytes())
    receipt_entry = next(line for line in submitted.receipt_path.read_text("utf-8").splitlines()
                         if line.startswith("extra "))
    assert custody["format"] == "amanat/custody/v1"
    assert custody["submission"]["id"] == submitted.id
    assert custody["log"]["entry"].encode() in base64.b64decode(
        receipt_entry.removeprefix("extra "))
    assert f"sha256 {custody['submission']['ciphertext_sha256']}" in custody["log"]["entry"]
    assert custody["log"]["key"] == world.log_vkey
    assert custody["log"]["key_verified_by_organization"] is True
    assert custody["log"]["index"] == custody["submission"]["log_index"]
    assert custody["log"]["tree_size"] > custody["log"]["index"]
    assert custody["opened_by"] == {"key_id": world.key_ids["a"], "name": "Investigator A"}
    assert custody["opened_at"].endswith("Z")
    manifest_bytes = (case_a / "manifest.json").read_bytes()
    assert custody["manifest"]["sha256"] == hashlib.sha256(manifest_bytes).hexdigest()
    hashes = {a["file"]: a["sha256_before_cleaning"] for a in custody["attachments"]}
    assert hashes["attachments/attachment-1.jpg"] == hashlib.sha256(submitted.photo).hexdigest()


def test_reply_reaches_the_witness(world: World, submitted: Submitted, case_a: Path) -> None:
    sent = world.investigator("a", ["reply", submitted.id, "--case", str(case_a),
                                    "--message", REPLY_TEXT])
    assert "left in the witness's mailbox" in sent.stdout
    read = amanat(["replies", "--server", world.url], cwd=submitted.home,
                  env=base_env(AMANAT_CODENAME=submitted.codename, HOME=str(submitted.home)))
    assert REPLY_TEXT in read.stdout
    assert files_under(submitted.home) == []


def test_reply_without_case_folder_is_refused_and_logs_nothing(
        world: World, submitted: Submitted, case_a: Path) -> None:
    """Fetching the reply address just before replying would log an access next to the
    reply; `reply` needs the case folder `open` made, and sends a second reply with it."""
    with VaultClient(world.url) as client:
        size_before = int(client.checkpoint().splitlines()[1])
    refused = world.investigator("a", ["reply", submitted.id, "--message", "A second answer."],
                                 check=False)
    assert refused.returncode == 1
    assert refused.stderr == (
        "amanat: reply needs --case DIR, the case folder `amanat open` made: fetching the "
        "submission now would log its access right before your reply, and the public log "
        "would link the reply to this submission; open it first, then reply later with "
        "--case\n")
    with VaultClient(world.url) as client:
        assert int(client.checkpoint().splitlines()[1]) == size_before
    answer = world.root / "answer.txt"
    answer.write_text("A second answer.\n", "utf-8")
    world.investigator("a", ["reply", submitted.id, "--case", str(case_a), "--message-file",
                             str(answer)])
    read = amanat(["replies", "--server", world.url], cwd=world.root,
                  env=base_env(AMANAT_CODENAME=submitted.codename.upper()))
    assert REPLY_TEXT in read.stdout and "A second answer." in read.stdout


def test_typo_in_codename_names_the_word(world: World, submitted: Submitted) -> None:
    words = submitted.codename.split()
    words[6] = "notaword"
    typo = amanat(["replies", "--server", world.url], cwd=world.root, check=False,
                  env=base_env(AMANAT_CODENAME=" ".join(words)))
    assert typo.returncode != 0
    assert typo.stderr.count("\n") == 1
    assert "word 7" in typo.stderr and "word list" in typo.stderr
    wrong_checksum = with_bad_checksum(submitted.codename)
    other = amanat(["replies", "--server", world.url], cwd=world.root, check=False,
                   env=base_env(AMANAT_CODENAME=wrong_checksum))
    assert other.returncode != 0
    assert other.stderr.count("\n") == 1 and "checksum" in other.stderr


def test_investigator_b_opens_it_too(world: World, submitted: Submitted) -> None:
    case = world.root / "case-b"
    opened = world.investigator("b", ["open", submitted.id, "-o", str(case)])
    assert (case / "statement.txt").read_text("utf-8") == STATEMENT
    # The download's progress, on stderr (one line at the end when not on a terminal).
    assert re.search(r"^downloading [\d.]+ (B|KiB) of [\d.]+ (B|KiB) \(100%\), .*/s, in 0:0\d$",
                     opened.stderr, re.MULTILINE), opened.stderr
    custody = json.loads((case / "custody.json").read_bytes())
    assert custody["opened_by"] == {"key_id": world.key_ids["b"], "name": "Investigator B"}


def test_open_with_state_checks_consistency(world: World, submitted: Submitted,
                                            case_a: Path) -> None:
    case = world.root / "case-a-again"
    opened = world.investigator("a", ["open", "--state", str(world.root / "audit-a.json"),
                                      submitted.id, "-o", str(case)])
    assert "extends the checkpoint of size" in opened.stdout
    custody = json.loads((case / "custody.json").read_bytes())
    assert custody["log"]["extends_remembered_size"] is not None


def test_removed_investigator_gets_nothing_new(world: World, tmp_path: Path) -> None:
    """Runs last: removes B from the roster for the rest of the session."""
    world.admin_run(["roster", "remove", "--org", "org.key", "--roster", "roster.txt",
                     world.key_ids["b"]])
    world.publish_roster()
    later = amanat(["submit", "--server", world.url, "--org", world.org_vkey, "--statement",
                    "-", "--no-reply", "--receipt", "-"], cwd=tmp_path,
                   stdin="After the roster change.\n")
    newest = submission_id_from_receipt(later.stdout)
    assert "CODENAME" not in later.stderr

    refused = world.investigator("b", ["open", newest, "-o", str(tmp_path / "case-b")],
                                 check=False)
    assert refused.returncode != 0
    assert "not on the current roster" in refused.stderr
    assert not (tmp_path / "case-b").exists()

    identity_a = InvestigatorIdentity.unseal(Path(world.identity("a")).read_bytes(), PASSPHRASE)
    with VaultClient(world.url) as client:
        client.login(identity_a.key_id,
                     identity_a.sign_login, world.log_vkey)
        sealed = io.BytesIO()
        client.download(newest, sealed)
    header = age.inspect_header(io.BytesIO(sealed.getvalue()))
    assert len(header.stanzas) == 1  # sealed to A alone
    (tmp_path / "newest.age").write_bytes(sealed.getvalue())
    no_match = amanat(["decrypt", "-i", world.identity("b"), str(tmp_path / "newest.age")],
                      cwd=tmp_path, env=world.investigator_env(), check=False)
    assert no_match.returncode != 0
    assert "no identity matched" in no_match.stderr

    world.investigator("a", ["open", newest, "-o", str(tmp_path / "case-a")])
    assert (tmp_path / "case-a" / "statement.txt").read_text("utf-8") == \
        "After the roster change.\n"
    custody = json.loads((tmp_path / "case-a" / "custody.json").read_bytes())
    assert custody["manifest"]["reply_possible"] is False
