"""The whole loop through the witness page, in Chromium and in Firefox.

The witness opens /en/ on a real ``amanat serve``, writes a statement carrying a canary,
attaches a photo (GPS position, camera make and model, the canary in a JPEG comment) and a
PDF the page cannot clean (so it asks, and the witness ticks ``input.keep-metadata``), and
sends. Then, with the real commands: ``amanat inbox`` lists the submission, ``amanat open``
recovers the statement intact, the photo without any metadata yet with exactly the
original's pixels, the PDF byte for byte (``metadata_kept``); neither the server's data
directory nor its output ever holds the canary; an investigator's ``amanat reply --case``
is read on /en/replies.html by typing the codename the page showed. Along the way the page
keeps to itself: same-origin requests only, nothing stored, the codename in no URL, no CSP
violation, no console error.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from PIL import Image

from keys.fingerprint import org_fingerprint
from tests.browser.conftest import require_browser_stack, run_scenario
from tests.browser.support import (
    CAMERA_MAKE,
    CAMERA_MODEL,
    GPS_IFD,
    PDF_AUTHOR,
    assert_keeps_to_itself,
    make_gps_jpeg,
    make_pdf,
    pixels,
    tree_containing,
)
from tests.workflows.conftest import World

pytestmark = pytest.mark.slow

REPLY_TEXT = "We have read your testimony. Thank you; we will write again. ✓"
PHOTO_NAME = "IMG_20180312_101010.jpg"
PDF_NAME = "notice-from-the-police.pdf"


@dataclass
class Sent:
    browser: str
    canary: str
    statement: str
    photo: bytes
    pdf: bytes
    result: dict[str, Any]

    @property
    def id(self) -> str:
        receipt_id = (self.result.get("receiptId") or "").strip()
        assert receipt_id, f"the page showed no #receipt-id: {self.result.get('state')}"
        return receipt_id

    @property
    def codename(self) -> str:
        return " ".join((self.result.get("codename") or "").split())


@pytest.fixture(scope="module", params=["chromium", "firefox"])
def sent(request: pytest.FixtureRequest, browser_world: World, artifacts: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Sent:
    browser: str = request.param
    require_browser_stack(browser)
    canary = f"CANARY-{browser}-{secrets.token_hex(8)}"
    statement = (f"My brother was taken from Ghulja in spring 2018. {canary}\n"
                 "ئاكام 2018-يىلى غۇلجىدا تۇتۇلدى. Менің ағам ұсталды.\n")
    files = tmp_path_factory.mktemp(f"witness-files-{browser}")
    photo, pdf = make_gps_jpeg(canary), make_pdf(canary)
    (files / PHOTO_NAME).write_bytes(photo)
    (files / PDF_NAME).write_bytes(pdf)
    result = run_scenario("submit", {
        "browser": browser, "url": browser_world.url, "lang": "en", "statement": statement,
        "files": [str(files / PHOTO_NAME), str(files / PDF_NAME)], "keepMetadata": True,
        "consent": "anonymised", "hideCodename": True, "artifacts": str(artifacts),
        "timeout": 180000}, timeout=300)
    return Sent(browser, canary, statement, photo, pdf, result)


@pytest.fixture(scope="module")
def case(sent: Sent, browser_world: World) -> Path:
    """Investigator A opens the submission with `amanat open`."""
    folder = browser_world.root / f"case-{sent.browser}"
    browser_world.investigator("a", ["open", sent.id, "-o", str(folder)])
    return folder


def test_page_finishes_with_a_verified_receipt_and_a_codename(sent: Sent,
                                                             browser_world: World) -> None:
    result = sent.result
    assert result["state"]["error"] is None, f"the page showed an error: {result['state']}"
    assert result["state"]["done"], result["state"]
    assert re.fullmatch(r"[0-9a-zA-Z_-]{8,}", sent.id), sent.id
    assert result["receiptVerifiedShown"], "#receipt-verified is not shown"
    assert (result["receiptVerified"] or "").strip()
    # The fingerprint shown is that of the organization key the server was given.
    assert " ".join(result["fingerprint"].split()) == org_fingerprint(browser_world.org_vkey)
    words = sent.codename.split()
    assert len(words) == 12 and all(re.fullmatch(r"[a-z]+", w) for w in words), words
    assert result["codenameShown"]
    # Shown once: "done" hides it.
    assert result.get("codenameShownAfterDone") is False
    # Each file got its entry; only the PDF (which cannot be cleaned) asked to keep metadata.
    items = result["fileItems"]
    assert len(items) == 2, items
    assert [item["keep"] for item in items] == [False, True], items
    assert items[1]["kept"] is True
    assert result["marks"]["uploadFull"] is not None, result["marks"]


def test_inbox_lists_it(sent: Sent, browser_world: World) -> None:
    ids = [line[0] for line in browser_world.inbox("a")]
    assert sent.id in ids


def test_open_recovers_the_statement_and_cleaned_files(sent: Sent, case: Path) -> None:
    text = (case / "statement.txt").read_text("utf-8")
    assert sent.canary in text
    assert text.strip() == sent.statement.strip()
    manifest = json.loads((case / "manifest.json").read_bytes())
    attachments = manifest["attachments"]
    assert len(attachments) == 2, attachments
    photo_entry, pdf_entry = attachments
    assert photo_entry["media_type"] == "image/jpeg"
    assert pdf_entry["media_type"] == "application/pdf"
    # The witness's own file names never travel.
    assert PHOTO_NAME not in json.dumps(manifest) and PDF_NAME not in json.dumps(manifest)

    photo = (case / "attachments" / photo_entry["name"]).read_bytes()
    assert photo_entry["metadata_kept"] is False
    assert photo_entry["sha256_before_cleaning"] == hashlib.sha256(sent.photo).hexdigest()
    assert photo_entry["sha256_after_cleaning"] == hashlib.sha256(photo).hexdigest()
    opened = Image.open(io.BytesIO(photo))
    assert len(opened.getexif()) == 0 and not opened.getexif().get_ifd(GPS_IFD)
    for needle in (b"Exif\x00\x00", CAMERA_MAKE.encode(), CAMERA_MODEL.encode(),
                   sent.canary.encode()):
        assert needle not in photo, f"{needle!r} left in the cleaned photo"
    assert "comment" not in opened.info
    # Cleaned without re-encoding: the very same pixels.
    assert pixels(photo) == pixels(sent.photo)

    pdf = (case / "attachments" / pdf_entry["name"]).read_bytes()
    assert pdf == sent.pdf, "the PDF the witness chose to send as it is changed on the way"
    assert pdf_entry["metadata_kept"] is True
    assert pdf_entry["sha256_before_cleaning"] == pdf_entry["sha256_after_cleaning"] == \
        hashlib.sha256(sent.pdf).hexdigest()
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert str(document.docinfo["/Author"]) == PDF_AUTHOR
    answers = json.loads((case / "answers.json").read_bytes())
    assert answers.get("language") == "en"
    assert answers.get("publication_consent") == "anonymised"


def test_server_never_holds_the_canary(sent: Sent, case: Path, browser_world: World) -> None:
    server = browser_world.server
    assert tree_containing(server.data_dir, sent.canary.encode()) == []
    assert sent.canary not in server.output_text()
    # Nor the photo's metadata, nor the file names.
    for needle in (CAMERA_MAKE, PHOTO_NAME, PDF_NAME):
        assert tree_containing(server.data_dir, needle.encode()) == [], needle
        assert needle not in server.output_text(), needle


def test_submission_keeps_to_itself(sent: Sent, browser_world: World) -> None:
    assert_keeps_to_itself(sent.result, browser_world.url, secrets=(sent.codename,),
                           what=f"the submission page in {sent.browser}")


def test_reply_is_read_on_the_replies_page(sent: Sent, case: Path, browser_world: World,
                                           artifacts: Path) -> None:
    done = browser_world.investigator("a", ["reply", sent.id, "--case", str(case),
                                            "--message", REPLY_TEXT])
    assert "left in the witness's mailbox" in done.stdout
    read = run_scenario("replies", {
        "browser": sent.browser, "url": browser_world.url, "lang": "en",
        "codename": sent.codename, "expect": 1, "artifacts": str(artifacts)}, timeout=180)
    assert read["error"].strip() == "", f"the replies page showed an error: {read['error']}"
    assert REPLY_TEXT in [(text or "").strip() for text in read["replies"]], \
        f"replies listed: {read['replies']}; #status: {read['status']!r}"
    assert_keeps_to_itself(read, browser_world.url, secrets=(sent.codename,),
                           what=f"the replies page in {sent.browser}")
