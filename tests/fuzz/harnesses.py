"""One fuzz harness per parser of outside input.

A harness takes arbitrary bytes, hands them to the parser as the outside world would (bytes
as received, text decoded as the caller decodes it, HTTP header values as Starlette decodes
them: Latin-1) and lets through only the typed errors that parser documents. Any other
exception (IndexError, UnicodeError, RecursionError, struct.error, a bare ValueError where a
typed one is promised, an AssertionError from a broken round trip) is a finding.

Where a format promises one spelling per value, the harness also checks it: what parses must
encode back to the same bytes. Where a parser has two paths (streaming and in memory), both
must agree.

Harnesses are plain functions of ``bytes``: ``python -m tests.fuzz`` runs them under atheris
(coverage-guided), tests/fuzz/test_corpus.py replays the corpora through them.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from api.bodies import declared_length
from api.errors import ApiError
from api.streams import RangeNotSatisfiable, byte_range
from keys.card import PublicCard, parse_card, parse_recipient_strict
from keys.errors import (
    CardError,
    InvalidNameError,
    KeyFileError,
    RosterError,
    VerifierKeyError,
)
from keys.identity import (
    CLASSICAL_IDENTITY_KIND,
    IDENTITY_KIND,
    InvestigatorIdentity,
    _from_plaintext,
    is_identity_file,
)
from keys.keyfile import describe_amanat_file, key_file_kind, key_file_params
from keys.org import ORG_KEY_KIND, OrgKey, parse_org_vkey
from keys.roster import RosterState, read_roster_unverified, verify_roster
from tests.fuzz import fixed
from vault import age
from vault.age import armor as armor_module
from vault.age import bech32
from vault.age.format import VERSION_LINE, parse_header
from vault.bundle import BundleError, extract_bundle, open_bundle
from vault.codename import CodenameError, check_codename, codename_entropy, derive
from vault.events import EventError, parse_event
from vault.replytext import REPLY_HEADER, ReplyFormatError, read_reply
from vault.service.mailbox import (
    MailboxSecretError,
    decode_mailbox_secret,
    encode_mailbox_secret,
)
from vault.service.uploads import NotSealedError, check_sealed_to_roster, inspect_sealed_file
from vault.service.work import WorkError, WorkGate
from vault.testimony import Manifest, ManifestError
from vault.tlog.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from vault.tlog.cosignature import (
    Cosignature,
    CosignatureError,
    CosignerVerifier,
    cosignatures_in_note,
)
from vault.tlog.merkle import MerkleError, verify_consistency, verify_inclusion
from vault.tlog.note import NoteError, Signer, Verifier, open_note
from vault.tlog.proof import LeafHash, Receipt, ReceiptError, verify_receipt
from vault.tlog.tiles import (
    TileFormatError,
    TilePathError,
    entry_bundle,
    parse_entry_bundle,
    parse_tile,
    parse_tile_path,
    tile_bytes,
)

__all__ = ["HARNESSES", "Harness", "entry_for"]


@dataclass(frozen=True)
class Harness:
    """A parser under test: ``target`` raises only on a finding."""

    name: str
    target: Callable[[bytes], None]
    allowed: str  # the typed errors the parser documents, for the listing
    max_len: int = 8192


# Lets the documented errors end a block; anything else escapes (a finding).
tolerate = contextlib.suppress


def _file_text(data: bytes) -> str:
    """Text read from a file or an HTTP body (invalid UTF-8 becomes U+FFFD)."""
    return data.decode("utf-8", "replace")


def _typed_text(data: bytes) -> str:
    """Text typed or passed in argv / the environment: undecodable bytes become lone
    surrogates, as Python gives them (surrogateescape)."""
    return data.decode("utf-8", "surrogateescape")


def _header_value(data: bytes) -> str:
    """An HTTP header value as Starlette hands it to the application (Latin-1)."""
    return data.decode("latin-1")


# --- age ----------------------------------------------------------------------------------------


def age_header(data: bytes) -> None:
    """vault.age.format.parse_header (HeaderError) and the server's door check
    vault.service.uploads.inspect_sealed_file (NotSealedError)."""
    with tolerate(age.HeaderError):
        header = parse_header(io.BytesIO(data))
        assert header.length <= len(data)
        # One spelling: the stanzas re-encode to exactly the bytes the MAC covers.
        encoded = VERSION_LINE + b"".join(s.encode() for s in header.stanzas) + b"---"
        assert encoded == header.mac_input, "a header parsed from a non-canonical spelling"
    with tolerate(NotSealedError):
        info = inspect_sealed_file(io.BytesIO(data), len(data))
        assert info.size == len(data)
        check_sealed_to_roster(info, 2)


def age_armor(data: bytes) -> None:
    """vault.age.armor: unarmor and the streaming reader (ArmorError); both agree."""
    whole: bytes | None = None
    with tolerate(age.ArmorError):
        whole = armor_module.unarmor(data)
    pieces = bytearray()
    failed = False
    reader = armor_module.armored_reader(io.BytesIO(data))
    try:
        while chunk := reader.read(61):
            pieces += chunk
    except age.ArmorError:
        failed = True
    assert failed == (whole is None), "the streaming and in-memory armor readers disagree"
    if whole is not None:
        assert bytes(pieces) == whole
        # One spelling, up to what the spec allows: CRLF, and whitespace around the block.
        canonical = data.strip(b" \t\r\n\x0b\x0c").replace(b"\r\n", b"\n")
        assert armor_module.armor(whole).rstrip(b"\n") == canonical.rstrip(b"\n")


def age_decrypt(data: bytes) -> None:
    """vault.age.decrypt_bytes and decrypt with fixed identities (the vectors' keys, ours,
    two passphrases): HeaderError, HMACError, PayloadError, NoMatchError, ArmorError only.
    The streaming and in-memory paths must agree."""
    identities = fixed.age_identities()
    whole: bytes | None = None
    with tolerate(age.AgeError):
        whole = age.decrypt_bytes(data, identities)
    out = io.BytesIO()
    streamed = True
    try:
        age.decrypt(io.BytesIO(data), out, identities, threads=1)
    except age.AgeError:
        streamed = False
    assert streamed == (whole is not None), "streaming and in-memory decryption disagree"
    if whole is not None:
        assert out.getvalue() == whole


def age_keys(data: bytes) -> None:
    """Recipient and identity strings and files (vault.age.keys, bech32): KeyFormatError,
    Bech32Error; the card's strict recipient parser: CardError."""
    text = _typed_text(data)
    with tolerate(bech32.Bech32Error):
        hrp, payload = bech32.decode(text)
        if hrp.lower() == hrp or hrp.upper() == hrp:
            assert bech32.encode(hrp, payload).lower() == text.lower()
    with tolerate(age.KeyFormatError):
        age.parse_recipient(text)
    with tolerate(age.KeyFormatError):
        age.parse_identity(text)
    with tolerate(age.KeyFormatError):
        age.parse_recipients_file(text)
    with tolerate(age.KeyFormatError):
        age.parse_identities_file(text)
    with tolerate(CardError):
        recipient = parse_recipient_strict(text)
        assert str(recipient) == text


# --- the bundle and the manifest ----------------------------------------------------------------


def _with_checksums(data: bytes) -> bytes:
    """``data`` with the checksum of every 512-byte block that carries the USTAR magic
    recomputed, so that mutations of a header's fields reach the checks behind the
    checksum instead of stopping at it."""
    fixed_up = bytearray(data)
    for at in range(0, len(data) - 511, 512):
        block = fixed_up[at : at + 512]
        if block[257:262] == b"ustar":
            block[148:156] = b" " * 8
            fixed_up[at + 148 : at + 156] = f"{sum(block):06o}".encode("ascii") + b"\x00 "
    return bytes(fixed_up)


def bundle(data: bytes) -> None:
    """vault.bundle.open_bundle and Bundle.verify, strict and lenient padding, on the bytes
    as given and with their header checksums made right: BundleError."""
    for candidate in {data, _with_checksums(data)}:
        for strict in (True, False):
            with tolerate(BundleError):
                opened = open_bundle(io.BytesIO(candidate), strict_padding=strict)
                for _attachment, chunks in opened.attachments():
                    for _ in chunks:
                        pass


@cache
def _scratch() -> str:
    path = tempfile.mkdtemp(prefix="amanat-fuzz-")
    atexit.register(shutil.rmtree, path, True)
    return path


def bundle_extract(data: bytes) -> None:
    """vault.bundle.extract_bundle into a fresh directory (header checksums made right):
    BundleError, and nothing is ever left behind on an error, nor written outside the
    destination."""
    scratch = _scratch()
    dest = os.path.join(scratch, "dest")
    try:
        try:
            manifest = extract_bundle(io.BytesIO(_with_checksums(data)), dest)
        except BundleError:
            assert not os.path.exists(dest), "a refused bundle left files behind"
        else:
            names = sorted(os.listdir(os.path.join(dest, "attachments")))
            assert names == sorted(a.name for a in manifest.attachments)
        assert os.listdir(scratch) in ([], ["dest"]), "extraction wrote outside its destination"
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def manifest(data: bytes) -> None:
    """vault.testimony.Manifest.from_json: ManifestError. An accepted manifest writes back
    to canonical JSON that reads back equal."""
    today = date.today()
    with tolerate(ManifestError):
        parsed = Manifest.from_json(data, today=today)
        canonical = parsed.to_json()
        assert Manifest.from_json(canonical, today=today) == parsed


@cache
def _manifest_base() -> dict[str, Any]:
    from tests.fuzz.seeds import manifests  # the seeds import this module

    result: dict[str, Any] = json.loads(manifests()["full"].to_json())
    return result


def _places(value: Any, into: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key) of a JSON value, depth first."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, inner in list(items):
        into.append((value, key))
        if isinstance(inner, dict | list):
            _places(inner, into)
    return into


def _value(kind: int, raw: bytes) -> Any:
    text = raw.decode("utf-8", "replace")
    if kind == 0:
        return text
    if kind == 1:
        return int.from_bytes(raw[:8], "big", signed=True)
    if kind == 2:  # an approximate date, maybe an interval, maybe uncertain
        parts = [f"{1900 + raw[0] if raw else 2018:04d}"]
        if len(raw) > 1:
            parts.append(f"{raw[1] % 32:02d}")
        if len(raw) > 2:
            parts.append(f"{raw[2] % 40:02d}")
        date_text = "-".join(parts) + ("~" if len(raw) > 3 and raw[3] & 1 else "")
        return date_text + ("/" + _value(2, raw[4:]) if len(raw) > 4 and raw[3] & 2 else "")
    if kind == 3:
        return None
    if kind == 4:
        return bool(raw[:1] and raw[0] & 1)
    if kind == 5:
        return [text]
    if kind == 6:
        return {text: len(raw)}
    return int("9" * (len(raw) * 16 + 1))


def manifest_fields(data: bytes) -> None:
    """Manifest.from_json on a valid manifest changed field by field (structure-aware):
    ManifestError only. Each change takes four bytes (which
    place, what to do, how many bytes of value) and the value's bytes: the value replaces
    the field, is added under a new name, or the field is removed; an attachment may be
    copied under a new name (names that collide after normalisation)."""
    obj = copy.deepcopy(_manifest_base())
    at = 0
    while at + 3 <= len(data):
        where, action, size = data[at], data[at + 1], data[at + 2]
        raw = data[at + 3 : at + 3 + size % 48]
        at += 3 + size % 48
        places = _places(obj, [])
        if not places:
            break
        container, key = places[where % len(places)]
        kind = action % 8
        operation = action // 8 % 4
        if operation == 0:
            container[key] = _value(kind, raw)
        elif operation == 1 and isinstance(container, dict):
            container[raw.decode("utf-8", "replace")] = _value(kind, raw)
        elif operation == 2:
            del container[key]
        elif (isinstance(obj.get("attachments"), list) and obj["attachments"]
              and isinstance(obj["attachments"][0], dict)):
            copied = dict(obj["attachments"][0])
            copied["name"] = raw.decode("utf-8", "replace")
            obj["attachments"].append(copied)
    # No round trip here (the manifest harness has it): parsing the 1,959-character reply
    # recipient dominates, and a round trip parses it twice more.
    with tolerate(ManifestError):
        Manifest.from_json(json.dumps(obj, ensure_ascii=False), today=date.today())


# --- signed notes, checkpoints, receipts, Merkle proofs -----------------------------------------


def note(data: bytes) -> None:
    """vault.tlog.note.open_note, as bytes and as text: NoteError and its subclasses."""
    verifiers = fixed.note_verifiers()
    with tolerate(NoteError):
        opened = open_note(data, verifiers)
        assert data.startswith(opened.text.encode("utf-8"))
    with tolerate(NoteError):
        open_note(_typed_text(data), verifiers)


def note_keys(data: bytes) -> None:
    """Verifier keys, private key strings (NoteError) and the organization key as a person
    types it (keys.org.parse_org_vkey: VerifierKeyError)."""
    text = _typed_text(data)
    with tolerate(NoteError):
        verifier = Verifier.from_vkey(text)
        assert verifier.vkey() == text
    with tolerate(NoteError):
        # Not held to one spelling: a private key string is read, never compared as text.
        Signer.from_private_key_string(text)
    with tolerate(VerifierKeyError):
        parse_org_vkey(text)


def checkpoint(data: bytes) -> None:
    """vault.tlog.checkpoint: open_checkpoint (NoteError, CheckpointError) and
    Checkpoint.parse (CheckpointError), which must round-trip."""
    with tolerate(NoteError, CheckpointError):
        open_checkpoint(data, fixed.log_verifier(), fixed.LOG_ORIGIN)
    text = _file_text(data)
    with tolerate(CheckpointError):
        assert Checkpoint.parse(text).format() == text


def cosignature(data: bytes) -> None:
    """vault.tlog.cosignature: cosignatures_in_note with the fixed cosigners (Ed25519 and
    ML-DSA-44), Cosignature.parse_line (one spelling) and CosignerVerifier.from_vkey:
    CosignatureError (a NoteError) only."""
    verifiers = [signer.verifier() for signer in fixed.cosigners()]
    with tolerate(CosignatureError):
        cosignatures_in_note(data, verifiers)
    text = _file_text(data)
    with tolerate(CosignatureError):
        cosignatures_in_note(_typed_text(data), verifiers)
    with tolerate(CosignatureError):
        line = Cosignature.parse_line(text)
        assert line.line() == (text if text.endswith("\n") else text + "\n")
    with tolerate(CosignatureError):
        assert CosignerVerifier.from_vkey(_typed_text(data)).vkey() == _typed_text(data)


def entry_for(index: int) -> bytes:
    """The log entry at ``index`` of the log the receipt seeds were cut from."""
    return b"amanat/fuzz/entry %d\n" % index


def receipt(data: bytes) -> None:
    """vault.tlog.proof: Receipt.parse (ReceiptError; one spelling) and verify_receipt
    (ReceiptError, NoteError, CheckpointError, InvalidProofError). A 32-byte ``extra`` is
    taken as the entry's leaf hash (the seeds made from the shared Merkle vectors)."""
    text = _file_text(data)
    with tolerate(ReceiptError):
        parsed = Receipt.parse(text)
        assert parsed.format() == text, "a receipt parsed from a non-canonical spelling"
        entry = (LeafHash(parsed.extra) if parsed.extra is not None and len(parsed.extra) == 32
                 else entry_for(parsed.index))
        with tolerate(NoteError, CheckpointError, MerkleError):
            verify_receipt(text, entry, fixed.log_verifier(), fixed.LOG_ORIGIN)


def _take(data: bytes, at: int, count: int) -> tuple[bytes, int]:
    return data[at : at + count], at + count


def merkle(data: bytes) -> None:
    """vault.tlog.merkle.verify_inclusion / verify_consistency on decoded proofs:
    MerkleError (InvalidProofError).

    Layout: a kind byte (even: inclusion, odd: consistency), two 8-byte big-endian numbers
    (index and size, or old and new size), then 32-byte hashes (leaf and root, or the two
    roots), then the proof's hashes; a short last hash is kept short."""
    if len(data) < 17:
        return
    kind = data[0] & 1
    first = int.from_bytes(data[1:9], "big")
    second = int.from_bytes(data[9:17], "big")
    hashes = [data[i : i + 32] for i in range(17, len(data), 32)]
    while len(hashes) < 2:
        hashes.append(b"")
    with tolerate(MerkleError):
        if kind == 0:
            verify_inclusion(hashes[0], first, second, hashes[2:], hashes[1])
        else:
            verify_consistency(first, second, hashes[0], hashes[1], hashes[2:])


# --- keys: rosters, cards, key files ------------------------------------------------------------


def tiles(data: bytes) -> None:
    """vault.tlog.tiles, chosen by the first byte: parse_tile_path on the rest as a URL path
    (TilePathError; one spelling: what parses is its own path), parse_tile and
    parse_entry_bundle with the width in the second byte (TileFormatError; what parses
    writes back to the same bytes)."""
    if len(data) < 2:
        return
    which, width, rest = data[0] % 3, data[1] + 1, data[2:]
    if which == 0:
        path = _file_text(data[1:])
        with tolerate(TilePathError):
            assert parse_tile_path(path).path() == path
    elif which == 1:
        with tolerate(TileFormatError):
            assert tile_bytes(parse_tile(rest, width)) == rest
    else:
        with tolerate(TileFormatError):
            assert entry_bundle(parse_entry_bundle(rest, width)) == rest


def roster(data: bytes) -> None:
    """keys.roster: verify_roster against the fixed organization key (RosterError and its
    subclasses) and read_roster_unverified, i.e. parse_roster (RosterFormatError and the
    other RosterErrors); a parsed roster formats back to the same text."""
    with tolerate(RosterError):
        verify_roster(data, fixed.org_key().vkey(), today=fixed.TODAY, state=RosterState())
    text = _file_text(data)
    with tolerate(RosterError):
        parsed = read_roster_unverified(text)
        head = text.rpartition("\n\n")[0] + "\n"
        assert parsed.format() == head, "a roster parsed from a non-canonical spelling"


def card(data: bytes) -> None:
    """keys.card.parse_card: CardError; a parsed card formats back to a card that parses
    to the same keys."""
    with tolerate(CardError):
        parsed = parse_card(_file_text(data))
        again = parse_card(parsed.format())
        assert again == parsed and isinstance(again, PublicCard)


def _cheap(memory_kib: int, iterations: int) -> bool:
    return memory_kib <= 1024 and iterations <= 2


def keyfile(data: bytes) -> None:
    """keys.keyfile (KeyFileError), identity and org key files opened with the fixed
    passphrase when their Argon2 parameters are cheap (KeyFileError, UnlockError); the
    kind sniffing never raises."""
    describe_amanat_file(data)
    key_file_kind(data)
    is_identity_file(data)
    for kind, unseal in ((IDENTITY_KIND, InvestigatorIdentity.unseal),
                         (CLASSICAL_IDENTITY_KIND, InvestigatorIdentity.unseal),
                         (ORG_KEY_KIND, OrgKey.unseal)):
        with tolerate(KeyFileError):
            params = key_file_params(data, kind)
            if _cheap(params.memory_kib, params.iterations):
                unseal(data, fixed.PASSPHRASE)


def identity_plaintext(data: bytes) -> None:
    """What an identity file holds once decrypted (keys.identity): KeyFileError, or
    InvalidNameError for a name outside the rules."""
    for seeds in (2, 3):
        with tolerate(KeyFileError, InvalidNameError):
            _from_plaintext(data, seeds)


# --- audit-log events, replies, the codename ----------------------------------------------------


def events(data: bytes) -> None:
    """vault.events.parse_event: EventError; only canonical text parses."""
    with tolerate(EventError):
        assert parse_event(data).encode() == data


def replytext(data: bytes) -> None:
    """vault.replytext.read_reply: ReplyFormatError (v2 padding), never anything else."""
    with tolerate(ReplyFormatError):
        message = read_reply(data)
        if not data.startswith(REPLY_HEADER):
            assert message == data.decode("utf-8", "replace")


def codename(data: bytes) -> None:
    """vault.codename check_codename, codename_entropy and derive (version 2): CodenameError."""
    text = _typed_text(data)
    with tolerate(CodenameError):
        canonical = check_codename(text)
        assert check_codename(canonical) == canonical
        assert len(codename_entropy(text)) == 16
        derive(canonical)


# --- HTTP headers of the witness API ------------------------------------------------------------

_UPLOAD_OFFSET = TypeAdapter(Annotated[int, Field(ge=0, le=2**62)])
_WORK_KEY = fixed.seed("work key")
_WORK_NOW = 1_800_000_000.0


class _Headers:
    def __init__(self, **values: str) -> None:
        self._values = values

    def get(self, name: str, default: Any = None) -> Any:
        return self._values.get(name.replace("-", "_"), default)


class _Request:
    def __init__(self, **headers: str) -> None:
        self.headers = _Headers(**headers)


def _work_gate() -> WorkGate:
    """A gate under load asking for 2 bits (a place share of 0.6), at a fixed time."""
    return WorkGate(_WORK_KEY, quiet_rate=1.0, places_used=lambda: 0.6, clock=lambda: _WORK_NOW)


@cache
def _issued_seed() -> bytes:
    gate = _work_gate()
    return gate.seed()[0]


def http_headers(data: bytes) -> None:
    """The witness API's header parsers, chosen by the first byte: Upload-Offset (as
    FastAPI validates it: ValidationError), Content-Length (api.bodies.declared_length:
    ApiError 400), Amanat-Work (WorkGate.admit: WorkError; a leading 0x00 byte puts a seed
    this gate issued before the rest), Range (api.streams.byte_range: RangeNotSatisfiable;
    two bytes of file size first) and the mailbox secret (MailboxSecretError)."""
    if not data:
        return
    which, rest = data[0] % 5, data[1:]
    if which == 0:
        with tolerate(ValidationError):
            assert 0 <= _UPLOAD_OFFSET.validate_python(_header_value(rest)) <= 2**62
    elif which == 1:
        try:
            length = declared_length(_Request(content_length=_header_value(rest)))  # type: ignore[arg-type]
        except ApiError as exc:
            assert exc.status == 400
        else:
            assert length is not None and length >= 0
    elif which == 2:
        import base64

        gate = _work_gate()
        value = _header_value(rest)
        if rest[:1] == b"\x00":
            value = base64.b64encode(_issued_seed()).decode("ascii") + "." + value[1:]
        with tolerate(WorkError):
            gate.admit(value)
    elif which == 3:
        size = int.from_bytes(rest[:2], "big")
        with tolerate(RangeNotSatisfiable):
            found = byte_range(_header_value(rest[2:]), size)
            if found is not None:
                start, length = found
                assert 0 <= start < size and length >= 1 and start + length <= size
    else:
        text = _header_value(rest)
        with tolerate(MailboxSecretError):
            assert encode_mailbox_secret(decode_mailbox_secret(text)) == text


_ALL = (
    Harness("age_header", age_header, "HeaderError; NotSealedError", 16384),
    Harness("age_armor", age_armor, "ArmorError", 16384),
    Harness("age_decrypt", age_decrypt,
            "HeaderError, HMACError, PayloadError, NoMatchError, ArmorError (AgeError)", 16384),
    Harness("age_keys", age_keys, "KeyFormatError, Bech32Error, CardError", 4096),
    Harness("bundle", bundle, "BundleError", 16384),
    Harness("bundle_extract", bundle_extract, "BundleError", 16384),
    Harness("manifest", manifest, "ManifestError", 16384),
    Harness("manifest_fields", manifest_fields, "ManifestError", 1024),
    Harness("note", note, "NoteError (KeyIdMismatch, Unverified, InvalidSignature)", 4096),
    Harness("note_keys", note_keys, "NoteError; VerifierKeyError", 1024),
    Harness("checkpoint", checkpoint, "NoteError, CheckpointError", 4096),
    Harness("cosignature", cosignature, "CosignatureError", 8192),
    Harness("receipt", receipt,
            "ReceiptError, NoteError, CheckpointError, InvalidProofError", 8192),
    Harness("merkle", merkle, "MerkleError (InvalidProofError)", 4096),
    Harness("tiles", tiles, "TilePathError, TileFormatError", 8192),
    Harness("roster", roster, "RosterError and subclasses", 16384),
    Harness("card", card, "CardError", 4096),
    Harness("keyfile", keyfile, "KeyFileError, UnlockError", 4096),
    Harness("identity_plaintext", identity_plaintext, "KeyFileError, InvalidNameError", 1024),
    Harness("events", events, "EventError", 2048),
    Harness("replytext", replytext, "ReplyFormatError", 4096),
    Harness("codename", codename, "CodenameError", 1024),
    Harness("http_headers", http_headers,
            "ValidationError, ApiError 400, WorkError, RangeNotSatisfiable, "
            "MailboxSecretError", 512),
)
HARNESSES: dict[str, Harness] = {h.name: h for h in _ALL}
