"""The shared vectors (tests/web/vectors/) are what the Python implementation does now, and
they say what they claim: the web page's tests trust them as the reference."""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from keys.errors import RosterError, RosterFormatError, RosterSignatureError
from keys.fingerprint import org_fingerprint
from keys.roster import verify_roster
from tests.web import make_vectors
from vault import age
from vault.audit import receipt_file_text
from vault.bundle import open_bundle
from vault.codename import HKDF_INFO, HKDF_SALT, CodenameError, check_codename, derive
from vault.events import KIND_SUBMISSION, parse_event
from vault.padding import padme_length
from vault.replytext import read_reply
from vault.service.work import leading_zero_bits, solves
from vault.testimony import SCHEMA_ID, Manifest
from vault.tlog.cosignature import CosignatureError
from vault.tlog.cosigning import NotCosignedError
from vault.tlog.merkle import MerkleError
from vault.tlog.note import HybridVerifier, NoteError
from vault.tlog.proof import ReceiptError, verify_receipt
from vault.witness import WitnessError, verified_roster

VECTORS = Path(__file__).resolve().parent / "vectors"


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text("utf-8"))


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return make_vectors.generate()


def test_every_committed_file_is_what_the_generator_writes_now(
        generated: dict[str, str]) -> None:
    assert sorted(generated) == sorted(p.name for p in VECTORS.glob("*.json"))
    for name, text in generated.items():
        committed = (VECTORS / name).read_text("utf-8")
        assert committed == text, (f"{name} is out of date: run `python -m "
                                   "tests.web.make_vectors` and commit the result")


def test_the_comparison_notices_a_change(generated: dict[str, str]) -> None:
    # Without the committed reply.json the sealed replies are drawn afresh: the file differs.
    fresh = make_vectors.reply_vectors(None)
    assert make_vectors.dumps(fresh) != generated["reply.json"]
    assert make_vectors.dumps(make_vectors.padme_vectors()) == generated["padme.json"]


# --- codename -------------------------------------------------------------------------------


def test_codename_cases_follow_the_documented_hkdf() -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    cases = load("codename.json")["cases"]
    assert len(cases) >= 4
    assert any(case["entropy"] == "00" * 16 for case in cases)
    for case in cases:
        okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=b"amanat/codename/v2",
                   info=b"amanat/codename/v2 reply+mailbox").derive(bytes.fromhex(
                       case["entropy"]))
        identity = age.MLKEM768X25519Identity.from_seed(okm[:32])
        assert case["identity"] == str(identity)
        assert case["recipient"] == str(identity.recipient())
        assert case["mailbox_secret"] == okm[32:].hex()
        assert case["mailbox_id"] == hashlib.sha256(okm[32:]).hexdigest()
        assert check_codename(case["codename"]) == case["codename"]
    assert (HKDF_SALT, HKDF_INFO) == (b"amanat/codename/v2", b"amanat/codename/v2 reply+mailbox")


def test_codename_v2_keys_differ_from_v1() -> None:
    case = load("codename.json")["cases"][0]
    old = derive(case["codename"], 1)
    assert old.mailbox_id != case["mailbox_id"]
    assert str(old.reply_identity.recipient()) != case["recipient"]


def test_codename_invalid_cases_fail_as_stated() -> None:
    invalid = load("codename.json")["invalid"]
    codes = {case["code"] for case in invalid}
    assert codes == {"count", "word", "checksum"}
    counts = {len(case["text"].split()) for case in invalid if case["code"] == "count"}
    assert {11, 13} <= counts
    assert any(case["code"] == "word" and case["position"] == 7 for case in invalid)
    for case in invalid:
        with pytest.raises(CodenameError) as caught:
            check_codename(case["text"])
        assert (caught.value.code, caught.value.position) == (case["code"], case["position"])
        for word in case["text"].split():  # the message never repeats a word
            assert f" {word} " not in f" {caught.value} " or word.isdigit()


def test_codename_equivalent_spellings() -> None:
    equivalent = load("codename.json")["equivalent"]
    kinds = "".join(case["text"] for case in equivalent)
    for needed in ("\t", "\u3000", "\u00a0", "  "):
        assert needed in kinds
    assert any(ch.isupper() for ch in kinds)
    for case in equivalent:
        assert case["text"] != case["canonical"]
        assert check_codename(case["text"]) == case["canonical"]
        assert derive(case["text"]).mailbox_id == derive(case["canonical"]).mailbox_id
        assert unicodedata.normalize("NFKD", case["canonical"]) == case["canonical"]


# --- fingerprint, PADMÉ, work ---------------------------------------------------------------


def test_fingerprints() -> None:
    cases = load("fingerprint.json")["cases"]
    assert len({case["fingerprint"] for case in cases}) == len(cases)
    for case in cases:
        digest = hashlib.sha256(b"amanat.org-fingerprint/v1\n" + case["vkey"].encode()
                                + b"\n").digest()
        groups = [f"{int.from_bytes(digest[5 * i:5 * i + 5], 'big') % 100000:05d}"
                  for i in range(6)]
        assert case["fingerprint"] == " ".join(groups) == org_fingerprint(case["vkey"])
    assert load("roster.json")["org_vkey"] in {case["vkey"] for case in cases}


def test_padme() -> None:
    cases = load("padme.json")["cases"]
    lengths = [n for n, _ in cases]
    assert set(range(301)) <= set(lengths)
    assert 2**40 + 1 in lengths and 2**40 - 1 in lengths
    for n, padded in cases:
        assert padded == padme_length(n) >= n
        assert padded <= n * 1.1163 + 1  # ≤ 11.63 % overhead (PADMÉ's bound)


def test_work() -> None:
    cases = load("work.json")["cases"]
    assert [case["bits"] for case in cases] == list(range(15))
    for case in cases:
        seed = base64.b64decode(case["seed"], validate=True)
        assert len(seed) == 40
        counter = int(case["counter"])
        assert str(counter) == case["counter"]
        assert solves(seed, case["counter"], case["bits"])
        for smaller in range(counter):  # the smallest solution
            assert leading_zero_bits(hashlib.sha256(
                seed + str(smaller).encode()).digest()) < case["bits"]


# --- manifests and bundles ------------------------------------------------------------------


def test_bundles_read_back_and_manifests_are_canonical() -> None:
    data = load("bundle.json")
    names = {case["name"] for case in data["cases"]}
    assert {"empty", "statement", "persons", "two-attachments", "large-attachment",
            "reply"} <= names
    for case in data["cases"]:
        manifest_json = base64.b64decode(case["manifest_json"])
        assert json.loads(manifest_json) == case["manifest"]
        assert case["manifest"]["schema"] == SCHEMA_ID
        manifest = Manifest.from_json(manifest_json)
        assert manifest.to_json() == manifest_json
        attachments = {a["name"]: base64.b64decode(a["data"]) for a in case["attachments"]}
        if "bundle" in case:
            bundle = base64.b64decode(case["bundle"])
            assert len(bundle) == case["bundle_length"] <= 64 * 1024
            assert hashlib.sha256(bundle).hexdigest() == case["bundle_sha256"]
            opened = open_bundle(io.BytesIO(bundle))
            assert opened.manifest == manifest
        else:
            assert case["bundle_length"] > 64 * 1024
        for attachment in manifest.attachments:
            content = attachments[attachment.name]
            assert len(content) == attachment.size
            assert hashlib.sha256(content).hexdigest() == attachment.sha256_after_cleaning
    statement = next(c for c in data["cases"] if c["name"] == "statement")["manifest"]
    for needed in ('"', "\\", "\x00", "\x1f", "\u2028", "🙏", "ئ", "ұ", "的"):
        assert needed in statement["statement"]
    two = next(c for c in data["cases"] if c["name"] == "two-attachments")["manifest"]
    assert [a.get("orientation") for a in two["attachments"]] == [6, None]
    big = next(c for c in data["cases"] if c["name"] == "large-attachment")
    assert len(base64.b64decode(big["attachments"][0]["data"])) == 70_000


def test_neutral_names() -> None:
    from vault.witness import neutral_name

    for position, media_type, name in load("bundle.json")["neutral_names"]:
        assert neutral_name(position, media_type) == name
        assert name.startswith(f"attachment-{position}.")


# --- rosters --------------------------------------------------------------------------------


def test_rosters() -> None:
    data = load("roster.json")
    today = datetime.date.fromisoformat(data["today"])
    for case in data["valid"]:
        roster = verify_roster(case["roster"], data["org_vkey"], today=today)
        assert (roster.version, roster.policy, roster.expiry().isoformat(), roster.log_vkey) == (
            case["version"], case["policy"], case["expires"], case["log"])
        assert [p.recipient for p in roster.readers()] == case["readers"]
        assert all(r.startswith("age1pq1") for r in case["readers"])
        assert [p.key_id for p in roster.investigators] == [
            i["key_id"] for i in case["investigators"]]
    expiries = {datetime.date.fromisoformat(c["expires"]) - today for c in data["valid"]}
    assert datetime.timedelta(0) in expiries and datetime.timedelta(days=373) in expiries
    codes = {case["code"] for case in data["invalid"]}
    assert codes >= {"signature", "malformed", "origin", "expired", "too-long", "no-readers",
                     "no-log"}
    for case in data["invalid"]:
        signed, code = case["roster"], case["code"]
        if code in ("no-readers", "no-log"):
            # Signed and in date: the keys verify; what a witness needs is missing.
            roster = verify_roster(signed, data["org_vkey"], today=today)
            if code == "no-log":
                assert roster.log_vkey is None
            else:
                with pytest.raises(RosterError):
                    roster.recipients()
            continue
        with pytest.raises(RosterError) as caught:
            verify_roster(signed, data["org_vkey"], today=today)
        if code in ("signature", "origin"):
            assert isinstance(caught.value, RosterSignatureError)
        if code == "malformed":
            assert isinstance(caught.value, RosterFormatError)


def test_a_roster_without_readers_is_refused_by_the_witness(
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = load("roster.json")
    monkeypatch.setattr("keys.roster.utc_today", lambda: datetime.date.fromisoformat(
        data["today"]))
    for case in data["invalid"]:
        if case["code"] == "no-readers":
            with pytest.raises(WitnessError):
                verified_roster(case["roster"], data["org_vkey"])


# --- receipts -------------------------------------------------------------------------------


def _check(receipt: str, entry: str, log_vkey: str) -> int:
    verifier = HybridVerifier.from_vkey(log_vkey)
    proved = verify_receipt(receipt, entry.encode("ascii"), verifier, verifier.name)
    extra = proved.extra
    if extra is not None and extra != entry.encode("ascii"):
        raise ReceiptError("the extra line names another entry")
    if parse_event(entry.encode("ascii")).kind != KIND_SUBMISSION:
        raise ReceiptError("not a submission")
    return proved.index


def test_receipts() -> None:
    data = load("receipt.json")
    sizes = set()
    for case in data["valid"]:
        assert _check(case["receipt"], case["entry"], data["log_vkey"]) == case["index"]
        assert _check(case["receipt_file"], case["entry"], data["log_vkey"]) == case["index"]
        assert case["receipt_file"] == receipt_file_text(case["entry"], case["receipt"])
        assert case["receipt_file"].split("\n")[1] == "extra " + base64.b64encode(
            case["entry"].encode()).decode()
        verifier = HybridVerifier.from_vkey(data["log_vkey"])
        sizes.add(verify_receipt(case["receipt"], case["entry"].encode(), verifier,
                                 verifier.name).checkpoint.size)
        assert case["size"] in sizes
    assert len(sizes) >= 2  # receipts against two checkpoints
    for case in data["invalid"]:
        with pytest.raises((ReceiptError, NoteError, MerkleError, ValueError)):
            _check(case["receipt"], case["entry"], data["log_vkey"])


# --- replies --------------------------------------------------------------------------------


def test_replies() -> None:
    data = load("reply.json")
    for case in data["plaintexts"]:
        assert read_reply(base64.b64decode(case["plaintext"])) == case["message"]
    for case in data["invalid"]:
        with pytest.raises(ValueError):
            read_reply(base64.b64decode(case["plaintext"]))
    assert len(data["sealed"]) >= 1
    for case in data["sealed"]:
        keys = derive(case["codename"])
        sealed = base64.b64decode(case["sealed"])
        plaintext = age.decrypt_bytes(sealed, [keys.reply_identity], armored=False)
        assert read_reply(plaintext) == case["message"]
        assert len(plaintext) == padme_length(len(plaintext))
        with pytest.raises(age.AgeError):  # the v1 keys of the same words do not open it
            age.decrypt_bytes(sealed, [derive(case["codename"], 1).reply_identity],
                              armored=False)


def test_cosign_vectors_say_what_the_policy_says() -> None:
    data = load("cosign.json")
    roster = verify_roster(data["roster"], data["org_vkey"], today=datetime.date.fromisoformat(
        data["today"]))
    policy = roster.cosigning
    assert policy is not None and policy.quorum == data["quorum"] == 2
    assert [c.name for c in policy.cosigners] == [c["name"] for c in data["cosigners"]]
    verifier = HybridVerifier.from_vkey(data["log_vkey"])
    kinds = set()
    for case in data["cases"]:
        if "forged" not in case:  # the fork's checkpoint has another root: no inclusion
            verify_receipt(case["receipt"], case["entry"].encode(), verifier, verifier.name)
        checkpoint = case["receipt"].split("\n\n", 1)[1]
        if "cosigned_by" in case:
            kinds.add("ok")
            assert policy.check(checkpoint) == case["cosigned_by"], case["why"]
        elif "found" in case:
            kinds.add("not cosigned")
            assert len(policy.cosigned_by(checkpoint)) == case["found"], case["why"]
            with pytest.raises(NotCosignedError, match=f"^{case['message']}$"):
                policy.check(checkpoint)
        else:
            kinds.add("forged")
            assert case["forged"] is True
            with pytest.raises(CosignatureError, match="does not verify"):
                policy.check(checkpoint)
    assert kinds == {"ok", "not cosigned", "forged"}
