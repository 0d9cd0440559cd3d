import { test } from "node:test";
import assert from "node:assert/strict";
import { ed25519 } from "@noble/curves/ed25519.js";
import { deriveKeyId, verifyRoster } from "../src/roster.js";
import { keyId, parseKeyHalves, parseVkey, verifyNote } from "../src/note.js";
import { b64, concat, hex, utf8 } from "../src/bytes.js";
import { skipMessage, vectors } from "./vectors.mjs";

const data = vectors("roster.json");
const skip = data ? false : skipMessage("roster.json");

test("valid rosters verify with the content Python reads", { skip }, () => {
  for (const v of data.valid) {
    const roster = verifyRoster(v.roster, data.org_vkey, data.today);
    assert.equal(roster.version, v.version);
    assert.equal(roster.policy, v.policy);
    assert.equal(roster.expires, v.expires);
    assert.equal(roster.logVkey, v.log);
    assert.deepEqual(roster.readers, v.readers);
    assert.deepEqual(roster.investigators.map((p) => ({ key_id: p.keyId, roles: p.roles, auth: p.auth, auth_pq: p.authPq, recipient: p.recipient, name: p.name })),
      v.investigators);
    assert.equal(roster.origin, parseKeyHalves(data.org_vkey)[0].name);
  }
});

test("invalid rosters are refused with the expected code", { skip }, () => {
  for (const c of data.invalid) {
    assert.throws(() => verifyRoster(c.roster, data.org_vkey, data.today), (e) => {
      assert.equal(e.name, "RosterError", c.why);
      assert.equal(e.code, c.code, c.why);
      return true;
    }, c.why);
  }
});

test("expiry is judged by the given UTC date", { skip }, () => {
  const v = data.valid[0];
  assert.ok(verifyRoster(v.roster, data.org_vkey, v.expires));
  const [y, m, d] = v.expires.split("-").map(Number);
  const after = new Date(Date.UTC(y, m - 1, d + 1, 0, 30));
  assert.throws(() => verifyRoster(v.roster, data.org_vkey, after), { code: "expired" });
  const last = new Date(Date.UTC(y, m - 1, d, 23, 59));
  assert.ok(verifyRoster(v.roster, data.org_vkey, last));
  const early = new Date(Date.UTC(y, m - 1, d - 374));
  assert.throws(() => verifyRoster(v.roster, data.org_vkey, early), { code: "too-long" });
  assert.ok(verifyRoster(v.roster, data.org_vkey, new Date(Date.UTC(y, m - 1, d - 373))));
});

test("every single byte changed in a valid roster is refused (or still verifies the same text)", { skip }, () => {
  const v = data.valid[data.valid.length - 1];
  const text = v.roster;
  const step = Math.max(1, Math.floor(text.length / 400));
  for (let i = 0; i < text.length; i += step) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) continue;
    const changed = text.slice(0, i) + String.fromCharCode(code ^ 1) + text.slice(i + 1);
    let result;
    try {
      result = verifyRoster(changed, data.org_vkey, data.today);
    } catch (e) {
      assert.equal(e.name, "RosterError");
      continue;
    }
    // Only the signature block can change without a refusal: a signature by an unknown
    // key name is ignored while the organization's signature still verifies.
    assert.deepEqual(result.readers, v.readers, `byte ${i}`);
    assert.ok(i > text.lastIndexOf("\n\n"), `byte ${i} changed the text yet verified`);
  }
});

test("the pinned key must be well formed", { skip }, () => {
  assert.throws(() => verifyRoster(data.valid[0].roster, data.org_vkey.slice(0, -2) + "AA", data.today), { code: "org-key" });
  assert.throws(() => verifyRoster(data.valid[0].roster, "nonsense", data.today), { code: "org-key" });
});

function signer(name) {
  const secret = ed25519.utils.randomSecretKey();
  const publicKey = ed25519.getPublicKey(secret);
  const id = keyId(name, publicKey);
  const vkey = `${name}+${hex(id)}+${b64(concat(Uint8Array.of(1), publicKey))}`;
  const sign = (text) => `${text}\n\u2014 ${name} ${b64(concat(id, ed25519.sign(utf8(text), secret)))}\n`;
  return { vkey, sign };
}

test("signed notes: C2SP rules", () => {
  const org = signer("example.org/amanat");
  const other = signer("example.org/amanat");
  const note = org.sign("hello\n\nworld\n");
  assert.deepEqual(verifyNote(note, [org.vkey]), { text: "hello\n\nworld\n", lines: ["hello", "", "world"] });
  assert.throws(() => verifyNote(note, [other.vkey]), { code: "unverified" });
  // an unknown signer's line is ignored, a trusted key's bad signature rejects the note
  const both = note + other.sign("x\n").split("\n\n")[1];
  assert.equal(verifyNote(both, [org.vkey]).text, "hello\n\nworld\n");
  const forged = note.replace(/ (\S+)\n$/, (m, sig) => ` ${sig.slice(0, 10)}${sig[10] === "A" ? "B" : "A"}${sig.slice(11)}\n`);
  assert.throws(() => verifyNote(forged, [org.vkey]), (e) => ["forged", "malformed"].includes(e.code));
  assert.throws(() => verifyNote("hello\n", [org.vkey]), { code: "malformed" });
  assert.throws(() => verifyNote(note.slice(0, -1), [org.vkey]), { code: "malformed" });
  assert.throws(() => verifyNote("a\tb\n" + note.slice(note.indexOf("\n\n")), [org.vkey]), { code: "malformed" });
  const many = note + Array(100).fill(other.sign("x\n").split("\n\n")[1]).join("");
  assert.throws(() => verifyNote(many, [org.vkey]), { code: "malformed" });
  // a vkey with a wrong id is caught where it is pasted
  const [name, id] = org.vkey.split("+");
  const key = org.vkey.slice(name.length + id.length + 2);
  const wrongId = `${name}+${id.slice(0, 7)}${id[7] === "0" ? "1" : "0"}+${key}`;
  assert.throws(() => parseVkey(wrongId), { code: "key-id" });
  assert.throws(() => parseVkey(`${name}+${id.slice(0, 7)}F+${key}`), { code: "vkey" });
  assert.throws(() => parseVkey(`${name}+${id.slice(0, 7)}+${key}`), { code: "vkey" });
  assert.throws(() => parseVkey(`${name} x+${id}+${key}`), { code: "vkey" });
});

test("a roster signed by one half of the organization key is read only under the classical policy", { skip }, () => {
  const halves = data.org_vkey.split(" ");
  assert.equal(halves.length, 2);
  const oneHalf = data.invalid.filter((c) => / half .* alone$/.test(c.why));
  assert.equal(oneHalf.length, 2);
  const edOnly = oneHalf.find((c) => c.why.includes("Ed25519"));
  const mldsaOnly = oneHalf.find((c) => c.why.includes("ML-DSA-44"));
  for (const c of oneHalf) {
    assert.throws(() => verifyRoster(c.roster, data.org_vkey, data.today), { code: "signature" });
  }
  assert.ok(verifyRoster(edOnly.roster, `classical ${data.org_vkey}`, data.today));
  assert.ok(verifyRoster(edOnly.roster, `classical ${halves[0]}`, data.today));
  assert.ok(verifyRoster(mldsaOnly.roster, `classical ${data.org_vkey}`, data.today));
  // An Ed25519-only pin is refused unless the classical policy is asked for.
  assert.throws(() => verifyRoster(edOnly.roster, halves[0], data.today), { code: "org-key" });
  assert.throws(() => verifyRoster(data.valid[0].roster, `${halves[1]} ${halves[0]}`, data.today),
    { code: "org-key" });
});

test("the roster's auth field: hybrid and classical lines read, every other spelling refused", { skip }, () => {
  const full = verifyRoster(data.valid[0].roster, data.org_vkey, data.today);
  const hybrid = full.investigators.filter((p) => p.authPq !== null);
  const classical = full.investigators.filter((p) => p.authPq === null);
  assert.ok(hybrid.length > 0 && classical.length > 0);
  for (const p of hybrid) assert.equal(p.keyId, deriveKeyId(p.recipient, p.auth, p.authPq));
  for (const p of classical) assert.equal(p.keyId, deriveKeyId(p.recipient, p.auth));
  const auth = data.invalid.filter((c) => c.why.startsWith("auth field: "));
  assert.ok(auth.length >= 10, `${auth.length} auth-field cases`);
  for (const c of auth) {
    assert.throws(() => verifyRoster(c.roster, data.org_vkey, data.today), { code: "malformed" }, c.why);
  }
});
