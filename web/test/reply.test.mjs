import { test } from "node:test";
import assert from "node:assert/strict";
import { Encrypter } from "age-encryption";
import { openReply, readReply } from "../src/reply.js";
import { deriveV2, newCodename } from "../src/codename.js";
import { padmeLength } from "../src/padme.js";
import { fromB64, skipMessage, vectors } from "./vectors.mjs";

const data = vectors("reply.json");
const skip = data ? false : skipMessage("reply.json");

test("reply plaintexts read as vault/replytext.py reads them", { skip }, () => {
  for (const c of data.plaintexts) assert.equal(readReply(fromB64(c.plaintext)), c.message);
});

test("damaged v2 plaintexts are refused", { skip }, () => {
  for (const c of data.invalid) assert.throws(() => readReply(fromB64(c.plaintext)), { code: "padding" }, c.why);
});

test("a reply sealed by Python opens with the codename's identity", { skip }, async () => {
  for (const c of data.sealed) {
    const { identity } = await deriveV2(c.codename);
    assert.equal(await openReply(fromB64(c.sealed), identity), c.message);
    assert.equal(await openReply(new Blob([fromB64(c.sealed)]), identity), c.message);
    const other = (await deriveV2(newCodename())).identity;
    await assert.rejects(openReply(fromB64(c.sealed), other), { code: "decrypt" });
    const damaged = fromB64(c.sealed);
    damaged[damaged.length - 3] ^= 1;
    await assert.rejects(openReply(damaged, identity), { code: "decrypt" });
  }
});

test("round trip: pad as Python does, seal in JS, open", async () => {
  const keys = await deriveV2(newCodename());
  for (const message of ["", "x", "\u0000\u0080", "ends with NUL\u0000", "رەھمەت", "😀".repeat(300)]) {
    const body = new Uint8Array([...new TextEncoder().encode("amanat/reply/v2\n"), ...new TextEncoder().encode(message), 0x80]);
    const plaintext = new Uint8Array(padmeLength(body.length));
    plaintext.set(body);
    const e = new Encrypter();
    e.addRecipient(keys.recipient);
    assert.equal(await openReply(await e.encrypt(plaintext), keys.identity), message);
  }
  await assert.rejects(openReply(new Uint8Array(10), "AGE-SECRET-KEY-1XYZ"), { code: "identity" });
});
