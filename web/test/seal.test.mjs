import { test } from "node:test";
import assert from "node:assert/strict";
import { Decrypter } from "age-encryption";
import { seal } from "../src/seal.js";
import { deriveV2, newCodename } from "../src/codename.js";

test("a sealed file opens with each recipient's identity, one stanza each", async () => {
  const a = await deriveV2(newCodename());
  const b = await deriveV2(newCodename());
  const plaintext = new Uint8Array(200 * 1024 + 13);
  for (let i = 0; i < plaintext.length; i++) plaintext[i] = (i * 31) & 0xff;
  const heard = [];
  const sealed = await seal([a.recipient, b.recipient], new Blob([plaintext]), (done, total) => heard.push([done, total]));
  const bytes = new Uint8Array(await sealed.arrayBuffer());
  const header = new TextDecoder().decode(bytes.subarray(0, 6000)).split("\n---")[0];
  assert.equal(header.split("\n")[0], "age-encryption.org/v1");
  assert.equal(header.split("\n").filter((l) => l.startsWith("-> mlkem768x25519 ")).length, 2);
  for (const who of [a, b]) {
    const d = new Decrypter();
    d.addIdentity(who.identity);
    assert.deepEqual(await d.decrypt(bytes), plaintext);
  }
  assert.deepEqual(heard.at(-1), [plaintext.length, plaintext.length]);
  for (let i = 1; i < heard.length; i++) assert.ok(heard[i][0] >= heard[i - 1][0]);
  // an empty plaintext seals too
  const empty = await seal([a.recipient], new Uint8Array(0));
  const d = new Decrypter();
  d.addIdentity(a.identity);
  assert.equal((await d.decrypt(new Uint8Array(await empty.arrayBuffer()))).length, 0);
});

test("sealing refuses no recipients, classical ones and garbage", async () => {
  await assert.rejects(seal([], new Uint8Array(1)), { code: "recipients" });
  await assert.rejects(seal(["age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq"], new Uint8Array(1)), { code: "recipients" });
  await assert.rejects(seal(["age1pq1xyz"], new Uint8Array(1)), { code: "recipients" });
});
