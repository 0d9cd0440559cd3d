import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { bundle, ustarHeader } from "../src/bundle.js";
import { padmeLength } from "../src/padme.js";
import { canonicalJson } from "../src/manifest.js";
import { fromB64, skipMessage, vectors } from "./vectors.mjs";

const data = vectors("bundle.json");
const bytesOf = async (blob) => new Uint8Array(await blob.arrayBuffer());

test("bundles equal vault/bundle.py's byte for byte", { skip: data ? false : skipMessage("bundle.json") }, async () => {
  for (const c of data.cases) {
    for (const asBlob of [false, true]) {
      const attachments = c.attachments.map(({ name, data: d }) => ({
        name, data: asBlob ? new Blob([fromB64(d)]) : fromB64(d),
      }));
      const blob = bundle(c.manifest, attachments);
      assert.equal(blob.size, c.bundle_length, c.name);
      const out = await bytesOf(blob);
      assert.equal(createHash("sha256").update(out).digest("hex"), c.bundle_sha256, c.name);
      if (c.bundle) assert.deepEqual(out, fromB64(c.bundle), c.name);
    }
  }
});

function manifestWith(attachments) {
  return {
    schema: "amanat/testimony/v2", language: "und", statement: "", publication_consent: "none", persons: [],
    attachments: attachments.map(({ name, data }) => ({
      name, media_type: "application/octet-stream", size: data.length,
      sha256_before_cleaning: createHash("sha256").update(data).digest("hex"),
      sha256_after_cleaning: createHash("sha256").update(data).digest("hex"), metadata_kept: false,
    })),
  };
}

test("a bundle is a valid padded USTAR archive", async () => {
  for (const sizes of [[], [0], [1], [511], [512], [513], [100000, 3]]) {
    const attachments = sizes.map((n, i) => ({ name: `attachment-${i + 1}.bin`, data: new Uint8Array(n).fill(i + 1) }));
    const out = await bytesOf(bundle(manifestWith(attachments), attachments));
    assert.equal(out.length % 512, 0);
    assert.equal(padmeLength(out.length), out.length);
    // walk the members
    let offset = 0;
    const names = [];
    for (;;) {
      const header = out.subarray(offset, offset + 512);
      if (header.every((b) => b === 0)) break;
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i];
      assert.equal(new TextDecoder().decode(header.subarray(148, 154)), sum.toString(8).padStart(6, "0"));
      assert.deepEqual([...header.subarray(154, 156)], [0, 32]);
      assert.equal(new TextDecoder().decode(header.subarray(257, 265)), "ustar\u000000");
      const size = parseInt(new TextDecoder().decode(header.subarray(124, 135)), 8);
      const name = new TextDecoder().decode(header.subarray(0, 100)).replace(/\0+$/, "");
      const prefix = new TextDecoder().decode(header.subarray(345, 500)).replace(/\0+$/, "");
      names.push(prefix ? `${prefix}/${name}` : name);
      offset += 512 + Math.ceil(size / 512) * 512;
    }
    assert.deepEqual(names, ["manifest.json", ...attachments.map((a) => `attachments/${a.name}`)]);
    assert.ok(out.subarray(offset).every((b) => b === 0));
  }
});

test("attachments that differ from the manifest are refused", () => {
  const attachments = [{ name: "attachment-1.bin", data: new Uint8Array(3) }];
  const manifest = manifestWith(attachments);
  assert.throws(() => bundle(manifest, []), { code: "attachments" });
  assert.throws(() => bundle(manifest, [{ name: "attachment-2.bin", data: new Uint8Array(3) }]), { code: "attachments" });
  assert.throws(() => bundle(manifest, [{ name: "attachment-1.bin", data: new Uint8Array(4) }]), { code: "attachments" });
  assert.throws(() => bundle({ ...manifest, statement: "\ud800" }, attachments), { code: "manifest" });
  assert.throws(() => ustarHeader("attachments", "x".repeat(101), 1), { code: "name" });
  assert.throws(() => ustarHeader("attachments", "x", 8 ** 11), { code: "size" });
});

test("a large Blob attachment is referenced, and the padding costs no buffer", async () => {
  const big = new Blob([new Uint8Array(3 * 1024 * 1024 + 7).fill(7)]);
  const manifest = manifestWith([{ name: "attachment-1.bin", data: new Uint8Array(0) }]);
  manifest.attachments[0].size = big.size;
  const blob = bundle(manifest, [{ name: "attachment-1.bin", data: big }]);
  assert.equal(blob.size, padmeLength(512 + 512 * Math.ceil(canonicalJson(manifest).length / 512) + 512 + Math.ceil(big.size / 512) * 512 + 1024));
  const tail = new Uint8Array(await blob.slice(blob.size - 4096).arrayBuffer());
  assert.ok(tail.every((b) => b === 0));
});
