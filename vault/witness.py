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
  in memory: it is built as a stream and sealed chunk by chunk, never written to a file, a
  temporary file or a cache. `seal` writes only ciphertext, to the ``-o`` file; `submit`
  never holds the sealed file whole, not even in memory: a `SealedTestimony` regenerates its
  bytes from any offset (age encryption is deterministic once the header and payload nonce
  are drawn), so an upload that drops resumes where the server stopped. A file sealed as it
  is (metadata kept on purpose, or plain text) is measured, then sealed, from its own file
  in pieces: a laptop sending an hour of video needs no more memory than for a photo. A
  file being cleaned of metadata is held whole, one at a time; cleaned files are kept in
  memory up to `CLEANED_IN_MEMORY` in all, the rest cleaned again when sealed. No roster
  state is written unless the witness asks for it; the codename is returned to be shown
  once and never stored.
* **Nobody can silently drop it** (guarantee 4). The server's receipt must prove, under the log
  key named in the verified roster, that the log holds an entry for exactly these ciphertext
  bytes (`checked_receipt`); the receipt file is the one ``amanat receipt verify`` reads.

Errors a witness can act on are `WitnessError` (a ValueError); its message is one line.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import mimetypes
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Final

from keys.errors import RosterError
from keys.roster import Roster, RosterState, read_roster_unverified, verify_roster
from vault import age
from vault.answers import HiddenAnswerError, without_notes
from vault.audit import Finding, receipt_file_text, verify_submission_receipt
from vault.bundle import Content, ContentMismatchError, bundle_length, bundle_stream, iter_bundle
from vault.client import SubmissionReceipt, VaultClient
from vault.codename import CodenameKeys, derive, derive_all, new_codename
from vault.events import KIND_SUBMISSION, EventError, parse_event
from vault.replytext import ReplyFormatError, read_reply
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
from vault.tlog.note import HybridVerifier, NoteError
from vault.tlog.proof import verify_receipt

__all__ = [
    "DEFAULT_LANGUAGE",
    "ChosenFile",
    "FormAnswers",
    "FormError",
    "OpenedReply",
    "PreparedAttachment",
    "ReceiptCheck",
    "SealedTestimony",
    "WitnessError",
    "build_manifest",
    "checked_receipt",
    "codename_keys",
    "deliver",
    "fetch_replies",
    "iter_replies",
    "neutral_name",
    "new_reply_address",
    "prepare_attachments",
    "read_form",
    "reply_address",
    "seal_testimony",
    "sealed_testimony",
    "verified_roster",
]

DEFAULT_LANGUAGE: Final = "und"  # BCP 47 "undetermined"
UPLOAD_CHUNK_BYTES: Final = 1024 * 1024
# Cleaned attachments (given as files) kept in memory, in all; beyond, cleaned again when
# sealed, so memory does not grow with the number of photos.
CLEANED_IN_MEMORY: Final = 32 * 1024 * 1024

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
_FORM_FIELDS: Final = ("language", "persons")
_NOT_SEALED: Final = "the testimony was not sealed: attach the file again"


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


@dataclass(frozen=True)
class FormAnswers:
    """What an answers file says: the detained persons, and the language of the testimony
    (the one given, else the one the file names, else ``und``)."""

    persons: tuple[Person, ...]
    language: str


class _RepeatedAnswer(ValueError):
    pass


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object of the answers file; a key given twice is refused, since only the
    last would be sent while the witness may have checked the first."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _RepeatedAnswer(f"the answers file gives {key!r} twice in one place: keep "
                                  "the right one and delete the other")
        result[key] = value
    return result


def read_form(data: bytes, *, language: str | None = None,
              consent: str = "none") -> FormAnswers:
    """The detained persons described in an answers file (JSON, with ``#`` note lines: see
    `vault.answers`).

    The file is either a JSON object ``{"persons": [...]}`` (optionally with ``"language"``,
    the tag of the language its answers are written in) or just the list of persons, each as
    in the manifest schema (``docs/testimony.schema.json``). ``language``, when given, is the
    testimony's language and must agree with the file's. Every problem is reported at once,
    one line each (``person 2: status is missing``), in a FormError.
    """
    try:
        obj: Any = json.loads(without_notes(data.decode("utf-8")),
                              object_pairs_hook=_once_each)
    except UnicodeDecodeError:
        raise FormError("the answers file is not UTF-8 text",
                        ["the answers file is not UTF-8 text"]) from None
    except (_RepeatedAnswer, HiddenAnswerError) as exc:
        raise FormError(str(exc), [str(exc)]) from None
    except RecursionError:
        line = "the answers file is nested too deeply to be answers"
        raise FormError(line, [line]) from None
    except ValueError as exc:
        line = f"the answers file is not JSON: {exc}"
        raise FormError(line, [line]) from None
    if isinstance(obj, list):
        obj = {"persons": obj}
    if not isinstance(obj, dict):
        line = 'the answers file must be a JSON object {"persons": [...]} or a list of persons'
        raise FormError(line, [line])
    problems = [
        f"unknown field {key!r} (an answers file holds only \"language\" and \"persons\")"
        for key in sorted(obj) if key not in _FORM_FIELDS
    ]
    named = obj.get("language")
    if language is not None and named is not None and named != language:
        problems.append(f"the answers file says its language is {named!r}, but the testimony's "
                        f"language is given as {language!r}: make them agree, or leave one out")
    persons = obj.get("persons", [])
    candidate = {
        "schema": SCHEMA_ID,
        "language": (language if language is not None
                     else named if named is not None else DEFAULT_LANGUAGE),
        "statement": "",
        "publication_consent": consent,
        "persons": persons,
        "attachments": [],
    }
    problems.extend(problem.message for problem in validate_answers(candidate))
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        raise FormError(f"the answers have {count}", problems)
    manifest = Manifest.from_dict(candidate)
    return FormAnswers(manifest.persons, manifest.language)


@dataclass(frozen=True)
class ChosenFile:
    """A file the witness chose to attach: its bytes (``data``), or the ``path`` of a file
    read when its turn comes, in pieces if it is sealed as it is. ``name`` is shown back to
    them, never sealed."""

    name: str
    data: bytes = b""
    keep_metadata: bool = False
    path: str | os.PathLike[str] | None = None


@dataclass(frozen=True)
class PreparedAttachment:
    """A cleaned attachment under its neutral name, ready for the bundle: its bytes
    (``data``) or, when ``data`` is empty, the ``path`` of the file read again when sealed:
    in pieces for a file sealed as it is, or cleaned again (``clean_again``: the same bytes
    come out) for one that did not fit in the memory set aside for cleaned files."""

    attachment: Attachment
    data: bytes
    chosen_name: str
    path: str | os.PathLike[str] | None = None
    clean_again: bool = False

    def content(self) -> Content:
        """What the bundle reads: the bytes, or a function opening the file (cleaned)."""
        if self.path is None:
            return self.data
        return self._cleaned_again if self.clean_again else self._open_again

    def _cleaned_again(self) -> BinaryIO:
        from vault.scrub import Cleaned, ScrubError, clean_file

        with self._open_again() as file:
            try:
                cleaned = clean_file(file, self.chosen_name)
            except ScrubError as exc:
                raise WitnessError(f"{self.chosen_name} changed while it was being sealed "
                                   f"({exc}); {_NOT_SEALED}") from None
        if not isinstance(cleaned, Cleaned):  # now plain text: the bundle refuses its digest
            return self._open_again()
        return io.BytesIO(cleaned.data)

    def _open_again(self) -> BinaryIO:
        assert self.path is not None
        try:
            return open(self.path, "rb")
        except OSError as exc:
            raise WitnessError(f"{self.chosen_name} cannot be read any more ({exc.strerror}); "
                               f"{_NOT_SEALED}") from None


def neutral_name(position: int, media_type: str) -> str:
    """``attachment-<position><ext>``, the extension from the media type the content has."""
    extension = _EXTENSIONS.get(media_type) or mimetypes.guess_extension(media_type) or ".bin"
    return f"attachment-{position}{extension}"


def _prepared(chosen: ChosenFile, position: int, room: int) -> PreparedAttachment:
    from vault.scrub import Unchanged, clean, clean_file  # image and PDF libraries load here

    if chosen.path is None:
        cleaned: Any = clean(chosen.data, chosen.name, keep_metadata=chosen.keep_metadata)
    else:
        try:
            with open(chosen.path, "rb") as file:
                cleaned = clean_file(file, chosen.name, keep_metadata=chosen.keep_metadata)
        except OSError as exc:
            raise WitnessError(f"cannot read {os.fspath(chosen.path)}: {exc.strerror}") \
                from None
    if isinstance(cleaned, Unchanged):
        name = neutral_name(position, cleaned.media_type)
        attachment = Attachment(name, cleaned.media_type, cleaned.size, cleaned.sha256,
                                cleaned.sha256, cleaned.kept_metadata)
        return PreparedAttachment(attachment, b"", chosen.name, chosen.path)
    attachment = Attachment(
        name=neutral_name(position, cleaned.media_type),
        media_type=cleaned.media_type,
        size=len(cleaned.data),
        sha256_before_cleaning=cleaned.sha256_before,
        sha256_after_cleaning=cleaned.sha256_after,
        metadata_kept=cleaned.kept_metadata,
    )
    if chosen.path is not None and cleaned.repeatable and len(cleaned.data) > room:
        return PreparedAttachment(attachment, b"", chosen.name, chosen.path, clean_again=True)
    return PreparedAttachment(attachment, cleaned.data, chosen.name)


def prepare_attachments(files: Iterable[ChosenFile]) -> list[PreparedAttachment]:
    """Clean every file's metadata (unless kept on purpose) and give it a neutral name.

    ``files`` is taken one at a time and released once cleaned: given a generator that reads
    each file when asked, only one original is in memory next to the cleaned ones. A file
    given by ``path`` that is sealed as it is (metadata kept, or plain text) is only
    measured here, in pieces: it is read again when sealed and never held whole. Cleaned
    files given by ``path`` are kept in memory up to ``CLEANED_IN_MEMORY`` bytes in all;
    the others are cleaned again, one at a time, when sealed. Raises WitnessError naming
    the file that cannot be read or cleaned (the message suggests keeping its metadata
    knowingly, or converting it).
    """
    from vault.scrub import ScrubError

    prepared: list[PreparedAttachment] = []
    held = 0
    # Not enumerate(): it would keep the last file alive while the next one is read.
    for chosen in files:
        try:
            prepared.append(_prepared(chosen, len(prepared) + 1, CLEANED_IN_MEMORY - held))
        except ScrubError as exc:
            raise WitnessError(str(exc)) from None
        held += len(prepared[-1].data)
        del chosen  # the original's bytes go before the next file is read
    return prepared


def reply_address(codename: str) -> Reply:
    """The reply address (recipient and mailbox id) a codename derives, with the current
    derivation (version 2, which manifests of schema ``amanat/testimony/v2`` declare).

    Testimony sent with the same address puts every reply to it in one mailbox, and tells
    whoever reads the manifests that one person sent them all. Raises CodenameError
    (`vault.codename`), whose message never repeats a word, for a mistyped codename.
    """
    keys: CodenameKeys = derive(codename)
    return Reply(recipient=str(keys.reply_identity.recipient()), mailbox_id=keys.mailbox_id)


def new_reply_address() -> tuple[str, Reply]:
    """A fresh codename and the reply address it derives (recipient and mailbox id).

    The codename is the witness's only way to read replies: show it once, never store it.
    """
    codename = new_codename()
    return codename, reply_address(codename)


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


def _contents(attachments: Sequence[PreparedAttachment]) -> Mapping[str, Content]:
    return {p.attachment.name: p.content() for p in attachments}


@contextlib.contextmanager
def _unchanged_files(attachments: Sequence[PreparedAttachment]) -> Iterator[None]:
    """Turn a file that changed since it was measured into a WitnessError naming it as the
    witness chose it."""
    try:
        yield
    except ContentMismatchError as exc:
        chosen = next(p.chosen_name for p in attachments if p.attachment.name == exc.name)
        raise WitnessError(f"{chosen} changed while it was being sealed ({exc.reason}); "
                           f"{_NOT_SEALED}") from None


def seal_testimony(manifest: Manifest, attachments: Sequence[PreparedAttachment],
                   roster: Roster, dst: BinaryIO) -> None:
    """Write the age file sealing the padded bundle to every reader on ``roster`` to ``dst``.

    The bundle is generated as a stream and encrypted chunk by chunk: no plaintext is
    written anywhere. ``dst`` receives only ciphertext; if an attachment read from its file
    changed since it was prepared, WitnessError is raised and what ``dst`` received must be
    discarded.
    """
    source = bundle_stream(manifest, _contents(attachments))
    with _unchanged_files(attachments):
        age.encrypt(source, dst, roster.recipients())


def sealed_testimony(manifest: Manifest, attachments: Sequence[PreparedAttachment],
                     roster: Roster) -> bytes:
    """The sealed testimony as bytes in memory (see `seal_testimony`); for small ones only:
    `submit` sends a `SealedTestimony` instead."""
    out = io.BytesIO()
    seal_testimony(manifest, attachments, roster, out)
    return out.getvalue()


class SealedTestimony:
    """The sealed testimony as an age file that is never held whole: its bytes from any
    offset are regenerated on demand from the bundle (see `vault.age.SealedFile`).

    The header is sealed to every reader on ``roster`` once, here; ``size`` is the file's
    exact length. ``pieces(start)`` yields the file from ``start`` to its end, the same
    bytes every time; the SHA-256 of the file is computed on the way, once, over the bytes
    as they are first generated (`digest`). Memory: the cleaned attachments held in memory
    (given; those sealed as they are are read from their files again, in pieces) and one
    64 KiB chunk; no plaintext or ciphertext is written anywhere.
    """

    def __init__(self, manifest: Manifest, attachments: Sequence[PreparedAttachment],
                 roster: Roster) -> None:
        self._manifest = manifest
        self._attachments = tuple(attachments)
        self._contents = _contents(attachments)
        iter_bundle(manifest, self._contents)  # refuses a mismatch before any work
        self._file = age.SealedFile(roster.recipients(), bundle_length(manifest))
        self.size = self._file.size
        self._hash = hashlib.sha256()
        self._hashed = 0  # the file's first _hashed bytes are in _hash

    def pieces(self, start: int = 0) -> Iterator[bytes]:
        """Yield the sealed file from offset ``start`` (``0..size``) to its end."""
        if not 0 <= start <= self.size:
            raise ValueError(f"offset {start} is outside the sealed testimony (0..{self.size})")
        return self._generate(start)

    def _generate(self, start: int) -> Iterator[bytes]:
        # Generation starts no later than the hashed prefix ends, so that every byte of the
        # file passes through the hash exactly once, whatever offsets are asked for.
        position = min(start, self._hashed)
        source = bundle_stream(self._manifest, self._contents)
        with _unchanged_files(self._attachments):
            for piece in self._file.pieces(source, position):
                end = position + len(piece)
                if end > self._hashed:
                    self._hash.update(memoryview(piece)[self._hashed - position :])
                    self._hashed = end
                if end > start:
                    yield piece if position >= start else piece[start - position :]
                position = end

    def digest(self) -> str:
        """The hex SHA-256 of the whole sealed file (generating what was not yet)."""
        if self._hashed < self.size:
            for _ in self._generate(self.size):
                pass
        return self._hash.hexdigest()


# --- delivery -------------------------------------------------------------------------------


class _Cursor:
    """Hands out a `SealedTestimony` in consecutive slices, regenerating it from the
    requested offset whenever that is not where the last slice ended (after a drop)."""

    def __init__(self, sealed: SealedTestimony) -> None:
        self._sealed = sealed
        self._pieces: Iterator[bytes] | None = None
        self._position = 0  # the offset of the next byte _pieces (after _rest) yields
        self._rest = memoryview(b"")

    def take(self, offset: int, count: int) -> Iterator[bytes]:
        """The ``count`` bytes of the file from ``offset`` (within the file), in pieces."""
        if self._pieces is None or offset != self._position:
            self._pieces = self._sealed.pieces(offset)
            self._position = offset
            self._rest = memoryview(b"")
        return self._slice(self._pieces, count)

    def _slice(self, pieces: Iterator[bytes], count: int) -> Iterator[bytes]:
        while count > 0:
            if not self._rest:
                self._rest = memoryview(next(pieces))
            piece = self._rest[:count]
            self._rest = self._rest[len(piece) :]
            self._position += len(piece)
            count -= len(piece)
            yield bytes(piece)


def _send_stream(client: VaultClient, sealed: SealedTestimony, upload_id: str, *,
                 chunk_bytes: int,
                 progress: Callable[[int], None] | None) -> SubmissionReceipt:
    """`VaultClient.upload` for a sealed file that is regenerated rather than re-read."""
    receipt = client.send_resumable(upload_id, sealed.size, _Cursor(sealed).take,
                                    chunk_bytes=chunk_bytes, progress=progress)
    if receipt.sha256 != sealed.digest():
        raise WitnessError("the server stored different bytes than were sent; submit again")
    return receipt


def deliver(
    client: VaultClient,
    sealed: BinaryIO | SealedTestimony,
    *,
    progress: Callable[[int], None] | None = None,
    chunk_bytes: int = UPLOAD_CHUNK_BYTES,
    upload_id: str | None = None,
) -> SubmissionReceipt:
    """Upload a sealed file (a seekable file, or a `SealedTestimony` generated as it is
    sent) with the resumable protocol and return the server's receipt.

    A new upload is opened unless ``upload_id`` names one to go on with. Outages and dropped
    connections are ridden out as the client's `RetryPolicy` says, resuming from the offset
    the server holds; ``progress`` is called with the bytes the server has. The server's
    SHA-256 is compared with the bytes sent, but the receipt is not verified here: call
    `checked_receipt`.
    """
    if upload_id is None:
        upload_id = client.create_upload()
    if isinstance(sealed, SealedTestimony):
        return _send_stream(client, sealed, upload_id, chunk_bytes=chunk_bytes,
                            progress=progress)
    return client.upload(sealed, upload_id=upload_id, chunk_bytes=chunk_bytes,
                         progress=progress)


@dataclass(frozen=True)
class ReceiptCheck:
    """A verified receipt: the file text to keep (only if asked) and what it proves:
    the submission is entry ``index`` of the log."""

    receipt_file: str
    summary: str
    log_key_pinned: bool
    index: int
    not_cosigned: str | None = None  # why the receipt is not yet cosigned, if it is not


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
        not_cosigned: str | None = None
        if verdict.finding is Finding.NOT_COSIGNED:
            # Delivered and logged, but the cosigners have not (all) answered yet: the
            # receipt proves the entry under the log key, and says it is not yet cosigned.
            not_cosigned = verdict.reason
            verdict = verify_submission_receipt(text, org_vkey, roster_text,
                                                require_cosigned=False)
        if not verdict.ok or verdict.index is None:
            raise WitnessError(f"the receipt does not verify: {verdict.summary()}")
        return ReceiptCheck(text, verdict.summary(), True, verdict.index, not_cosigned)
    try:
        log_vkey = read_roster_unverified(roster_text).log_vkey
        if log_vkey is None:
            raise WitnessError("the server's roster names no log key: the receipt proves nothing")
        verifier = HybridVerifier.from_vkey(log_vkey)
        proved = verify_receipt(text, receipt.entry.encode("ascii"), verifier, verifier.name)
    except (RosterError, NoteError, MerkleError, ValueError) as exc:
        if isinstance(exc, WitnessError):
            raise
        raise WitnessError(f"the receipt does not verify: {exc}") from None
    summary = (f"ok: submission {receipt.id} (sha256 {sha256}, {size} bytes) is entry "
               f"{proved.index} of the log at size "
               f"{proved.checkpoint.size} (log key named by the server, not checked against "
               "an organization key: pass --org to check it)")
    return ReceiptCheck(text, summary, False, proved.index)


# --- replies --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenedReply:
    """A reply an investigator left in the witness's mailbox, decrypted."""

    id: str
    received: str
    text: str


MAX_REPLY_BYTES: Final = 16 * 1024 * 1024  # the server's default cap on a sealed reply
MAX_REPLIES_BYTES: Final = 64 * 1024 * 1024


def fetch_replies(client: VaultClient,
                  keys: CodenameKeys | Sequence[CodenameKeys]) -> list[OpenedReply]:
    """Fetch and decrypt every reply in the mailboxes the codename's ``keys`` open (one
    derivation version's keys, or several: see `codename_keys`).

    Replies are held in memory (nothing is written to the witness's device), so a server's
    listing is believed only up to `MAX_REPLY_BYTES` a reply and `MAX_REPLIES_BYTES` in all.
    Raises WitnessError when a reply cannot be opened with the codename (it was sealed to
    someone else, or damaged), or is listed larger than that.
    """
    return list(iter_replies(client, keys))


def codename_keys(codename: str) -> list[CodenameKeys]:
    """The keys of every codename derivation version, newest first: a codename may have
    made reply addresses with version 1 (manifests ``amanat/testimony/v1``) as well as
    version 2, so a reader of replies asks every mailbox it may own. Raises CodenameError."""
    return derive_all(codename)


def iter_replies(client: VaultClient,
                 keys: CodenameKeys | Sequence[CodenameKeys]) -> Iterator[OpenedReply]:
    """`fetch_replies` one reply at a time: memory holds the listings (bounded by the
    client) and one reply, downloaded up to the size listed for it. Every mailbox is listed
    before anything is downloaded, and the replies of all of them come merged, oldest first:
    by the hour received (all the server says), and within an hour those to the older
    derivation version's address first. A listing that names a reply larger than replies take,
    or more than `MAX_REPLIES_BYTES` in all mailboxes, is refused before anything is
    downloaded."""
    key_sets = [keys] if isinstance(keys, CodenameKeys) else list(keys)
    listed = [(info, opening) for opening in key_sets
              for info in client.replies(opening.mailbox_secret)]
    total = sum(info.size for info, _ in listed)
    for info, _ in listed:
        if info.size > MAX_REPLY_BYTES or total > MAX_REPLIES_BYTES:
            raise WitnessError(
                f"the server lists reply {info.id} as {info.size} bytes ({total} in all), "
                f"more than replies take (at most {MAX_REPLY_BYTES // (1024 * 1024)} MiB "
                f"each, {MAX_REPLIES_BYTES // (1024 * 1024)} MiB in all): not downloading "
                "them")
    if len(key_sets) > 1:  # stable: each mailbox keeps the server's order
        listed.sort(key=lambda pair: (pair[0].received, pair[1].version))
    for info, opening in listed:
        buffer = io.BytesIO()
        digest = client.fetch_reply(opening.mailbox_secret, info.id, buffer, info.size)
        if digest != info.sha256:
            raise WitnessError(f"reply {info.id} does not match the SHA-256 the server listed")
        try:
            plaintext = age.decrypt_bytes(buffer.getvalue(), [opening.reply_identity],
                                          armored=False)
            text = read_reply(plaintext)
        except age.AgeError as exc:
            raise WitnessError(f"reply {info.id} cannot be opened with this codename: "
                               f"{exc}") from None
        except ReplyFormatError as exc:
            raise WitnessError(f"reply {info.id} is damaged: {exc}") from None
        yield OpenedReply(info.id, info.received, text)
