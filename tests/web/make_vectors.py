"""Write the vectors the web page's tests check its JavaScript against (tests/web/vectors/).

Run from the repository root::

    python -m tests.web.make_vectors

Every value comes from the Python implementation (`vault`, `keys`), with fixed seeds, keys
and dates, so running it again writes the same files (tests/web/test_vectors.py fails when
the committed files differ from what this writes now). The one exception is the sealed reply
in reply.json: age encryption draws fresh randomness, so a sealed reply already in the
committed file is kept as long as it still opens, with the codename's reply identity, to the
same message.

The files and their shapes are the contract with web/test/ (web/README.md, "Shared vectors").
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import json
import re
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mnemonic import Mnemonic

from keys.card import derive_key_id
from keys.cosigner import CosignerKey
from keys.fingerprint import org_fingerprint
from keys.identity import InvestigatorIdentity
from keys.org import OrgKey
from keys.roster import (
    CLOCK_SLACK_DAYS,
    MAX_VALIDITY_DAYS,
    POLICY_ALLOW_X25519,
    Roster,
    sign_roster,
)
from vault import age
from vault.audit import receipt_file_text
from vault.bundle import iter_bundle
from vault.codename import CodenameError, check_codename, derive
from vault.events import (
    access_event,
    deletion_event,
    reply_event,
    roster_event,
    submission_event,
)
from vault.padding import padme_length
from vault.replytext import REPLY_HEADER, pad_reply, read_reply
from vault.service.work import solve
from vault.store.auditlog import AuditLog
from vault.testimony import (
    AgeRange,
    Attachment,
    Detention,
    Hometown,
    LastContact,
    Manifest,
    Person,
    Reply,
)
from vault.tlog import note
from vault.tlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from vault.tlog.cosignature import CosignatureError, verify
from vault.tlog.cosigning import Cosigner, CosigningPolicy
from vault.tlog.proof import Receipt
from vault.witness import _EXTENSIONS, neutral_name

VECTORS = Path(__file__).resolve().parent / "vectors"
TODAY = datetime.date(2026, 12, 3)  # the "today" every roster vector is judged on
MOMENT = datetime.datetime(2026, 11, 21, 5, 0, tzinfo=datetime.UTC)
ORG_ORIGIN = "example.org/amanat"
LOG_ORIGIN = "vault.example.org/log"
BUNDLE_INLINE_LIMIT = 64 * 1024

_BIP39 = Mnemonic("english")


def seed(label: str, length: int = 32) -> bytes:
    """Fixed pseudo-random bytes named by ``label`` (never a real key)."""
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(f"amanat test vectors/{label}/{counter}".encode()).digest()
        counter += 1
    return out[:length]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- codename -------------------------------------------------------------------------------


def codename_phrase(entropy: bytes) -> str:
    return str(_BIP39.to_mnemonic(entropy))


def codename_vectors() -> dict[str, Any]:
    entropies = [bytes(16), b"\xff" * 16, b"\x7f" * 16, b"\x80" * 16,
                 seed("codename/1", 16), seed("codename/2", 16)]
    cases = []
    for entropy in entropies:
        phrase = codename_phrase(entropy)
        keys = derive(phrase, 2)
        cases.append({
            "codename": phrase,
            "entropy": entropy.hex(),
            "identity": str(keys.reply_identity),
            "recipient": str(keys.reply_identity.recipient()),
            "mailbox_secret": keys.mailbox_secret.hex(),
            "mailbox_id": keys.mailbox_id,
        })
    zero = codename_phrase(bytes(16)).split()
    other = codename_phrase(seed("codename/1", 16)).split()
    texts = [
        "",
        " ".join(zero[:11]),
        " ".join([*zero, "abandon"]),
        " ".join([*zero[:6], "abandn", *zero[7:]]),  # word 7 not in the list
        " ".join(["Notaword", *zero[1:]]),
        " ".join([*zero[:11], "abandon"]),  # every word listed, checksum wrong
        " ".join([*other[:10], other[11], other[10]]),  # two words swapped
        " ".join(zero).replace("about", "zoo"),
    ]
    invalid = []
    for text in texts:
        try:
            check_codename(text)
        except CodenameError as exc:
            invalid.append({"text": text, "code": exc.code, "position": exc.position})
        else:  # pragma: no cover - a vector meant to be invalid is valid
            raise AssertionError(f"not invalid: {text!r}")
    messy = [
        "  " + " ".join(w.upper() for w in zero) + " \n",
        "\t".join(other),
        "   ".join(other[:6]) + "\r\n" + " ".join(w.capitalize() for w in other[6:]),
        # An ideographic space (a Chinese keyboard's), a no-break space, full-width letters:
        # NFKD makes them plain spaces and letters.
        "\u3000".join(other[:4]) + "\u00a0" + " ".join(other[4:11]) + " "
        + "".join(chr(ord(c) + 0xFEE0) for c in other[11]),
    ]
    equivalent = [{"text": text, "canonical": check_codename(text)} for text in messy]
    return {"cases": cases, "invalid": invalid, "equivalent": equivalent}


# --- organization key fingerprint -----------------------------------------------------------


def fingerprint_vectors() -> dict[str, Any]:
    vkeys = [OrgKey(origin, seed(f"org/{origin}")).vkey()
             for origin in (ORG_ORIGIN, "other.example/amanat", "ngo.example/vault", "a")]
    vkeys.append(note.Signer(LOG_ORIGIN, _signing_key("log")).vkey())
    vkeys.append(_org().vkey())  # a hybrid key: the two vkeys, a space between
    return {"cases": [{"vkey": vkey, "fingerprint": org_fingerprint(vkey)} for vkey in vkeys]}


# --- PADMÉ ----------------------------------------------------------------------------------


def padme_vectors() -> dict[str, Any]:
    lengths = set(range(301))
    for exponent in range(1, 41):
        lengths.update({2**exponent - 1, 2**exponent, 2**exponent + 1})
    lengths.update({1_000_001, 12_345_677, 987_654_321, 2**40 - 12_345, 3 * 2**33 + 7})
    return {"cases": [[n, padme_length(n)] for n in sorted(lengths)]}


# --- manifests and bundles ------------------------------------------------------------------


def _attachment(name: str, media_type: str, data: bytes, *, orientation: int | None = None,
                kept: bool = False) -> tuple[Attachment, bytes]:
    before = hashlib.sha256(b"original " + data).hexdigest()
    return (Attachment(name, media_type, len(data), before, hashlib.sha256(data).hexdigest(),
                       kept, orientation), data)


def _reply() -> Reply:
    keys = derive(codename_phrase(seed("codename/1", 16)), 2)
    return Reply(recipient=str(keys.reply_identity.recipient()), mailbox_id=keys.mailbox_id)


def _fake_jpeg(size: int) -> bytes:
    body = seed("jpeg", size)
    return b"\xff\xd8\xff\xdb" + body[: max(0, size - 6)] + b"\xff\xd9"


def _fake_pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def bundle_cases() -> list[tuple[str, Manifest, list[tuple[Attachment, bytes]]]]:
    every_field = Person(
        status="camp",
        name_native="ئابدۇرەھىم ھەيت",
        name_latin="Abdurehim Heyit",
        gender="male",
        birth_year=1964,
        ethnicity="Uyghur",
        hometown=Hometown(prefecture="Qeshqer", county="Kona Sheher", village="Bulaqbeshi"),
        detention=Detention(date="2017-21~", place="Ürümchi, \"Number 3\" centre"),
        charges="\"religious extremism\"",
        sentence="unknown; told \\ 8 years",
        last_contact=LastContact(date="2017/2018-06", details="a WeChat call, then nothing"),
        relation="nephew",
        how_known="family",
        how_known_details="my aunt told me by phone",
    )
    ages = Person(
        status="released",
        name_native="Гүлнара Исмаилова",
        gender="female",
        age_at_detention=AgeRange(min=40, max=45),
        ethnicity="Kazakh",
        hometown=Hometown(county="Ile"),
        detention=Detention(date="2018-03-12"),
        last_contact=LastContact(details="she called from Almaty"),
        how_known="witnessed",
    )
    statement = (
        "مېنىڭ ئاكام 2017-يىلى تۇتۇلدى. Менің ағам ұсталды. 我的哥哥被拘留了。\n"
        "He said \"they took everyone\" \\ C:\\camp\\path\t(tab)\r\n"
        "controls: \x00 \x01 \x08 \x0c \x1f \x7f; separators: \u2028 \u2029; "
        "bidi: \u202e\u2066; emoji: 🙏🏽👨‍👩‍👧; astral: 𠀀; BOM: \ufeff; slash: </script>"
    )
    jpeg = _attachment(neutral_name(1, "image/jpeg"), "image/jpeg", _fake_jpeg(3000),
                       orientation=6)
    pdf = _attachment(neutral_name(2, "application/pdf"), "application/pdf", _fake_pdf())
    big = _attachment(neutral_name(1, "application/octet-stream"), "application/octet-stream",
                      seed("big", 70_000), kept=True)
    names = [
        _attachment(neutral_name(position, media_type), media_type,
                    seed(f"neutral/{position}", position * 37))
        for position, media_type in enumerate(
            ["image/png", "image/webp", "text/plain", "image/gif", "image/tiff"], start=1)
    ]
    return [
        ("empty", Manifest(language="und", statement="", publication_consent="none"), []),
        ("statement", Manifest(language="ug-Arab-CN", statement=statement,
                               publication_consent="anonymised"), []),
        ("persons", Manifest(language="kk-Cyrl", statement="Two of my family.",
                             publication_consent="full", persons=(every_field, ages,
                                                                  Person()),), []),
        ("two-attachments", Manifest(language="zh-Hans", statement="照片和文件",
                                     publication_consent="none",
                                     attachments=(jpeg[0], pdf[0])), [jpeg, pdf]),
        ("large-attachment", Manifest(language="en", statement="a long recording",
                                      publication_consent="none", attachments=(big[0],)),
         [big]),
        ("neutral-names", Manifest(language="tr", statement="", publication_consent="none",
                                   attachments=tuple(a for a, _ in names)), names),
        ("reply", Manifest(language="ru", statement="Ответьте, пожалуйста.",
                           publication_consent="none", reply=_reply()), []),
    ]


def bundle_vectors() -> dict[str, Any]:
    cases = []
    for name, manifest, attachments in bundle_cases():
        data = b"".join(iter_bundle(manifest, {a.name: content for a, content in attachments}))
        case: dict[str, Any] = {
            "name": name,
            "manifest": manifest.to_dict(),
            "manifest_json": b64(manifest.to_json()),
            "attachments": [{"name": a.name, "data": b64(content)}
                            for a, content in attachments],
            "bundle_length": len(data),
            "bundle_sha256": hashlib.sha256(data).hexdigest(),
        }
        if len(data) <= BUNDLE_INLINE_LIMIT:
            case["bundle"] = b64(data)
        cases.append(case)
    media_types = [*_EXTENSIONS, "application/x-amanat-unknown"]
    neutral = [[position, media_type, neutral_name(position, media_type)]
               for position, media_type in enumerate(media_types, start=1)]
    neutral.append([10_000, "image/jpeg", neutral_name(10_000, "image/jpeg")])
    return {"neutral_names": neutral, "cases": cases}


# --- rosters --------------------------------------------------------------------------------


def _signing_key(label: str) -> Any:
    import nacl.signing

    return nacl.signing.SigningKey(seed(f"signer/{label}"))


def _org() -> OrgKey:
    return OrgKey(ORG_ORIGIN, seed(f"org/{ORG_ORIGIN}"), seed(f"org-ml-dsa/{ORG_ORIGIN}"))


def _log_signer() -> note.HybridSigner:
    return note.HybridSigner(note.Signer(LOG_ORIGIN, _signing_key("log")),
                             note.MLDSASigner(LOG_ORIGIN, seed("signer/log-ml-dsa")))


def _identities() -> list[InvestigatorIdentity]:
    names = ("Гүлнара Исмаилова", "ئابدۇرەھىم ھەيت", "Erlan Nurlanuly", "Admin Only")
    # Erlan holds an identity from before ML-DSA-44 auth keys: a classical roster line.
    return [InvestigatorIdentity(name, seed(f"age/{name}"), seed(f"auth/{name}"),
                                 None if name == "Erlan Nurlanuly" else seed(f"auth-pq/{name}"))
            for name in names]


def _roster_entry(signed: str, roster: Roster) -> dict[str, Any]:
    return {
        "roster": signed,
        "version": roster.version,
        "policy": roster.policy,
        "expires": roster.expiry().isoformat(),
        "log": roster.log_vkey,
        "readers": [person.recipient for person in roster.readers()],
        "investigators": [
            {"key_id": person.key_id, "roles": list(person.roles),
             "auth": b64(person.auth_key),
             "auth_pq": None if person.auth_pq is None else b64(person.auth_pq),
             "recipient": person.recipient, "name": person.name}
            for person in roster.investigators
        ],
    }


def roster_vectors() -> dict[str, Any]:
    org = _org()
    signers = org.signers()
    log_vkey = _log_signer().vkey()
    cards = [identity.card() for identity in _identities()]
    day = datetime.timedelta(days=1)
    full = (Roster.empty(ORG_ORIGIN).with_added(cards[:2]).with_added([cards[2]], roles=(
        "admin", "reader")).with_added([cards[3]], roles=("admin",)).with_log(log_vkey)
        .with_expiry(TODAY + 90 * day))
    valid = [(sign_roster(full, *signers, today=TODAY), full)]
    # Valid through the end of its expiry day: on that day it is still accepted.
    last_day = Roster.empty(ORG_ORIGIN).with_added([cards[0]]).with_log(log_vkey)
    last_day = last_day.with_expiry(TODAY)
    valid.append((sign_roster(last_day, *signers, today=TODAY - 30 * day), last_day))
    # Signed by an admin whose clock is CLOCK_SLACK_DAYS ahead, for the longest validity.
    longest = last_day.renewed(TODAY + (MAX_VALIDITY_DAYS + CLOCK_SLACK_DAYS) * day)
    valid.append((sign_roster(longest, *signers, today=TODAY + CLOCK_SLACK_DAYS * day),
                  longest))

    good = valid[0][0]
    body, _, signatures = good.rpartition("\n\n")
    other_org = OrgKey(ORG_ORIGIN, seed("org/impostor"), seed("org-ml-dsa/impostor"))
    invalid: list[dict[str, Any]] = []

    def bad(code: str, why: str, text: str) -> None:
        invalid.append({"roster": text, "code": code, "why": why})

    altered = good.replace(cards[0].name, "Гүлнара Исмаилова".replace("Г", "Т"), 1)
    bad("signature", "a name changed after signing", altered)
    bad("signature", "signed by another key with the organization's name",
        sign_roster(full, *other_org.signers(), today=TODAY))
    bad("signature", "no signature at all", body + "\n")
    bad("signature", "signed by the Ed25519 half of the organization key alone",
        sign_roster(full, signers[0], today=TODAY))
    bad("signature", "signed by the ML-DSA-44 half of the organization key alone",
        sign_roster(full, signers[1], today=TODAY))
    sig = signatures.split(" ")
    flipped = base64.b64decode(sig[-1].strip())
    flipped = flipped[:10] + bytes([flipped[10] ^ 1]) + flipped[11:]
    bad("signature", "one bit of the signature flipped",
        body + "\n\n" + " ".join([*sig[:-1], b64(flipped)]) + "\n")
    other_name = OrgKey("other.example/amanat", seed("org/other.example/amanat"),
                        seed("org-ml-dsa/other.example/amanat"))
    bad("signature", "signed by another organization, which the roster names",
        sign_roster(Roster.empty("other.example/amanat").with_added([cards[0]])
                    .with_log(log_vkey).with_expiry(TODAY + 90 * day),
                    *other_name.signers(), today=TODAY))
    bad("malformed", "a leading zero in the version",
        note.sign_note(full.format().replace("version 4\n", "version 04\n"), *signers))
    bad("malformed", "a trailing space after the policy",
        note.sign_note(full.format().replace("policy pq-only\n", "policy pq-only \n"), *signers))
    bad("malformed", "investigators not sorted by key id",
        note.sign_note(_swap_investigators(full.format()), *signers))
    first = full.investigators[0].key_id
    bad("malformed", "a key id that does not match its keys",
        note.sign_note(full.format().replace(f"investigator {first} ",
                                             f"investigator {_other_hex(first)} "), *signers))
    bad("malformed", "not a roster", note.sign_note("hello\n", *signers))
    hybrid = next(p for p in full.investigators if p.auth_pq is not None)
    assert hybrid.auth_pq is not None
    ed, pq, short = b64(hybrid.auth_key), b64(hybrid.auth_pq), b64(hybrid.auth_pq[:-1])
    other_pq = b64(InvestigatorIdentity("Other", seed("age/other"), seed("auth/other"),
                                        seed("auth-pq/other")).card().auth_pq or b"")
    for why, auth in (
            ("auth field: an auth field with two commas", f"{ed},{pq},{pq}"),
            ("auth field: an auth field with an empty ML-DSA-44 half", f"{ed},"),
            ("auth field: an auth field with an empty Ed25519 half", f",{pq}"),
            ("auth field: an ML-DSA-44 auth key that is not base64", f"{ed},{pq[:-8]}!!!!!!!="),
            ("auth field: an ML-DSA-44 auth key without its padding", f"{ed},{pq.rstrip('=')}"),
            ("auth field: an ML-DSA-44 auth key with non-zero unused bits", f"{ed},{pq[:-3]}B=="),
            ("auth field: an ML-DSA-44 auth key one byte short", f"{ed},{short}"),
            ("auth field: an Ed25519 auth key without its padding", f"{ed.rstrip('=')},{pq}"),
            ("auth field: a hybrid line without its ML-DSA-44 half (its key id is v2)", ed),
            ("auth field: another ML-DSA-44 auth key than the key id covers", f"{ed},{other_pq}")):
        bad("malformed", why, note.sign_note(
            full.format().replace(f" {ed},{pq} ", f" {auth} "), *signers))
    bad("origin", "the roster names another organization than the key that signed it",
        note.sign_note(full.format().replace(f"amanat.roster/v1 {ORG_ORIGIN}\n",
                                             "amanat.roster/v1 other.example/amanat\n"),
                       *signers))
    expired = last_day.with_expiry(TODAY - day)
    bad("expired", "expired yesterday", sign_roster(expired, *signers, today=TODAY - 30 * day))
    too_long = last_day.with_expiry(TODAY + (MAX_VALIDITY_DAYS + CLOCK_SLACK_DAYS + 1) * day)
    bad("too-long", f"valid for {MAX_VALIDITY_DAYS + CLOCK_SLACK_DAYS + 1} days from today",
        sign_roster(too_long, *signers, today=TODAY + (CLOCK_SLACK_DAYS + 1) * day))
    admins = Roster.empty(ORG_ORIGIN).with_added([cards[3]], roles=("admin",)).with_log(
        log_vkey).with_expiry(TODAY + 90 * day)
    bad("no-readers", "only an admin: nothing to seal to", sign_roster(admins, *signers,
                                                                       today=TODAY))
    nobody = Roster(ORG_ORIGIN, 1, log_vkey=log_vkey, expires=TODAY + 90 * day)
    bad("no-readers", "no investigators at all", sign_roster(nobody, *signers, today=TODAY))
    no_log = Roster.empty(ORG_ORIGIN).with_added(cards[:2]).with_expiry(TODAY + 90 * day)
    bad("no-log", "no log key: a receipt could prove nothing",
        sign_roster(no_log, *signers, today=TODAY))
    classical = _classical_line()
    bad("policy", "a classical X25519 recipient under policy pq-only",
        note.sign_note(_with_line(no_log.format(), classical), *signers))
    mixed = no_log.format().replace("policy pq-only", f"policy {POLICY_ALLOW_X25519}")
    bad("policy", "readers mixing post-quantum and X25519 recipients",
        note.sign_note(_with_line(mixed, classical), *signers))
    return {
        "org_vkey": org.vkey(),
        "today": TODAY.isoformat(),
        "valid": [_roster_entry(signed, roster) for signed, roster in valid],
        "invalid": invalid,
    }


def _other_hex(key_id: str) -> str:
    return ("1" if key_id[0] == "0" else "0") + key_id[1:]


def _swap_investigators(text: str) -> str:
    lines = text.split("\n")
    first = next(i for i, line in enumerate(lines) if line.startswith("investigator "))
    lines[first], lines[first + 1] = lines[first + 1], lines[first]
    return "\n".join(lines)


def _with_line(text: str, line: str) -> str:
    """``text`` with the investigator ``line`` added where its key id sorts, so that only
    what the line is about is wrong."""
    lines = text.splitlines(keepends=True)
    head = [x for x in lines if not x.startswith("investigator ")]
    return "".join(head + sorted([x for x in lines if x.startswith("investigator ")] + [line]))


def _classical_line() -> str:
    recipient = str(age.X25519Identity(seed("x25519")).recipient())
    auth = bytes(_signing_key("classical").verify_key)
    key_id = derive_key_id(recipient, auth)
    return f"investigator {key_id} reader {b64(auth)} {recipient} Classical Key\n"


# --- receipts -------------------------------------------------------------------------------


def _entries() -> list[bytes]:
    submission_ids = [seed(f"submission/{i}", 16).hex() for i in range(5)]
    events = [
        roster_event(1, seed("roster text", 32).hex(), moment=MOMENT),
        submission_event(submission_ids[0], seed("ct/0").hex(), 1234, moment=MOMENT),
        submission_event(submission_ids[1], seed("ct/1").hex(), 99_999, moment=MOMENT),
        access_event(submission_ids[0], "0123456789abcdef", moment=MOMENT),
        reply_event(seed("reply/0", 16).hex(), seed("rct/0").hex(), 4321, moment=MOMENT),
        submission_event(submission_ids[2], seed("ct/2").hex(), 5_000_000, moment=MOMENT),
        deletion_event(submission_ids[1], "0123456789abcdef", moment=MOMENT),
        submission_event(submission_ids[3], seed("ct/3").hex(), 512, moment=MOMENT),
        submission_event(submission_ids[4], seed("ct/4").hex(), 70_656, moment=MOMENT),
    ]
    return [event.encode() for event in events]


def receipt_vectors() -> dict[str, Any]:
    signer = _log_signer()
    entries = _entries()
    connection = sqlite3.connect(":memory:")
    valid = []
    receipts: dict[int, str] = {}
    try:
        log = AuditLog(connection, signer, LOG_ORIGIN)
        log.append(entries[:4])
        early = log.receipt(1)  # a receipt against an earlier, smaller checkpoint
        log.append(entries[4:7])
        log.append(entries[7:])
        for index in range(len(entries)):
            receipts[index] = log.receipt(index)
        size = log.size()
    finally:
        connection.close()
    submissions = [i for i, e in enumerate(entries) if b"\nkind submission\n" in e]
    for index in submissions:
        text = entries[index].decode("ascii")
        valid.append({"receipt": receipts[index], "entry": text, "index": index,
                      "size": size, "receipt_file": receipt_file_text(text, receipts[index])})
    valid.append({"receipt": early, "entry": entries[1].decode("ascii"), "index": 1,
                  "size": 4, "receipt_file": receipt_file_text(entries[1], early)})

    invalid: list[dict[str, Any]] = []

    def bad(why: str, receipt: str, entry: bytes) -> None:
        invalid.append({"receipt": receipt, "entry": entry.decode("ascii"), "why": why})

    target = 5
    receipt = Receipt.parse(receipts[target])
    bad("the receipt is for another entry", receipts[target], entries[7])
    proof = list(receipt.proof)
    proof[1] = proof[1][:7] + bytes([proof[1][7] ^ 0x20]) + proof[1][8:]
    bad("one bit of a proof hash flipped",
        Receipt(receipt.index, tuple(proof), receipt.checkpoint).format(), entries[target])
    bad("the wrong index", Receipt(7, receipt.proof, receipt.checkpoint).format(),
        entries[target])
    bad("the last proof hash left out",
        Receipt(receipt.index, receipt.proof[:-1], receipt.checkpoint).format(),
        entries[target])
    bad("an extra proof hash",
        Receipt(receipt.index, (*receipt.proof, seed("extra hash")), receipt.checkpoint)
        .format(), entries[target])
    impostor = note.Signer(LOG_ORIGIN, _signing_key("impostor log"))
    checkpoint = open_checkpoint(receipt.checkpoint, signer.verifier(), LOG_ORIGIN)
    forged = sign_checkpoint(checkpoint, impostor, *signer.signers()[1:])
    bad("the checkpoint is signed by the log key's ML-DSA-44 half and another Ed25519 key",
        Receipt(receipt.index, receipt.proof, forged).format(), entries[target])
    forged = sign_checkpoint(checkpoint, impostor)
    bad("the checkpoint is signed by another key with the log's name",
        Receipt(receipt.index, receipt.proof, forged).format(), entries[target])
    other_origin = note.Signer("other.example/log", _signing_key("log"))
    renamed = sign_checkpoint(Checkpoint("other.example/log", checkpoint.size,
                                         checkpoint.root_hash), other_origin)
    bad("the checkpoint is signed by the log key's Ed25519 half alone",
        Receipt(receipt.index, receipt.proof, sign_checkpoint(checkpoint, signer.classical))
        .format(), entries[target])
    bad("the checkpoint is of another log",
        Receipt(receipt.index, receipt.proof, renamed).format(), entries[target])
    bad("the entry is an access, not a submission", receipts[3], entries[3])
    bad("the entry is a deletion, not a submission", receipts[6], entries[6])
    bad("the receipt's extra line names another entry than the one checked",
        _with_extra(receipts[target], entries[7]), entries[target])
    return {"log_vkey": signer.vkey(), "valid": valid, "invalid": invalid}


# --- cosignatures ---------------------------------------------------------------------------

COSIGNER_NAMES = ("a.partner.example/cosigner", "b.partner.example/cosigner",
                  "c.partner.example/cosigner", "unnamed.example/cosigner")
COSIGNED_AT = 1_795_000_000  # the time every vector cosignature carries


def _cosigner_keys() -> list[CosignerKey]:
    return [CosignerKey(name, seed(f"cosigner/{name}"), seed(f"cosigner-mldsa/{name}"))
            for name in COSIGNER_NAMES]


def cosign_vectors(previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """A roster naming three cosigners (2 of 3 required) and receipts whose checkpoints carry
    various cosignatures, with what the policy says of each. ML-DSA-44 signing draws fresh
    randomness: a line already in the committed file is kept while it still verifies."""
    org = _org()
    log = _log_signer()
    keys = _cosigner_keys()
    named = tuple(Cosigner.from_vkeys(*key.vkeys(), f"https://{key.name.split('/')[0]}")
                  for key in keys[:3])
    policy = CosigningPolicy(2, named)
    roster = (Roster.empty(ORG_ORIGIN).with_added([_identities()[0].card()]).with_log(
        log.vkey()).with_cosigning(policy).with_expiry(TODAY + datetime.timedelta(days=30)))
    signed_roster = sign_roster(roster, *org.signers(), today=TODAY)
    kept = {line for case in (previous or {}).get("cases", [])
            for line in case["receipt"].split("\n") if len(line) > 1000}

    def mldsa_line(key: CosignerKey, body: str) -> str:
        verifier = key.mldsa_signer().verifier()
        for line in sorted(kept):
            with contextlib.suppress(CosignatureError):
                if verify(body, line, verifier).timestamp == COSIGNED_AT:
                    return line + "\n"
        return key.mldsa_signer().sign(body, COSIGNED_AT).line()

    def cosigned(checkpoint_note: str, *numbers: int, mldsa: bool = True) -> str:
        body = checkpoint_note[: checkpoint_note.rfind("\n\n") + 1]
        for number in numbers:
            checkpoint_note += keys[number].signer().sign(body, COSIGNED_AT).line()
            if mldsa:
                checkpoint_note += mldsa_line(keys[number], body)
        return checkpoint_note

    entries = _entries()
    connection = sqlite3.connect(":memory:")
    try:
        audit_log = AuditLog(connection, log, LOG_ORIGIN)
        audit_log.append(entries)
        receipt = Receipt.parse(audit_log.receipt(2))
    finally:
        connection.close()
    entry = entries[2].decode("ascii")
    # A second history signed with the same log key: same size, another root.
    fork = Checkpoint(LOG_ORIGIN, receipt_size(receipt), seed("forked root"))
    forked_note = sign_checkpoint(fork, *log.signers())
    honest = receipt.checkpoint
    cases: list[dict[str, Any]] = []

    def case(why: str, checkpoint_note: str, **outcome: Any) -> None:
        text = Receipt(receipt.index, receipt.proof, checkpoint_note).format()
        cases.append({"why": why, "receipt": text, "entry": entry, **outcome})

    case("all three cosigners", cosigned(honest, 0, 1, 2), cosigned_by=list(COSIGNER_NAMES[:3]))
    case("two of three (the quorum)", cosigned(honest, 2, 0),
         cosigned_by=[COSIGNER_NAMES[0], COSIGNER_NAMES[2]])
    case("one of three", cosigned(honest, 1), found=1)
    case("no cosignature", honest, found=0)
    case("Ed25519 cosignatures without their ML-DSA-44 halves",
         cosigned(honest, 0, 1, mldsa=False), found=0)
    case("a cosigner the roster does not name (ignored)", cosigned(honest, 0, 3), found=1)
    for position, half in ((-5, "Ed25519"), (-4, "ML-DSA-44")):
        # Lines: ..., a's Ed25519, a's ML-DSA-44, b's Ed25519, b's ML-DSA-44, "".
        flipped = cosigned(honest, 0, 1).split("\n")
        line = flipped[position]
        blob = bytearray(base64.b64decode(line.split(" ")[2]))
        blob[-1] ^= 1
        flipped[position] = " ".join([*line.split(" ")[:2], b64(bytes(blob))])
        case(f"a named cosigner's {half} cosignature with one bit flipped",
             "\n".join(flipped), forged=True, half=half)
    case("a forked history's checkpoint carrying the honest checkpoint's cosignatures",
         forked_note + cosigned(honest, 0, 1)[len(honest):], forged=True, half="Ed25519")
    for item in cases:
        if "found" in item:
            item["message"] = f"not yet cosigned: {item['found']} of 2 required; fetch again later"
    return {
        "org_vkey": org.vkey(),
        "today": TODAY.isoformat(),
        "roster": signed_roster,
        "log_vkey": log.vkey(),
        "quorum": 2,
        "cosigners": [{"name": c.name, "ed25519": c.ed25519.vkey(), "mldsa44": c.mldsa44.vkey(),
                       "url": c.url} for c in named],
        "cases": cases,
    }


def receipt_size(receipt: Receipt) -> int:
    return int(receipt.checkpoint.split("\n")[1])


def _with_extra(receipt_text: str, extra: bytes) -> str:
    parsed = Receipt.parse(receipt_text)
    return Receipt(parsed.index, parsed.proof, parsed.checkpoint, extra).format()


# --- replies --------------------------------------------------------------------------------


REPLY_MESSAGES = [
    "",
    "Thank you. We received your testimony.",
    "رەھمەت. گۇۋاھلىقىڭىزنى تاپشۇرۇۋالدۇق.\nسىز بىلەن ئالاقىلىشىمىز.",
    "Рақмет! Куәлігіңізді алдық.",
    "谢谢。我们已收到您的证词。",
    "ends in the marker byte's character \u0080",
    "a NUL \x00 inside, and zeros at the end\x00\x00",
    "emoji 🙏🏽 and a long line " + "x" * 300,
]


def reply_vectors(previous: dict[str, Any] | None = None) -> dict[str, Any]:
    plaintexts = [{"message": m, "plaintext": b64(pad_reply(m))} for m in REPLY_MESSAGES]
    # Replies from before padding (v1): the plaintext is the message itself.
    for raw in (b"an old reply, unpadded", "старый ответ".encode(), b"not UTF-8: \xff\xfe"):
        plaintexts.append({"message": read_reply(raw), "plaintext": b64(raw)})
    invalid = [
        {"plaintext": b64(REPLY_HEADER + b"no marker" + bytes(6)),
         "why": "a v2 reply without its 0x80 end marker"},
        {"plaintext": b64(REPLY_HEADER + b"junk after\x80\x01" + bytes(3)),
         "why": "a byte other than zero after the end marker"},
        {"plaintext": b64(REPLY_HEADER),
         "why": "the version line alone"},
    ]
    for case in invalid:
        try:
            read_reply(base64.b64decode(case["plaintext"]))
        except ValueError:
            continue
        raise AssertionError(f"not invalid: {case['why']}")  # pragma: no cover
    kept = {(s["codename"], s["message"]): s["sealed"]
            for s in (previous or {}).get("sealed", [])}
    sealed = []
    for label, message in (("codename/1", REPLY_MESSAGES[1]), ("codename/2", REPLY_MESSAGES[2])):
        phrase = codename_phrase(seed(label, 16))
        keys = derive(phrase, 2)
        text = kept.get((phrase, message))
        if text is None or not _opens(text, keys.reply_identity, message):
            text = b64(age.encrypt_bytes(pad_reply(message), [keys.reply_identity.recipient()]))
        sealed.append({"codename": phrase, "sealed": text, "message": message})
    return {"plaintexts": plaintexts, "invalid": invalid, "sealed": sealed}


def _opens(sealed_b64: str, identity: age.Identity, message: str) -> bool:
    try:
        plaintext = age.decrypt_bytes(base64.b64decode(sealed_b64), [identity], armored=False)
        return read_reply(plaintext) == message
    except (ValueError, age.AgeError):
        return False


# --- proof of work --------------------------------------------------------------------------


def work_vectors() -> dict[str, Any]:
    cases = []
    for bits in range(15):
        work_seed = seed(f"work/{bits}", 40)
        cases.append({"seed": b64(work_seed), "bits": bits, "counter": solve(work_seed, bits)})
    return {"cases": cases}


# --- writing --------------------------------------------------------------------------------


def dumps(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _previous(name: str) -> dict[str, Any] | None:
    path = VECTORS / name
    if not path.exists():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return loaded


def generate() -> dict[str, str]:
    """Every vector file's name and the text this implementation gives it now."""
    makers: dict[str, Callable[[], dict[str, Any]]] = {
        "codename.json": codename_vectors,
        "fingerprint.json": fingerprint_vectors,
        "padme.json": padme_vectors,
        "bundle.json": bundle_vectors,
        "roster.json": roster_vectors,
        "receipt.json": receipt_vectors,
        "reply.json": lambda: reply_vectors(_previous("reply.json")),
        "work.json": work_vectors,
        "cosign.json": lambda: cosign_vectors(_previous("cosign.json")),
    }
    return {name: dumps(_keep_committed(make(), _previous(name)))
            for name, make in makers.items()}


_MLDSA_SIGNATURE_LINE = re.compile("^\u2014 [^ \n]+ [A-Za-z0-9+/=]{3000,}$", re.MULTILINE)


def _keep_committed(new: Any, old: Any) -> Any:
    """ML-DSA-44 signatures are randomized (hedged): where a signed text differs from the
    committed one only in its ML-DSA-44 signature lines, the committed text is kept, so the
    files change only when what they say changes (test_vectors.py checks every vector
    against the Python implementation as it is)."""
    if isinstance(new, dict) and isinstance(old, dict):
        return {key: _keep_committed(value, old.get(key)) for key, value in new.items()}
    if isinstance(new, list) and isinstance(old, list) and len(new) == len(old):
        return [_keep_committed(a, b) for a, b in zip(new, old, strict=True)]
    if (isinstance(new, str) and isinstance(old, str) and new != old
            and _MLDSA_SIGNATURE_LINE.sub("", new) == _MLDSA_SIGNATURE_LINE.sub("", old)):
        return old
    return new


def main() -> int:
    VECTORS.mkdir(exist_ok=True)
    for name, text in generate().items():
        path = VECTORS / name
        if not path.exists() or path.read_text("utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
