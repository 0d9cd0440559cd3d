import { test } from "node:test";
import assert from "node:assert/strict";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  inclusionProofSize, leafHash, nodeHash, parseEntry, parseReceipt, receiptFile, verifyInclusion, verifyReceipt,
} from "../src/tlog.js";
import { utf8 } from "../src/bytes.js";
import { skipMessage, vectors } from "./vectors.mjs";

const data = vectors("receipt.json");
const skip = data ? false : skipMessage("receipt.json");

test("valid receipts verify, and the receipt file equals Python's", { skip }, () => {
  for (const v of data.valid) {
    const result = verifyReceipt(v.receipt, data.log_vkey, v.entry);
    assert.equal(result.index, v.index);
    assert.equal(result.size, v.size);
    assert.equal(result.rootHash.length, 32);
    assert.equal(receiptFile(v.receipt, v.entry), v.receipt_file);
    assert.equal(receiptFile(v.receipt_file, v.entry), v.receipt_file);
    assert.ok(verifyReceipt(v.receipt_file, data.log_vkey, v.entry));
  }
});

test("invalid receipts are refused", { skip }, () => {
  for (const c of data.invalid) {
    assert.throws(() => verifyReceipt(c.receipt, data.log_vkey, c.entry), { name: "ReceiptError" }, c.why);
  }
});

test("every byte of a receipt flipped is refused", { skip }, () => {
  const v = data.valid[data.valid.length - 1];
  for (let i = 0; i < v.receipt.length; i++) {
    const code = v.receipt.charCodeAt(i);
    const changed = v.receipt.slice(0, i) + String.fromCharCode(code ^ 0x20) + v.receipt.slice(i + 1);
    let verified = false;
    try {
      verifyReceipt(changed, data.log_vkey, v.entry);
      verified = true;
    } catch (e) {
      assert.equal(e.name, "ReceiptError");
    }
    // flipping inside the signature block may only touch a signature by an unknown key name
    if (verified) assert.ok(i > v.receipt.lastIndexOf("\u2014 ") + 1, `byte ${i} changed yet verified`);
  }
  for (let i = 0; i < v.entry.length; i++) {
    const changed = v.entry.slice(0, i) + String.fromCharCode(v.entry.charCodeAt(i) ^ 1) + v.entry.slice(i + 1);
    assert.throws(() => verifyReceipt(v.receipt, data.log_vkey, changed), { name: "ReceiptError" });
  }
});

// A reference Merkle tree (RFC 9162 §2.1) to check inclusion proofs against.
function root(leaves) {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(root(leaves.slice(0, k)), root(leaves.slice(k)));
}
function proof(leaves, index) {
  if (leaves.length <= 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  if (index < k) return [...proof(leaves.slice(0, k), index), root(leaves.slice(k))];
  return [...proof(leaves.slice(k), index - k), root(leaves.slice(0, k))];
}

test("inclusion proofs of every leaf in trees up to 33 verify; altered ones do not", () => {
  for (let size = 1; size <= 33; size++) {
    const leaves = Array.from({ length: size }, (_, i) => leafHash(utf8(`entry ${i}`)));
    const r = root(leaves);
    for (let index = 0; index < size; index++) {
      const p = proof(leaves, index);
      assert.equal(p.length, inclusionProofSize(index, size));
      assert.ok(verifyInclusion(index, size, leaves[index], p, r));
      if (size > 1) assert.throws(() => verifyInclusion((index + 1) % size, size, leaves[index], p, r), { code: "proof" });
      assert.throws(() => verifyInclusion(index, size, leaves[index], [...p, r], r), { code: "proof" });
      if (p.length) {
        const bad = p.map((h) => h.slice());
        bad[0][5] ^= 1;
        assert.throws(() => verifyInclusion(index, size, leaves[index], bad, r), { code: "proof" });
        assert.throws(() => verifyInclusion(index, size, leaves[index], p.slice(1), r), { code: "proof" });
      }
    }
  }
  assert.throws(() => verifyInclusion(0, 0, leafHash(utf8("")), [], sha256(new Uint8Array(0))), { code: "proof" });
  assert.throws(() => verifyInclusion(0, 1, new Uint8Array(31), [], new Uint8Array(31)), { code: "proof" });
});

test("entries parse only in their canonical form", () => {
  const entry = "amanat/event/v1\nkind submission\ntime 2026-11-21T05:00Z\nid 5c1f0e2a9b7d4c3e8f6a1b2c3d4e5f60\nsha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\nsize 1234\n";
  assert.equal(parseEntry(entry).kind, "submission");
  for (const bad of [
    entry.slice(0, -1), entry.replace("T05", "T24"), entry.replace("11-21", "11-31"), entry.replace(":00Z", ":30Z"),
    entry.replace("size 1234\n", ""), entry.replace("kind", "kind "), entry + "x y\n", entry.replace("1234", "12 34"),
    entry.replace("amanat/event/v1", "amanat/event/v2"), entry.replace("id ", "id\u00e9"),
  ]) assert.throws(() => parseEntry(bad), { code: "entry" }, JSON.stringify(bad));
});

test("receipts parse strictly", () => {
  const head = "c2sp.org/tlog-proof@v1\nindex 0\n\nlog\n1\nAAAA\n";
  assert.equal(parseReceipt(head).index, 0n);
  for (const bad of [
    "c2sp.org/tlog-proof@v1\nindex 01\n\nx\n", "c2sp.org/tlog-proof@v1\nindex -1\n\nx\n",
    "c2sp.org/tlog-proof@v1\nextra \nindex 0\n\nx\n", "c2sp.org/tlog-proof@v2\nindex 0\n\nx\n",
    "c2sp.org/tlog-proof@v1\nindex 0\nAAAA\n\nx\n", "c2sp.org/tlog-proof@v1\nindex 0\n", "c2sp.org/tlog-proof@v1\nindex 0\n\n",
    "c2sp.org/tlog-proof@v1\nindex 18446744073709551615\n\nx\n",
  ]) assert.throws(() => parseReceipt(bad), { code: "malformed" }, JSON.stringify(bad));
  assert.equal(parseReceipt("c2sp.org/tlog-proof@v1\nindex 18446744073709551614\n\nx\n").index, 2n ** 64n - 2n);
});
