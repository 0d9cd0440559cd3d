"""The page's JavaScript core modules (web/src) pass their node unit tests (`npm test` in
web/), which check them against the shared vectors in tests/web/vectors/ written from the
Python implementation: codename keys, fingerprints, PADMÉ lengths, canonical manifests and
byte-identical bundles, rosters, receipts, replies and proof-of-work solutions.

Skips when node or web/node_modules (`npm ci` in web/) is absent, unless
AMANAT_REQUIRE_INTEROP=1, which turns the skip into a failure.
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT, require_path, require_tool

pytestmark = pytest.mark.interop

WEB = ROOT / "web"


def test_npm_test_passes() -> None:
    require_tool("node")
    npm = require_tool("npm")
    require_path(WEB / "node_modules" / "age-encryption", "web/node_modules (run `npm ci` in web/)")
    env = {key: value for key, value in os.environ.items() if not key.startswith("NODE_")}
    result = subprocess.run(
        [npm, "test", "--silent"], cwd=WEB, env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )
    failing = [line for line in result.stdout.splitlines() if line.lstrip().startswith("not ok")]
    report = "\n".join(failing) + "\n...\n" + (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, f"npm test failed:\n{report}"
    assert "# fail 0" in result.stdout, report
    assert "# pass " in result.stdout, report
    # The vectors are part of the repository: a test skipped for want of them is a failure.
    assert "python -m tests.web.make_vectors" not in result.stdout, report


# What the page does, with the same modules, against a real server; then the Python tools
# open the testimony and answer it, and the modules read the answer.
SUBMIT = r"""
import * as api from "./src/api.js";
import { verifyRoster } from "./src/roster.js";
import { SCHEMA_ID, neutralName } from "./src/manifest.js";
import { bundle } from "./src/bundle.js";
import { seal } from "./src/seal.js";
import { uploadResumable } from "./src/upload.js";
import { verifyReceipt, receiptFile } from "./src/tlog.js";
import { deriveV2, newCodename } from "./src/codename.js";
import { createHash } from "node:crypto";
import { readSync } from "node:fs";

api.configure({ base: process.env.SERVER + "/api/v1" });
const roster = verifyRoster(await api.getRoster(), process.env.ORG);
const codename = newCodename();
const keys = await deriveV2(codename);
const text = new TextEncoder().encode(process.env.ATTACHMENT);
const digest = createHash("sha256").update(text).digest("hex");
const name = neutralName(1, "text/plain");
const manifest = {
  schema: SCHEMA_ID, language: "kk", statement: process.env.STATEMENT, publication_consent: "none",
  persons: [{ status: "camp", name_native: "Ержан", detention: { date: "2018-03" } }],
  attachments: [{ name, media_type: "text/plain", size: text.length, sha256_before_cleaning: digest,
                  sha256_after_cleaning: digest, metadata_kept: false }],
  reply: { recipient: keys.recipient, mailbox_id: keys.mailboxId },
};
const sealed = await seal(roster.readers, bundle(manifest, [{ name, data: new Blob([text]) }]));
const answer = await uploadResumable(sealed, { chunkBytes: 4096 });
const proof = verifyReceipt(answer.receipt, roster.logVkey, answer.entry);
receiptFile(answer.receipt, answer.entry);
console.log(JSON.stringify({ id: answer.id, codename, index: proof.index, size: answer.size }));
"""

READ_REPLIES = r"""
import * as api from "./src/api.js";
import { deriveV2 } from "./src/codename.js";
import { openReply } from "./src/reply.js";
import { hex } from "./src/bytes.js";

api.configure({ base: process.env.SERVER + "/api/v1" });
const keys = await deriveV2(process.env.CODENAME);
const secret = hex(keys.mailboxSecret);
const messages = [];
for (const r of await api.mailbox(secret)) {
  messages.push(await openReply(await api.fetchReply(r.id, secret), keys.identity));
}
console.log(JSON.stringify(messages));
"""


def _node(script: str, env: dict[str, str]) -> str:
    node = require_tool("node")
    result = subprocess.run(
        [node, "--input-type=module", "-e", script], cwd=WEB,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("NODE_")}, **env},
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout.strip().splitlines()[-1]


def test_modules_submit_and_read_a_reply_through_a_real_server(tmp_path: Path) -> None:
    require_tool("node")
    require_path(WEB / "node_modules" / "age-encryption", "web/node_modules (run `npm ci` in web/)")
    from tests.e2e.conftest import start_server

    server = start_server(tmp_path)
    try:
        org = next(line.removeprefix("amanat: organization key: ").strip()
                   for line in server.output_text().splitlines()
                   if line.startswith("amanat: organization key: "))
        statement = "Менің ағам 2018 жылы лагерге алынды.\nمېنىڭ ئاكام"
        attachment = "a note, typed by hand\n"
        sent = json.loads(_node(SUBMIT, {"SERVER": server.url, "ORG": org,
                                         "STATEMENT": statement, "ATTACHMENT": attachment}))
        dev = server.data_dir / "dev"
        env = {**os.environ, "PYTHONPATH": str(ROOT),
               "AMANAT_PASSPHRASE": (dev / "passphrase.txt").read_text().strip()}
        case = tmp_path / "case"
        amanat = [sys.executable, "-m", "vault.cli"]
        opened = subprocess.run(
            [*amanat, "open", "--server", server.url, "-i", str(dev / "investigator.identity"),
             "--org", org, "-o", str(case), sent["id"]],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert opened.returncode == 0, opened.stderr
        manifest = json.loads((case / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["statement"] == statement
        assert (case / "attachments" / "attachment-1.txt").read_text() == attachment
        message = "Рақмет. We received your testimony."
        replied = subprocess.run(
            [*amanat, "reply", "--server", server.url, "-i", str(dev / "investigator.identity"),
             "--org", org, "--case", str(case), "--message", message, sent["id"]],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert replied.returncode == 0, replied.stderr
        read = json.loads(_node(READ_REPLIES, {"SERVER": server.url, "CODENAME": sent["codename"]}))
        assert read == [message]
    finally:
        server.stop()


# The roster parser is strict in the same places as keys/roster.py: roster bodies changed in
# many small ways are signed again (so the signature is not what refuses them) and both
# implementations must agree on every one, accepted (with the same readers) or refused
# (with the same code).
JUDGE_ROSTERS = r"""
import { readFileSync } from "node:fs";
import { verifyRoster } from "./src/roster.js";
const { vkey, today, rosters } = JSON.parse(readFileSync(0, "utf8"));
console.log(JSON.stringify(rosters.map((text) => {
  try {
    return ["ok", verifyRoster(text, vkey, today).readers];
  } catch (error) {
    if (error.name !== "RosterError") return ["crash", String(error)];
    return [error.code, null];
  }
})));
"""


def _python_verdict(text: str, vkey: str, today: Any) -> list[Any]:
    from keys import errors
    from keys.roster import verify_roster

    try:
        roster = verify_roster(text, vkey, today=today)
    except errors.RosterSignatureError as exc:
        return ["origin" if "names the organization" in str(exc) else "signature", None]
    except errors.RosterExpiredError:
        return ["expired", None]
    except errors.RosterPolicyError as exc:
        return ["too-long" if "days after today" in str(exc) else "policy", None]
    except errors.RosterFormatError:
        return ["malformed", None]
    readers = [person.recipient for person in roster.readers()]
    if not readers:
        return ["no-readers", None]
    if roster.log_vkey is None:
        return ["no-log", None]
    return ["ok", readers]


def _mutations(body: str) -> list[str]:
    rng = random.Random(20261203)
    lines = body[:-1].split("\n")
    out: list[str] = []
    for number in range(len(lines)):
        rest = lines[:number] + lines[number + 1:]
        out.append("\n".join(rest) + "\n")  # a line left out
        out.append("\n".join(lines[:number + 1] + lines[number:]) + "\n")  # a line twice
        line = lines[number]
        for change in (line + " ", " " + line, line.replace(" ", "  ", 1), line.upper(),
                       line.replace(" ", "\t", 1), line + "\u00a0", line.replace(" ", "", 1)):
            out.append("\n".join([*lines[:number], change, *lines[number + 1:]]) + "\n")
    for _ in range(400):
        position = rng.randrange(len(body) - 1)
        choice = rng.choice("aZ0 +/=-,.\u0413\u00e9\u200e\u200c\u3000xq")
        out.append(body[:position] + choice + body[position + 1:])
        out.append(body[:position] + body[position + 1:])
    for first, second in ((4, 5), (5, 6), (1, 2)):
        if second < len(lines):
            swapped = list(lines)
            swapped[first], swapped[second] = swapped[second], swapped[first]
            out.append("\n".join(swapped) + "\n")
    out.append(body.replace("version 4", "version 04"))
    out.append(body.replace("version 4", "version 9223372036854775808"))
    out.append(body.replace("version 4", "version 9223372036854775807"))
    out.append(body.replace("reader", "reader,reader", 1))
    out.append(body.replace("reader", "admin,reader", 1))
    out.append(body.replace("reader", "reader,admin", 1))
    return sorted(set(out))


def test_roster_parser_agrees_with_python_on_many_variants() -> None:
    require_tool("node")
    require_path(WEB / "node_modules" / "age-encryption", "web/node_modules (run `npm ci` in web/)")
    import datetime

    from vault.tlog import note

    vectors = json.loads((ROOT / "tests/web/vectors/roster.json").read_text(encoding="utf-8"))
    body = vectors["valid"][0]["roster"].rpartition("\n\n")[0] + "\n"
    origin = body.split("\n", 1)[0].split(" ", 1)[1]
    signer = note.HybridSigner.generate(origin)
    today = datetime.date.fromisoformat(vectors["today"])
    rosters: list[str] = []
    for text in _mutations(body):
        try:
            rosters.append(note.sign_note(text, *signer.signers()))
        except note.NoteError:  # control characters: a signer refuses to sign them
            continue
    assert len(rosters) > 500
    expected = [_python_verdict(text, signer.vkey(), today) for text in rosters]
    node = require_tool("node")
    result = subprocess.run(
        [node, "--input-type=module", "-e", JUDGE_ROSTERS], cwd=WEB,
        input=json.dumps({"vkey": signer.vkey(), "today": vectors["today"], "rosters": rosters}),
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    got = json.loads(result.stdout)
    disagreements = [(text, want, have)
                     for text, want, have in zip(rosters, expected, got, strict=True)
                     if want != have]
    assert not disagreements, "\n\n".join(
        f"python {want[0]}, javascript {have[0]}:\n{text}"
        for text, want, have in disagreements[:5])
    assert sum(1 for verdict in expected if verdict[0] == "ok") >= 3


# A server restart in the middle of an upload: the page's upload waits, asks the offset
# again and finishes; the receipt verifies.
UPLOAD_ACROSS_RESTART = r"""
import * as api from "./src/api.js";
import { verifyRoster } from "./src/roster.js";
import { bundle } from "./src/bundle.js";
import { seal } from "./src/seal.js";
import { uploadResumable } from "./src/upload.js";
import { verifyReceipt } from "./src/tlog.js";
import { createHash } from "node:crypto";
import { readSync } from "node:fs";

api.configure({ base: process.env.SERVER + "/api/v1" });
const roster = verifyRoster(await api.getRoster(), process.env.ORG);
const data = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7919) & 0xff);
const digest = createHash("sha256").update(data).digest("hex");
const manifest = {
  schema: "amanat/testimony/v2", language: "und", statement: "", publication_consent: "none",
  persons: [], attachments: [{ name: "attachment-1.bin", media_type: "application/octet-stream",
    size: data.length, sha256_before_cleaning: digest, sha256_after_cleaning: digest,
    metadata_kept: false }],
};
const sealed = await seal(roster.readers, bundle(manifest, [{ name: "attachment-1.bin", data }]));
let waited = 0;
let held = false;
const answer = await uploadResumable(sealed, {
  chunkBytes: 64 * 1024,
  onProgress: (sent) => {
    console.log(`sent ${sent}`);
    if (!held && sent >= 1024 * 1024) {  // hold here until the test has stopped the server
      held = true;
      readSync(0, Buffer.alloc(1));
    }
  },
  onWait: () => { waited += 1; },
});
const proof = verifyReceipt(answer.receipt, roster.logVkey, answer.entry);
console.log(JSON.stringify({ id: answer.id, waited, index: proof.index, size: answer.size }));
"""


def test_an_upload_goes_on_across_a_server_restart(tmp_path: Path) -> None:
    node = require_tool("node")
    require_path(WEB / "node_modules" / "age-encryption", "web/node_modules (run `npm ci` in web/)")
    from tests.e2e.conftest import start_server

    first = tmp_path / "first"
    first.mkdir()
    server = start_server(first)
    org = next(line.removeprefix("amanat: organization key: ").strip()
               for line in server.output_text().splitlines()
               if line.startswith("amanat: organization key: "))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("NODE_")},
           "SERVER": server.url, "ORG": org}
    page = subprocess.Popen(
        [node, "--input-type=module", "-e", UPLOAD_ACROSS_RESTART], cwd=WEB, env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = tmp_path / "second"
    second.mkdir()
    restarted = None
    try:
        assert page.stdout is not None and page.stdin is not None
        for line in page.stdout:
            if line.startswith("sent ") and int(line.split()[1]) >= 1024 * 1024:
                break
        # The page waits after its first MiB until the server is down (however fast the
        # server is, the rest of the upload cannot finish before it stops).
        server.stop()
        page.stdin.write("g")
        page.stdin.flush()
        time.sleep(2)
        restarted = start_server(second, data_dir=server.data_dir, port=server.port)
        out, err = page.communicate(timeout=240)
        assert page.returncode == 0, err[-4000:]
        result = json.loads(out.strip().splitlines()[-1])
        assert result["waited"] >= 1
        assert result["size"] > 3 * 1024 * 1024
    finally:
        if page.poll() is None:
            page.kill()
            page.wait()
        server.stop()
        if restarted is not None:
            restarted.stop()


JUDGE_JSON_AND_CODENAMES = r"""
import { readFileSync } from "node:fs";
import { canonicalJson } from "./src/manifest.js";
import { checkCodename } from "./src/codename.js";
import { b64 } from "./src/bytes.js";
const { values, codenames } = JSON.parse(readFileSync(0, "utf8"));
const json = values.map((v) => b64(canonicalJson(v)));
const words = codenames.map((text) => {
  try {
    return ["ok", checkCodename(text)];
  } catch (error) {
    return [error.code, error.position ?? null];
  }
});
console.log(JSON.stringify({ json, words }));
"""

_TEXT_POOL = ("a", "Z", "0", " ", "\n", "\t", "\x00", "\x1f", "\x7f", '"', "\\", "/", "é",
              "\u0301", "\u2028", "\u2029", "\ufeff", "\uffff", "\ue000", "\U00010000",
              "\U0001f600", "ئ", "ә", "中", "\u200e")
_SPACES = (" ", "  ", "\t", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0",
           "\u1680", "\u2003", "\u2028", "\u202f", "\u3000")


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(7 if depth < 4 else 4)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randrange(-2**53 + 1, 2**53)
    if kind in (2, 3):
        return "".join(rng.choice(_TEXT_POOL) for _ in range(rng.randrange(6)))
    if kind == 4:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {"".join(rng.choice(_TEXT_POOL) for _ in range(rng.randrange(1, 4))):
            _random_value(rng, depth + 1) for _ in range(rng.randrange(6))}


def _codename_variants(rng: random.Random) -> list[str]:
    from mnemonic import Mnemonic

    bip39 = Mnemonic("english")
    out = []
    for _ in range(150):
        words = bip39.generate(strength=128).split()
        roll = rng.randrange(8)
        if roll == 0:
            words[rng.randrange(12)] = rng.choice(bip39.wordlist)  # checksum, mostly
        elif roll == 1:
            i = rng.randrange(12)
            words[i] = words[i][:-1]
        elif roll == 2:
            del words[rng.randrange(12)]
        elif roll == 3:
            i = rng.randrange(12)
            words[i] = words[i].upper() if rng.random() < 0.5 else words[i].title()
        elif roll == 4:
            i = rng.randrange(12)
            words[i] = "".join(chr(ord(c) + 0xFEE0) for c in words[i])  # full width
        elif roll == 5:
            i = rng.randrange(12)
            words[i] = words[i].replace("i", rng.choice(["İ", "ı", "í", "i\u0307"]), 1)
        elif roll == 6:
            words.insert(rng.randrange(12), "\u200b")
        text = ""
        for word in words:
            text += word + rng.choice(_SPACES)
        out.append(rng.choice(["", " ", "\n"]) + text)
    return out


def _python_codename(text: str) -> list[Any]:
    from vault.codename import CodenameError, check_codename

    try:
        return ["ok", check_codename(text)]
    except CodenameError as exc:
        return [exc.code, exc.position]


def test_canonical_json_and_codenames_agree_with_python() -> None:
    node = require_tool("node")
    require_path(WEB / "node_modules" / "age-encryption", "web/node_modules (run `npm ci` in web/)")
    from vault.testimony import _canonical_json

    rng = random.Random(31337)
    values = [_random_value(rng) for _ in range(400)]
    codenames = _codename_variants(rng)
    result = subprocess.run(
        [node, "--input-type=module", "-e", JUDGE_JSON_AND_CODENAMES], cwd=WEB,
        input=json.dumps({"values": values, "codenames": codenames}),
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    got = json.loads(result.stdout)
    for value, encoded in zip(values, got["json"], strict=True):
        assert base64.b64decode(encoded) == _canonical_json(value), value
    verdicts = [_python_codename(text) for text in codenames]
    for text, want, have in zip(codenames, verdicts, got["words"], strict=True):
        assert want == have, (ascii(text), want, have)
    assert len({verdict[0] for verdict in verdicts}) == 4


JUDGE_RECEIPTS = r"""
import { readFileSync } from "node:fs";
import { verifyReceipt } from "./src/tlog.js";
const { vkey, cases } = JSON.parse(readFileSync(0, "utf8"));
console.log(JSON.stringify(cases.map(([receipt, entry]) => {
  try {
    verifyReceipt(receipt, vkey, entry);
    return "ok";
  } catch (error) {
    return error.name === "ReceiptError" ? "refused" : `crash: ${error}`;
  }
})));
"""


def _python_receipt(receipt: str, entry: str, vkey: str) -> str:
    from vault.events import KIND_SUBMISSION, parse_event
    from vault.tlog.note import HybridVerifier
    from vault.tlog.proof import Receipt, verify_receipt

    try:
        verifier = HybridVerifier.from_vkey(vkey)
        data = entry.encode("utf-8")
        if parse_event(data).kind != KIND_SUBMISSION:
            return "refused"
        extra = Receipt.parse(receipt).extra
        if extra is not None and extra != data:
            return "refused"
        verify_receipt(receipt, data, verifier, verifier.name)
    except (ValueError, UnicodeError):
        return "refused"
    return "ok"


def test_receipt_checks_agree_with_python() -> None:
    node = require_tool("node")
    require_path(WEB / "node_modules" / "age-encryption", "web/node_modules (run `npm ci` in web/)")
    vectors = json.loads((ROOT / "tests/web/vectors/receipt.json").read_text(encoding="utf-8"))
    rng = random.Random(4242)
    cases: list[tuple[str, str]] = []
    for valid in vectors["valid"]:
        for receipt in (valid["receipt"], valid["receipt_file"]):
            entry = valid["entry"]
            cases.append((receipt, entry))
            lines = receipt.split("\n")
            for number in range(len(lines)):
                cases.append(("\n".join(lines[:number] + lines[number + 1:]), entry))
                cases.append(("\n".join(lines[:number + 1] + lines[number:]), entry))
            for _ in range(60):
                at = rng.randrange(len(receipt))
                cases.append((receipt[:at] + rng.choice("A/+=0 \nx") + receipt[at + 1:], entry))
                at = rng.randrange(len(entry))
                cases.append((receipt, entry[:at] + rng.choice("a0 \n") + entry[at + 1:]))
    for invalid in vectors["invalid"]:
        cases.append((invalid["receipt"], invalid["entry"]))
    expected = [_python_receipt(receipt, entry, vectors["log_vkey"]) for receipt, entry in cases]
    result = subprocess.run(
        [node, "--input-type=module", "-e", JUDGE_RECEIPTS], cwd=WEB,
        input=json.dumps({"vkey": vectors["log_vkey"], "cases": cases}),
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    got = json.loads(result.stdout)
    for (receipt, entry), want, have in zip(cases, expected, got, strict=True):
        assert want == have, (receipt, entry, want, have)
    assert expected.count("ok") >= len(vectors["valid"]) * 2
