"""Fixtures shared by the witness-side tests."""

from __future__ import annotations

import hashlib

import pytest

from vault import age
from vault.testimony import Attachment, Detention, Hometown, Manifest, Person, Reply


@pytest.fixture(scope="session")
def reply_recipient() -> str:
    return str(age.MLKEM768X25519Identity.from_seed(bytes(range(32))).recipient())


def make_attachment(name: str, content: bytes, *, original: bytes = b"original") -> Attachment:
    return Attachment(
        name=name,
        media_type="application/octet-stream",
        size=len(content),
        sha256_before_cleaning=hashlib.sha256(original).hexdigest(),
        sha256_after_cleaning=hashlib.sha256(content).hexdigest(),
        metadata_kept=False,
    )


@pytest.fixture
def full_manifest(reply_recipient: str) -> Manifest:
    return Manifest(
        language="ug-Arab",
        statement="ئاكام 2018-يىلى ئېلىپ كېتىلدى. Менің ағам лагерьде.",
        publication_consent="anonymised",
        persons=(
            Person(
                status="camp",
                name_native="ئابدۇرېھىم",
                name_latin="Abdurehim",
                gender="male",
                birth_year=1968,
                ethnicity="Uyghur",
                hometown=Hometown(prefecture="Ili", county="Ghulja", village="Bayandai"),
                detention=Detention(date="2018-21", place="a school turned into a camp"),
                relation="brother",
                how_known="family",
                how_known_details="our mother told me on the phone",
            ),
            Person(status="unknown", name_latin="Gulnar", how_known="witnessed"),
        ),
        attachments=(make_attachment("notice.jpg", b"\xff\xd8\xff cleaned"),),
        reply=Reply(recipient=reply_recipient, mailbox_id="ab" * 32),
    )
