"""Witness workflows: build a testimony, seal it to the roster, deliver it, read replies.

Every witness front end (the ``amanat submit / seal / upload / replies`` commands, later the
web page and its API) calls these functions, so the rules that keep a witness safe live here:

* **Only the roster's investigators can read it** (guarantees 1 and 5). Recipient keys come
  only from a roster that verifies under the organization key the witness pinned out of band
  (`verified_roster`); the testimony is sealed with age to every reader on it, nobody else.
* **Nothing that reaches the server identifies the witness** (guarantee 2). Attachments are
  cleaned of metadata (`vault.scrub.clean`) and renamed to neutral names (``attachment-1.jpg``:
  a camera's file name carries the time a photo was taken); the bundle is padded (PADMÉ) so
  its length leaks O(log log n) bits; the manifest holds no time and no device name.
* **Nothing on the witness's device survives** (guarantee 3). The plaintext bundle exists only
  in memory: it is built as a stream and sealed chunk by chunk; only ciphertext is held (in
  memory for `submit`, in the ``-o`` file for `seal`), never plaintext in a file, a temporary
  file or a cache. No roster state is written unless the witness asks
  for it; the codename is returned to be shown once and never stored.
* **Nobody can silently drop it** (guarantee 4). The server's receipt must prove, under the log
  key named in the verified roster, that the log holds an entry for exactly these ciphertext
  bytes (`checked_receipt`); the receipt file is the one ``amanat receipt verify`` reads.

Errors a witness can act on are `WitnessError` (a ValueError); its message is one line.
"""

from __future__ import annotations

import io
import json
import mimetypes
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Final

from keys.errors import RosterError
from keys.roster import Roster, RosterState, read_roster_unverified, verify_roster
from vault import age
from vault.audit import receipt_file_text, verify_submission_receipt
from vault.bundle import bundle_stream
from vault.client import SubmissionReceipt, TransportError, VaultClient
from vault.codename import CodenameKeys, derive, new_codename
from vault.events import KIND_SUBMISSION, EventError, parse_event
from vault.testimony import (
    CONSENT_LEVELS,
    SCHEMA_ID,
    Attachment,
    Manifest,
    ManifestError,
    Person,
    Reply,
    validate_answers,
)
from vault.tlog.merkle import MerkleError
from vault.tlog.note import NoteError, Verifier
from vault.tlog.proof import verify_receipt

__all__ = [
    "DEFAULT_LANGUAGE",
    "ChosenFile",
    "FormError",
    "OpenedReply",
    "PreparedAttachment",
    "ReceiptCheck",
    "WitnessError",
    "build_manifest",
    "checked_receipt",
    "deliver",
    "fetch_replies",
    "neutral_name",
    "new_reply_address",
    "prepare_attachments",
    "read_form",
    "seal_testimony",
    "sealed_testimony",
    "verified_roster",
]

DEFAULT_LANGUAGE: Final = "und"  # BCP 47 "undetermined"
UPLOAD_CHUNK_BYTES: Final = 1024 * 1024
UPLOAD_ATTEMPTS: Final = 5

# Extensions for neutral attachment names, by the media type found in the content.
_EXTENSIONS: Final = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/tiff": ".tif",
    "image/gif": ".gif",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/vnd.oasis.opendocument.presentation": ".odp",
    "application/octet-stream": ".bin",
}
_FORM_FIELDS: Final = ("persons",)


class WitnessError(ValueError):
    """A witness workflow cannot go on; the message (one line) says why and what to do."""


class FormError(WitnessError):
    """The answers file has problems; ``problems`` holds one actionable line for each."""

    def __init__(self, message: str, problems: Sequence[str]) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


# --- the roster -----------------------------------------------------------------------------


def verified_roster(signed: str, org_vkey: str, *, state: RosterState | None = None) -> Roster:
    """The roster in ``signed`` if it verifies under the pinned ``org_vkey``.

    ``state`` (opt-in) refuses a roster older than one seen before, and remembers this one;
    without it nothing is written anywhere. Raises WitnessError naming the problem.
    """
    try:
        roster = verify_roster(signed, org_vkey, state=state)
        roster.recipients()  # refuse a roster nothing can be sealed to, before any work
    except RosterError as exc:
        raise WitnessError(f"refusing the roster: {exc}") from None
    return roster


# --- what the witness says ------------------------------------------------------------------


def read_form(data: bytes, *, language: str = DEFAULT_LANGUAGE,
              consent: str = "none") -> tuple[Person, ...]:
    """The detained persons described in an answers file (JSON).

    The file is either a JSON object ``{"persons": [...]}`` or just the list of persons, each
    as in the manifest schema (``docs/testimony.schema.json``). Every problem is reported at
    once, one line each (``person 2: status is missing``), in a FormError.
    """
    try:
        obj: Any = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise FormError("the answers file is not UTF-8 text",
                        ["the answers file is not UTF-8 text"]) from None
    except ValueError as exc:
        line = f"the answers file is not JSON: {exc}"
        raise FormError(line, [line]) from None
    if isinstance(obj, list):
        obj = {"persons": obj}
    if not isinstance(obj, dict):
        line = 'the answers file must be a JSON object {"persons": [...]} or a list of persons'
        raise FormError(line, [line])
    problems = [
        f"unknown field {key!r} (an answers file holds only \"persons\")"
        for key in sorted(obj) if key not in _FORM_FIELDS
    ]
    persons = obj.get("persons", [])
    candidate = {
        "schema": SCHEMA_ID,
        "language": language,
        "statement": "",
        "publication_consent": consent,
        "persons": persons,
        "attachments": [],
    }
    problems.extend(problem.message for problem in validate_answers(candidate))
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        raise FormError(f"the answers have {count}", problems)
    return Manifest.from_dict(candidate).persons


@dataclass(frozen=True)
class ChosenFile:
    """A file the witness chose to attach. ``name`` is shown back to them, never sealed."""

    name: str
    data: bytes
    keep_metadata: bool = False


@dataclass(frozen=True)
class PreparedAttachment:
    """A cleaned attachment under its neutral name, ready for the bundle."""

    attachment: Attachment
    data: bytes
    chosen_name: str


def neutral_name(position: int, media_type: str) -> str:
    """``attachment-<position><ext>``, the extension from the media type the content has."""
    extension = _EXTENSIONS.get(media_type) or mimetypes.guess_extension(media_type) or ".bin"
    return f"attachment-{position}{extension}"


def prepare_attachments(files: Sequence[ChosenFile]) -> list[PreparedAttachment]:
    """Clean every file's metadata (unless kept on purpose) and give it a neutral name.

    Raises WitnessError naming the file that cannot be cleaned (the message suggests keeping
    its metadata knowingly, or converting it).
    """
    from vault.scrub import ScrubError, clean  # the image and PDF libraries load only here

    prepared: list[PreparedAttachment] = []
    for position, chosen in enumerate(files, start=1):
        try:
            cleaned = clean(chosen.data, chosen.name, keep_metadata=chosen.keep_metadata)
        except ScrubError as exc:
            raise WitnessError(str(exc)) from None
        attachment = Attachment(
            name=neutral_name(position, cleaned.media_type),
            media_type=cleaned.media_type,
            size=len(cleaned.data),
            sha256_before_cleaning=cleaned.sha256_before,
            sha256_after_cleaning=cleaned.sha256_after,
            metadata_kept=cleaned.kept_metadata,
        )
        prepared.append(PreparedAttachment(attachment, cleaned.data, chosen.name))
    return prepared


def new_reply_address() -> tuple[str, Reply]:
    """A fresh codename and the reply address it derives (recipient and mailbox id).

    The codename is the witness's only way to read replies: show it once, never store it.
    """
    codename = new_codename()
    keys: CodenameKeys = derive(codename)
    return codename, Reply(recipient=str(keys.reply_identity.recipient()),
                           mailbox_id=keys.mailbox_id)


def build_manifest(
    statement: str,
    *,
    language: str = DEFAULT_LANGUAGE,
    consent: str = "none",
    persons: Sequence[Person] = (),
    attachments: Sequence[PreparedAttachment] = (),
    reply: Reply | None = None,
) -> Manifest:
    """The testimony's manifest; WitnessError listing the problems if it is not valid."""
    if consent not in CONSENT_LEVELS:
        raise WitnessError(f"consent must be one of {', '.join(CONSENT_LEVELS)}")
    manifest = Manifest(
        language=language,
        statement=statement,
        publication_consent=consent,
        persons=tuple(persons),
        attachments=tuple(p.attachment for p in attachments),
        reply=reply,
    )
    try:
        manifest.to_json()
    except ManifestError as exc:
        raise WitnessError(str(exc)) from None
    return manifest


# --- sealing --------------------------------------------------------------------------------


def _contents(attachments: Sequence[PreparedAttachment]) -> Mapping[str, bytes]:
    return {p.attachment.name: p.data for p in attachments}


def seal_testimony(manifest: Manifest, attachments: Sequence[PreparedAttachment],
                   roster: Roster, dst: BinaryIO) -> None:
    """Write the age file sealing the padded bundle to every reader on ``roster`` to ``dst``.

    The bundle is generated as a stream and encrypted chunk by chunk: no plaintext is
    written anywhere. ``dst`` receives only ciphertext.
    """
    source = bundle_stream(manifest, _contents(attachments))
    age.encrypt(source, dst, roster.recipients())


def sealed_testimony(manifest: Manifest, attachments: Sequence[PreparedAttachment],
                     roster: Roster) -> bytes:
    """The sealed testimony as bytes in memory (see `seal_testimony`)."""
    out = io.BytesIO()
    seal_testimony(manifest, attachments, roster, out)
    return out.getvalue()


# --- delivery -------------------------------------------------------------------------------


def deliver(
    client: VaultClient,
    sealed: BinaryIO,
    *,
    progress: Callable[[int], None] | None = None,
    attempts: int = UPLOAD_ATTEMPTS,
    chunk_bytes: int = UPLOAD_CHUNK_BYTES,
) -> SubmissionReceipt:
    """Upload a sealed file with the resumable protocol and return the server's receipt.

    A dropped connection is resumed from the offset the server holds, up to ``attempts``
    times in a row; ``progress`` is called with the bytes the server has. The receipt is not
    verified here: call `checked_receipt`.
    """
    upload_id: str | None = None
    failures = 0
    while True:
        try:
            if upload_id is None:
                upload_id = client.create_upload()
            return client.upload(sealed, upload_id=upload_id, chunk_bytes=chunk_bytes,
                                 retries=attempts, progress=progress)
        except TransportError:
            failures += 1
            if failures >= attempts:
                raise
            time.sleep(min(5.0, 0.5 * failures))


@dataclass(frozen=True)
class ReceiptCheck:
    """A verified receipt: the file text to keep (only if asked) and what it proves."""

    receipt_file: str
    summary: str
    log_key_pinned: bool


def _check_entry(receipt: SubmissionReceipt, sha256: str, size: int) -> None:
    try:
        event = parse_event(receipt.entry.encode("ascii"))
    except (EventError, UnicodeEncodeError):
        raise WitnessError("the server's receipt names no valid log entry") from None
    if event.kind != KIND_SUBMISSION:
        raise WitnessError(f"the server's receipt is for a {event.kind} entry, not a submission")
    if (event.get("id"), event.get("sha256"), event.get("size")) != (
            receipt.id, sha256, str(size)):
        raise WitnessError(
            "the server's log entry does not name the bytes that were sent "
            f"(expected sha256 {sha256}, {size} bytes)"
        )


def checked_receipt(
    receipt: SubmissionReceipt,
    *,
    sha256: str,
    size: int,
    roster_text: str,
    org_vkey: str | None,
) -> ReceiptCheck:
    """Verify that the log holds an entry for exactly the sealed bytes sent.

    With ``org_vkey`` the log key comes from ``roster_text`` verified under it. Without it (an
    upload of a file sealed earlier, no key given) the log key is the one the server's roster
    names, unverified: the receipt then proves consistency with the server, not with the
    organization, and ``log_key_pinned`` is False. Raises WitnessError.
    """
    _check_entry(receipt, sha256, size)
    try:
        text = receipt_file_text(receipt.entry, receipt.receipt)
    except ValueError as exc:
        raise WitnessError(f"the server's receipt is malformed: {exc}") from None
    if org_vkey is not None:
        verdict = verify_submission_receipt(text, org_vkey, roster_text)
        if not verdict.ok:
            raise WitnessError(f"the receipt does not verify: {verdict.summary()}")
        return ReceiptCheck(text, verdict.summary(), True)
    try:
        log_vkey = read_roster_unverified(roster_text).log_vkey
        if log_vkey is None:
            raise WitnessError("the server's roster names no log key: the receipt proves nothing")
        verifier = Verifier.from_vkey(log_vkey)
        proved = verify_receipt(text, receipt.entry.encode("ascii"), verifier, verifier.name)
    except (RosterError, NoteError, MerkleError, ValueError) as exc:
        if isinstance(exc, WitnessError):
            raise
        raise WitnessError(f"the receipt does not verify: {exc}") from None
    summary = (f"ok: submission {receipt.id} (sha256 {sha256}, {size} bytes) is entry "
               f"{proved.index} of the log at size "
               f"{proved.checkpoint.size} (log key named by the server, not checked against "
               "an organization key: pass --org to check it)")
    return ReceiptCheck(text, summary, False)


# --- replies --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenedReply:
    """A reply an investigator left in the witness's mailbox, decrypted."""

    id: str
    received: str
    text: str


def fetch_replies(client: VaultClient, keys: CodenameKeys) -> list[OpenedReply]:
    """Fetch and decrypt every reply in the mailbox the codename's ``keys`` open.

    Raises WitnessError when a reply cannot be opened with the codename (it was sealed to
    someone else, or damaged).
    """
    opened: list[OpenedReply] = []
    for info in client.replies(keys.mailbox_secret):
        buffer = io.BytesIO()
        digest = client.fetch_reply(keys.mailbox_secret, info.id, buffer)
        if digest != info.sha256:
            raise WitnessError(f"reply {info.id} does not match the SHA-256 the server listed")
        try:
            plaintext = age.decrypt_bytes(buffer.getvalue(), [keys.reply_identity],
                                          armored=False)
        except age.AgeError as exc:
            raise WitnessError(f"reply {info.id} cannot be opened with this codename: "
                               f"{exc}") from None
        opened.append(OpenedReply(info.id, info.received,
                                  plaintext.decode("utf-8", errors="replace")))
    return opened
