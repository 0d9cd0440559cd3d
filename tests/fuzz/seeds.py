"""Seeds for the fuzz corpora.

Two sources:

* ``writer_seeds``: real objects made with the project's own writers (sealed files, bundles,
  manifests, signed rosters and checkpoints, receipts, cards, key files, events, replies,
  codenames, headers) from the fixed keys of tests/fuzz/fixed.py. ``python -m tests.fuzz
  seed`` writes them to tests/fuzz/corpus/<harness>/w-<label> once; they are committed.
* ``vector_seeds``: the shared vectors (../shared/vectors: C2SP CCTV age files, the Merkle
  proofs of transparency-dev and CCTV, the signed-note example), read from there whenever a
  harness runs or the corpus is replayed, and never copied into the repository.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from mnemonic import Mnemonic

from keys.card import PublicCard
from keys.cosigner import CosignerKey
from keys.keyfile import KdfParams
from keys.roster import Investigator, Roster, sign_roster
from tests.fuzz import fixed
from tests.fuzz.harnesses import entry_for
from vault import age
from vault.bundle import iter_bundle
from vault.events import (
    access_event,
    deletion_event,
    reply_event,
    roster_event,
    submission_event,
)
from vault.replytext import pad_reply
from vault.testimony import Attachment, Detention, Hometown, Manifest, Person, Reply
from vault.tlog.checkpoint import Checkpoint, sign_checkpoint
from vault.tlog.cosignature import cosign
from vault.tlog.cosigning import Cosigner, CosigningPolicy
from vault.tlog.merkle import InMemoryTree, leaf_hash
from vault.tlog.note import sign_note
from vault.tlog.proof import Receipt
from vault.tlog.tiles import entry_bundle, tile_bytes

ROOT = Path(__file__).resolve().parent.parent.parent
VECTORS = Path(os.environ.get("AMANAT_VECTORS", ROOT.parent / "shared" / "vectors"))

Seeds = Iterator[tuple[str, bytes]]


# --- from the project's writers -----------------------------------------------------------------


def _attachment(name: str, content: bytes) -> Attachment:
    return Attachment(
        name=name,
        media_type="image/jpeg" if name.endswith(".jpg") else "text/plain",
        size=len(content),
        sha256_before_cleaning=hashlib.sha256(b"before " + content).hexdigest(),
        sha256_after_cleaning=hashlib.sha256(content).hexdigest(),
        metadata_kept=False,
    )


FILES = {"photo.jpg": b"\xff\xd8\xff\xe0" + bytes(range(256)) * 3, "ئاكام.txt": "خەت\n".encode()}


def manifests() -> dict[str, Manifest]:
    reply = Reply(recipient=str(fixed.pq_identity().recipient()), mailbox_id="ab" * 32)
    person = Person(
        status="camp", name_native="ئابدۇرېھىم", name_latin="Abdurehim", gender="male",
        birth_year=1968, ethnicity="Uyghur",
        hometown=Hometown(prefecture="Ili", county="Ghulja", village="Bayandai"),
        detention=Detention(date="2018-21", place="a school turned into a camp"),
        relation="brother", how_known="family",
    )
    return {
        "minimal": Manifest(language="kk", statement="ағам", publication_consent="none"),
        "full": Manifest(
            language="ug-Arab", statement="ئاكام 2018-يىلى ئېلىپ كېتىلدى.",
            publication_consent="anonymised",
            persons=(person, Person(status="unknown", name_latin="Gulnar")),
            attachments=tuple(_attachment(n, c) for n, c in FILES.items()),
            reply=reply,
        ),
    }


def _age_seeds() -> Seeds:
    plaintext = b"testimony " * 40
    pq = [fixed.pq_identity().recipient()]
    classic = [fixed.x25519_identity().recipient()]
    yield "pq", age.encrypt_bytes(plaintext, pq)
    yield "pq-empty", age.encrypt_bytes(b"", pq)
    yield "pq-armored", age.encrypt_bytes(plaintext, pq, armor=True)
    yield "x25519", age.encrypt_bytes(plaintext, classic)
    yield "x25519-armored", age.encrypt_bytes(b"short", classic, armor=True)
    yield "x25519-two-chunks", age.encrypt_bytes(bytes(64 * 1024 + 1), classic)
    scrypt = age.ScryptRecipient(fixed.SCRYPT_PASSPHRASES[0], work_factor=2)
    yield "scrypt", age.encrypt_bytes(b"sealed with a passphrase", [scrypt])


def writer_seeds() -> dict[str, dict[str, bytes]]:
    """harness -> {label: bytes}, made with the project's writers."""
    seeds: dict[str, dict[str, bytes]] = {}
    sealed = dict(_age_seeds())
    seeds["age_header"] = {k: v for k, v in sealed.items() if "armored" not in k}
    seeds["age_decrypt"] = {k: v for k, v in sealed.items() if k != "x25519-two-chunks"}
    seeds["age_armor"] = {k: v for k, v in sealed.items() if "armored" in k}
    seeds["age_armor"]["crlf"] = sealed["x25519-armored"].replace(b"\n", b"\r\n")

    pq_identity = fixed.pq_identity()
    x_identity = fixed.x25519_identity()
    seeds["age_keys"] = {
        "pq-recipient": str(pq_identity.recipient()).encode(),
        "pq-identity": str(pq_identity).encode(),
        "x25519-recipient": str(x_identity.recipient()).encode(),
        "x25519-identity": str(x_identity).encode(),
        "identities-file": (f"# created: 2026-01-01T00:00:00Z\n# public key: "
                            f"{x_identity.recipient()}\n{x_identity}\n{pq_identity}\n").encode(),
    }

    manifests_ = manifests()
    seeds["manifest"] = {name: m.to_json() for name, m in manifests_.items()}
    minimal = b"".join(iter_bundle(manifests_["minimal"], {}))
    full = b"".join(iter_bundle(manifests_["full"], FILES))
    seeds["bundle"] = {"minimal": minimal, "full": full}
    seeds["bundle_extract"] = dict(seeds["bundle"])

    log = fixed.log_signer()
    seeds["note"] = {
        "signed": sign_note("a note\nwith two lines\n", log).encode(),
        "cosigned": sign_note("text\n\nwith a blank line\n", log, fixed.other_signer()).encode(),
    }
    seeds["note_keys"] = {
        "vkey": log.vkey().encode(),
        "private": log.private_key_string().encode(),
        "org-vkey": fixed.org_key().vkey().encode(),
    }

    tree = InMemoryTree(leaf_hash(entry_for(i)) for i in range(7))
    checkpoints = {
        size: sign_checkpoint(Checkpoint(fixed.LOG_ORIGIN, size, tree.root(size)), log)
        for size in (1, 4, 7)
    }
    seeds["checkpoint"] = {f"size-{n}": text.encode() for n, text in checkpoints.items()}
    seeds["checkpoint"]["extension"] = sign_checkpoint(
        Checkpoint(fixed.LOG_ORIGIN, 7, tree.root(), ("extension line",)), log).encode()
    body = Checkpoint(fixed.LOG_ORIGIN, 7, tree.root()).format()
    ed, ml = fixed.cosigners()
    cosigned = checkpoints[7] + cosign(body, ed, 1_790_000_000) + cosign(body, ml, 1_790_000_000)
    seeds["cosignature"] = {
        "cosigned-note": cosigned.encode(),
        "ed25519-line": cosign(body, ed, 1_790_000_000).encode(),
        "ed25519-vkey": ed.vkey().encode(),
    }
    seeds["receipt"] = {}
    for size, text in checkpoints.items():
        for index in sorted({0, size // 2, size - 1}):
            proof = tuple(tree.inclusion_proof(index, size))
            seeds["receipt"][f"index-{index}-size-{size}"] = Receipt(index, proof, text).format(
            ).encode()
    seeds["receipt"]["extra"] = Receipt(3, tuple(tree.inclusion_proof(3, 7)), checkpoints[7],
                                        extra=b"opaque").format().encode()

    seeds["merkle"] = {}
    for index, size in ((0, 1), (2, 7), (6, 7)):
        seeds["merkle"][f"inclusion-{index}-{size}"] = _merkle_input(
            0, index, size, [leaf_hash(entry_for(index)), tree.root(size)],
            tree.inclusion_proof(index, size))
    for old, new in ((1, 7), (3, 7), (4, 7)):
        seeds["merkle"][f"consistency-{old}-{new}"] = _merkle_input(
            1, old, new, [tree.root(old), tree.root(new)], tree.consistency_proof(old, new))

    org = fixed.org_key()
    cards = [person.card() for person in fixed.investigators()]
    draft = Roster(origin=org.origin, version=3, log_vkey=log.vkey(),
                   investigators=tuple(sorted(
                       (Investigator.from_card(cards[0]),
                        Investigator.from_card(cards[1], ("admin", "reader"))),
                       key=lambda p: p.key_id)),
                   expires=fixed.TODAY + timedelta(days=90))
    seeds["roster"] = {
        "signed": sign_roster(draft, *org.signers(), today=fixed.TODAY).encode(),
        "one-admin": sign_roster(
            Roster(origin=org.origin, version=1, investigators=(
                Investigator.from_card(cards[0], ("admin",)),),
                expires=fixed.TODAY + timedelta(days=1)),
            org.signer(), today=fixed.TODAY).encode(),
    }
    x_card = PublicCard(name="Classic Key", recipient=str(x_identity.recipient()),
                        auth_key=bytes(32))
    x_admin = PublicCard(name="Classic Admin", recipient=str(x_identity.recipient()),
                         auth_key=bytes(range(32)))
    # Classical recipients are 62 characters instead of 1,959: the fuzzer runs these faster.
    seeds["roster"]["x25519"] = sign_roster(
        Roster(origin=org.origin, version=9, policy="allow-x25519", log_vkey=log.vkey(),
               investigators=tuple(sorted((Investigator.from_card(x_card),
                                           Investigator.from_card(x_admin, ("admin",))),
                                          key=lambda p: p.key_id)),
               expires=fixed.TODAY + timedelta(days=30)),
        org.signer(), today=fixed.TODAY).encode()
    # The cosigners and their k-of-n policy (two cosigners under their own names).
    ed25519, mldsa44 = fixed.cosigners()
    other = CosignerKey("fuzz.example/other-cosigner", bytes([5]) * 32, bytes([6]) * 32)
    named = (Cosigner(ed25519.verifier(), mldsa44.verifier(), "http://127.0.0.1:8100"),
             Cosigner.from_vkeys(*other.vkeys(), "https://cosigner.example/c"))
    seeds["roster"]["cosigners"] = sign_roster(
        replace(draft, version=4, cosigning=CosigningPolicy(
            2, tuple(sorted(named, key=lambda c: c.name)))),
        org.signer(), today=fixed.TODAY).encode()
    seeds["card"] = {f"card-{i}": c.format().encode() for i, c in enumerate(cards)}
    seeds["card"]["x25519"] = x_card.format().encode()

    cheap = fixed.CHEAP_KDF
    seeds["keyfile"] = {
        "identity": fixed.investigators()[0].seal(fixed.PASSPHRASE, cheap),
        "org": org.seal(fixed.PASSPHRASE, cheap),
        "identity-two-lanes": fixed.investigators()[1].seal(
            fixed.PASSPHRASE, KdfParams(memory_kib=16, iterations=2, parallelism=2)),
    }
    person = fixed.investigators()[1]
    seeds["identity_plaintext"] = {
        "identity": fixed.seed("reader age") + fixed.seed("reader auth") + b"Fuzz Reader",
        "uyghur-name": fixed.seed("admin age") + fixed.seed("admin auth")
        + person.name.encode(),
    }

    moment = None
    seeds["manifest_fields"] = {
        "unchanged": b"",
        "detention-interval": bytes([40, 2 + 8 * 0, 8]) + bytes([118, 3, 9, 2, 119, 5, 1, 0]),
        "birth-year": bytes([20, 1, 2, 7, 200]),
        "attachment-copy": bytes([0, 24, 9]) + b"PHOTO.JPG",
        "drop-field": bytes([3, 16, 0]),
    }
    seeds["events"] = {
        "submission": submission_event("5c1f" * 8, "9f86" * 16, 1234, moment=moment).encode(),
        "access": access_event("5c1f" * 8, "0123456789abcdef", moment=moment).encode(),
        "deletion": deletion_event("5c1f" * 8, "0123456789abcdef", moment=moment).encode(),
        "reply": reply_event("77aa" * 8, "9f86" * 16, 4096, moment=moment).encode(),
        "roster": roster_event(12, "9f86" * 16, moment=moment).encode(),
    }
    events_ = list(seeds["events"].values())
    hashes = [leaf_hash(e) for e in events_]
    seeds["tiles"] = {
        "path-full": b"\x00tile/0/x001/x234/067",
        "path-partial": b"\x00tile/3/000.p/17",
        "path-entries": b"\x00tile/entries/x012/345.p/255",
        "tile": bytes([1, len(hashes) - 1]) + tile_bytes(hashes),
        "bundle": bytes([2, len(events_) - 1]) + entry_bundle(events_),
    }
    seeds["replytext"] = {
        "v2": pad_reply("we received your testimony; ئاكام"),
        "v2-empty": pad_reply(""),
        "v1": b"a reply from before padding",
    }
    words = Mnemonic("english")
    seeds["codename"] = {
        "canonical": words.to_mnemonic(fixed.seed("codename")[:16]).encode(),
        "typed": ("  " + words.to_mnemonic(bytes(16)).upper().replace(" ", "\t ") + "\n").encode(),
    }
    seed_b64 = base64.b64encode(bytes(40)).decode()
    seeds["http_headers"] = {
        "upload-offset": b"\x00" + b"65536",
        "content-length": b"\x01" + b"1048576",
        "work-issued": b"\x02" + b"\x00" + b"12",
        "work-foreign": b"\x02" + f"{seed_b64}.7".encode(),
        "range": b"\x03" + (5000).to_bytes(2, "big") + b"bytes=0-1023",
        "range-suffix": b"\x03" + (5000).to_bytes(2, "big") + b"bytes=-500",
        "mailbox": b"\x04" + (b"ab" * 32),
    }
    return seeds


def _merkle_input(kind: int, first: int, second: int, hashes: list[bytes],
                  proof: list[bytes]) -> bytes:
    return (bytes([kind]) + first.to_bytes(8, "big") + second.to_bytes(8, "big")
            + b"".join(hashes) + b"".join(proof))


# --- from the shared vectors (read at run time, never committed) --------------------------------


def _age_vector_bodies() -> Seeds:
    directory = VECTORS / "age"
    if not directory.is_dir():
        return
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.name == "SOURCE":
            continue
        head, _, body = path.read_bytes().partition(b"\n\n")
        if b"compressed: zlib" in head.split(b"\n"):
            body = zlib.decompress(body)
        yield path.name, body


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


def _merkle_vectors() -> Iterator[tuple[str, int, int, int, list[bytes], list[bytes]]]:
    """(name, kind, first, second, hashes, proof) from both Merkle vector sets."""
    cctv = VECTORS / "merkle" / "cctv"
    if cctv.is_dir():
        for name in ("inclusion-valid", "inclusion-invalid"):
            for i, v in enumerate(json.loads((cctv / f"{name}.json").read_text())):
                yield (f"cctv-{name}-{i}", 0, v["leaf_index"], v["tree_size"],
                       [_b64(v["leaf_hash"]), _b64(v["root_hash"])],
                       [_b64(h) for h in v["inclusion_path"] or []])
        for name in ("consistency-valid", "consistency-invalid"):
            for i, v in enumerate(json.loads((cctv / f"{name}.json").read_text())):
                yield (f"cctv-{name}-{i}", 1, v["old_size"], v["new_size"],
                       [_b64(v["old_root"]), _b64(v["new_root"])],
                       [_b64(h) for h in v["consistency_path"] or []])
    tdev = VECTORS / "merkle" / "transparency-dev"
    if tdev.is_dir():
        for path in sorted((tdev / "inclusion").rglob("*.json")):
            v = json.loads(path.read_text())
            yield (f"tdev-inclusion-{path.parent.name}-{path.stem}", 0, v["leafIdx"],
                   v["treeSize"], [_b64(v["leafHash"] or ""), _b64(v["root"] or "")],
                   [_b64(h) for h in v["proof"] or []])
        for path in sorted((tdev / "consistency").rglob("*.json")):
            v = json.loads(path.read_text())
            yield (f"tdev-consistency-{path.parent.name}-{path.stem}", 1, v["size1"],
                   v["size2"], [_b64(v["root1"] or ""), _b64(v["root2"] or "")],
                   [_b64(h) for h in v["proof"] or []])


def vector_seeds(harness: str) -> Seeds:
    """Seeds for ``harness`` from ../shared/vectors (nothing when they are absent)."""
    if harness in ("age_header", "age_decrypt", "age_armor"):
        for name, body in _age_vector_bodies():
            armored = body[:1] in b"-" + b" \t\r\n" and body != b""
            if harness == "age_armor" or not armored or harness == "age_decrypt":
                yield name, body
    elif harness == "merkle":
        for name, kind, first, second, hashes, proof in _merkle_vectors():
            if first < 2**64 and second < 2**64 and first >= 0 and second >= 0:
                yield name, _merkle_input(kind, first, second, hashes, proof)
    elif harness == "receipt":
        # Inclusion vectors as receipts: the vector's root in a checkpoint signed by the
        # fixed log key, its leaf hash in the extra line (see harnesses.receipt).
        for name, kind, index, size, hashes, proof in _merkle_vectors():
            if kind != 0 or not 0 < size < 2**64 or len(hashes[1]) != 32:
                continue
            if len(hashes[0]) != 32 or any(len(h) != 32 for h in proof) or len(proof) > 64:
                continue
            if index >= 2**64 - 1:
                continue
            text = sign_checkpoint(Checkpoint(fixed.LOG_ORIGIN, size, hashes[1]),
                                   fixed.log_signer())
            yield name, Receipt(index, tuple(proof), text, extra=hashes[0]).format().encode()
    elif harness == "note":
        readme = VECTORS / "README.md"
        if readme.is_file():
            text = readme.read_text("utf-8")
            marker = "`\u2014 example.com/foo "
            at = text.find(marker)
            if at >= 0:
                line = text[at + 1 : text.index("`", at + 1)]
                yield "c2sp-example", f"This is an example message.\n\n{line}\n".encode()


def corpus_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file())


def read_all(paths: list[Path]) -> Iterator[tuple[str, bytes]]:
    for path in paths:
        yield path.name, path.read_bytes()
