import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { b64, concat, equal, fromB64, fromHex, hex, utf8 } from "../src/bytes.js";

test("base64 round-trips and matches node's encoder", () => {
  for (let n = 0; n < 70; n++) {
    const data = new Uint8Array(randomBytes(n));
    const text = b64(data);
    assert.equal(text, Buffer.from(data).toString("base64"));
    assert.deepEqual(fromB64(text), data);
    assert.deepEqual(fromB64(b64(data, false), false), data);
  }
});

test("non-canonical base64 is refused", () => {
  for (const bad of ["QQ", "QR==", "QQ=", "Q===", "QQ==\n", " QQ==", "QQ==QQ==", "Q-==", "QUJD=", "AB=C"]) {
    assert.throws(() => fromB64(bad), { code: "base64" }, bad);
  }
  assert.throws(() => fromB64("QQ==", false), { code: "base64" });
  assert.throws(() => fromB64("QR", false), { code: "base64" });
});

test("hex is lowercase and strict", () => {
  assert.equal(hex(Uint8Array.of(0, 15, 255)), "000fff");
  assert.deepEqual(fromHex("000fff"), Uint8Array.of(0, 15, 255));
  for (const bad of ["0", "0F", "zz", "00 "]) assert.throws(() => fromHex(bad), { code: "hex" });
});

test("utf8 refuses unpaired surrogates", () => {
  assert.deepEqual(utf8("é😀"), new Uint8Array(Buffer.from("é😀")));
  assert.throws(() => utf8("a\ud800b"), { code: "surrogate" });
  assert.throws(() => utf8("\udc00"), { code: "surrogate" });
});

test("concat and equal", () => {
  assert.deepEqual(concat(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3)), Uint8Array.of(1, 2, 3));
  assert.ok(equal(Uint8Array.of(1, 2), Uint8Array.of(1, 2)));
  assert.ok(!equal(Uint8Array.of(1, 2), Uint8Array.of(1, 3)));
  assert.ok(!equal(Uint8Array.of(1), Uint8Array.of(1, 0)));
});
