import { test } from "node:test";
import assert from "node:assert/strict";
import { checkCodename, codenameEntropy, deriveV2, newCodename } from "../src/codename.js";
import { hex } from "../src/bytes.js";
import { skipMessage, vectors } from "./vectors.mjs";

const data = vectors("codename.json");
const skip = data ? false : skipMessage("codename.json");

test("codename v2 keys equal vault/codename.py's", { skip }, async () => {
  for (const c of data.cases) {
    assert.equal(hex(codenameEntropy(c.codename)), c.entropy);
    const keys = await deriveV2(c.codename);
    assert.equal(keys.identity, c.identity);
    assert.equal(keys.recipient, c.recipient);
    assert.equal(hex(keys.mailboxSecret), c.mailbox_secret);
    assert.equal(keys.mailboxId, c.mailbox_id);
  }
});

test("invalid codenames are refused with Python's codes, never echoing a word", { skip }, () => {
  for (const c of data.invalid) {
    assert.throws(() => checkCodename(c.text), (error) => {
      assert.equal(error.name, "CodenameError");
      assert.equal(error.code, c.code);
      if (c.code === "word") assert.equal(error.position, c.position);
      for (const word of c.text.split(/\s+/).filter(Boolean)) {
        assert.ok(!error.message.toLowerCase().includes(word.toLowerCase()) || word.length < 3, "a word is echoed");
      }
      return true;
    }, c.text);
  }
});

test("spellings of one codename are equivalent", { skip }, () => {
  for (const c of data.equivalent) assert.equal(checkCodename(c.text), c.canonical);
});

test("new codenames are twelve valid words and derive distinct keys", async () => {
  const a = newCodename();
  const b = newCodename();
  assert.equal(a.split(" ").length, 12);
  assert.notEqual(a, b);
  assert.equal(checkCodename(a.toUpperCase()), a);
  const ka = await deriveV2(a);
  const kb = await deriveV2(` ${a.replaceAll(" ", "\n")} `);
  assert.equal(ka.identity, kb.identity);
  assert.match(ka.identity, /^AGE-SECRET-KEY-PQ-1[0-9A-Z]+$/);
  assert.match(ka.recipient, /^age1pq1[0-9a-z]{1952}$/);
  assert.match(ka.mailboxId, /^[0-9a-f]{64}$/);
  assert.notEqual((await deriveV2(b)).mailboxId, ka.mailboxId);
});

test("a word swapped or changed is refused", () => {
  for (let round = 0; round < 20; round++) {
    const words = newCodename().split(" ");
    const i = round % 12;
    const changed = [...words];
    changed[i] = changed[i] + "qq"; // no word of the list holds "qq"
    assert.throws(() => checkCodename(changed.join(" ")), { code: "word", position: i + 1 });
    assert.throws(() => checkCodename(words.slice(1).join(" ")), { code: "count", count: 11 });
  }
});
