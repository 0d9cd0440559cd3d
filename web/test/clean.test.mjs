// Tests of web/src/clean.js on files built here, byte by byte: what is kept and dropped,
// EXIF orientation in both byte orders, hostile files (cut off, lying lengths, CRC errors,
// nested sizes), idempotence. Decoding real pictures to the same pixels is checked by
// tests/web/test_clean_js.py with Pillow.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { test as nodeTest } from "node:test";

import { CleanError, cleanFile, crc32, sniff, tiffOrientation } from "../src/clean.js";

// A hang is a failure too.
const test = (name, fn) => nodeTest(name, { timeout: 120_000 }, fn);

const enc = new TextEncoder();

function cat(...parts) {
  const arrays = parts.map((p) => (typeof p === "string" ? enc.encode(p) : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}
function be16(x) {
  return [(x >>> 8) & 0xff, x & 0xff];
}
function be32(x) {
  return [(x >>> 24) & 0xff, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff];
}
function le16(x) {
  return [x & 0xff, (x >>> 8) & 0xff];
}
function le32(x) {
  return [x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, (x >>> 24) & 0xff];
}
function contains(hay, needle) {
  const n = typeof needle === "string" ? enc.encode(needle) : needle;
  outer: for (let i = 0; i + n.length <= hay.length; i++) {
    for (let k = 0; k < n.length; k++) if (hay[i + k] !== n[k]) continue outer;
    return true;
  }
  return false;
}
function sha256(bytes) {
  return createHash("sha256").update(bytes).digest("hex");
}
// A small deterministic generator (xorshift32) for the mutation tests.
function prng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

// Cleaning either succeeds or throws CleanError with a known code; nothing else.
async function cleanOrCode(bytes) {
  try {
    const result = await cleanFile(bytes);
    return { result };
  } catch (error) {
    assert.ok(error instanceof CleanError, `not a CleanError: ${error && error.stack}`);
    assert.ok(["truncated", "malformed", "unsupported"].includes(error.code), error.code);
    return { code: error.code };
  }
}
async function rejectsWith(bytes, code) {
  await assert.rejects(cleanFile(bytes), (error) => {
    assert.ok(error instanceof CleanError, `not a CleanError: ${error}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

// ---------------------------------------------------------------------------------------
// EXIF (TIFF) blocks

function tiff(little, entries, { ifdOffset = 8, count } = {}) {
  const w16 = little ? le16 : be16;
  const w32 = little ? le32 : be32;
  const body = [];
  for (const [tag, type, n, value] of entries) {
    body.push(...w16(tag), ...w16(type), ...w32(n));
    if (type === 3) body.push(...w16(value), 0, 0);
    else body.push(...w32(value));
  }
  return cat(
    little ? "II" : "MM",
    w16(42),
    w32(ifdOffset),
    w16(count ?? entries.length),
    body,
    w32(0),
    "CANARY-SERIAL-0042",
  );
}
function orientationTiff(value, little = false) {
  return tiff(little, [
    [0x010f, 2, 4, 0],
    [0x0112, 3, 1, value],
    [0x8825, 4, 1, 0x1000],
  ]);
}

test("tiffOrientation reads both byte orders and refuses hostile offsets", () => {
  for (const little of [true, false]) {
    for (let v = 1; v <= 8; v++) assert.equal(tiffOrientation(orientationTiff(v, little)), v);
    assert.equal(tiffOrientation(orientationTiff(0, little)), null);
    assert.equal(tiffOrientation(orientationTiff(9, little)), null);
    assert.equal(tiffOrientation(tiff(little, [[0x0112, 4, 1, 3]])), 3); // LONG
    assert.equal(tiffOrientation(tiff(little, [[0x0112, 3, 0, 3]])), null); // no value
    assert.equal(tiffOrientation(tiff(little, [[0x0110, 3, 1, 3]])), null); // other tag
    // IFD offset beyond the block, into the header, or enormous; count beyond the block
    assert.equal(tiffOrientation(tiff(little, [[0x0112, 3, 1, 3]], { ifdOffset: 4000 })), null);
    assert.equal(tiffOrientation(tiff(little, [[0x0112, 3, 1, 3]], { ifdOffset: 2 })), null);
    assert.equal(
      tiffOrientation(tiff(little, [[0x0112, 3, 1, 3]], { ifdOffset: 0xffffffff })),
      null,
    );
    const many = tiff(little, [[0x0112, 3, 1, 5]], { count: 0xffff });
    assert.equal(tiffOrientation(many), 5); // the entry that fits is read
    const cut = tiff(little, [[0x010f, 2, 4, 0], [0x0112, 3, 1, 5]]);
    assert.equal(tiffOrientation(cut.subarray(0, 8 + 2 + 12 + 6)), null); // its entry cut off
  }
  assert.equal(tiffOrientation(cat("IM", be16(42), be32(8))), null);
  assert.equal(tiffOrientation(cat("MM", be16(43), be32(8), be16(0))), null);
  assert.equal(tiffOrientation(new Uint8Array(0)), null);
  // every prefix of a block: a value or null, never an exception
  const block = orientationTiff(6, true);
  for (let i = 0; i <= block.length; i++) tiffOrientation(block.subarray(0, i));
});

// ---------------------------------------------------------------------------------------
// JPEG

function seg(marker, body) {
  const b = typeof body === "string" ? enc.encode(body) : Uint8Array.from(body);
  return cat([0xff, marker], be16(b.length + 2), b);
}
const SOI = [0xff, 0xd8];
const EOI = [0xff, 0xd9];
const JFIF = seg(0xe0, cat("JFIF\0", [1, 2, 1], be16(72), be16(72), [0, 0]));
const JFIF_THUMB = seg(0xe0, cat("JFIF\0", [1, 2, 1], be16(72), be16(72), [2, 1], new Uint8Array(6).fill(0x77)));
const DQT = seg(0xdb, cat([0], new Uint8Array(64).fill(1)));
const SOF0 = seg(0xc0, cat([8], be16(8), be16(8), [1, 1, 0x11, 0]));
const SOF2 = seg(0xc2, cat([8], be16(8), be16(8), [1, 1, 0x11, 0]));
const DHT = seg(0xc4, cat([0x00], new Uint8Array(16).fill(0).map((_, i) => (i === 0 ? 1 : 0)), [0]));
const DRI = seg(0xdd, be16(1));
const SOS = seg(0xda, [1, 1, 0x00, 0, 63, 0]);
// entropy data with a stuffed 0xFF00, a fill byte before RST0, RST1, and a stuffed byte
// after fill bytes
const ENTROPY = [0x12, 0xff, 0x00, 0x34, 0xff, 0xff, 0xd0, 0x56, 0xff, 0xd1, 0x78, 0xff, 0xff, 0x00, 0x9a];
const EXIF_APP1 = (value, little) => seg(0xe1, cat("Exif\0\0", orientationTiff(value, little)));
const XMP = seg(0xe1, "http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>CANARY-XMP</x:xmpmeta>");
const ICC = seg(0xe2, cat("ICC_PROFILE\0", [1, 1], "CANARY-DEVICE-MODEL"));
const IPTC = seg(0xed, "Photoshop 3.0\0CANARY-IPTC");
const COM = seg(0xfe, "CANARY-COMMENT");
const ADOBE = seg(0xee, cat("Adobe", be16(101), be16(0x8000), be16(0x1234), [2], "CANARY"));
const THUMB_IN_EXIF = seg(0xe1, cat("Exif\0\0", orientationTiff(3), SOI, "CANARY", EOI));

function jpeg(...segments) {
  return cat(SOI, ...segments);
}
const PLAIN = jpeg(JFIF, DQT, SOF0, DHT, SOS, ENTROPY, EOI);

test("JPEG: a plain file is kept as it is", async () => {
  const { data, status, mediaType, orientation } = await cleanFile(PLAIN);
  assert.equal(status, "cleaned");
  assert.equal(mediaType, "image/jpeg");
  assert.deepEqual(data, PLAIN);
  assert.equal(orientation, null);
});

test("JPEG: EXIF, XMP, ICC, IPTC, comments, trailers dropped; orientation read", async () => {
  for (const little of [true, false]) {
    const dirty = jpeg(
      JFIF_THUMB, EXIF_APP1(8, little), XMP, ICC, IPTC, COM, DQT, COM, SOF0, DHT, SOS,
      ENTROPY, [0xff, 0xff, 0xff], EOI, "CANARY-TRAILER", jpeg(JFIF, EOI),
    );
    const { data, orientation, sha256Before, sha256After } = await cleanFile(dirty);
    assert.equal(orientation, 8);
    assert.deepEqual(data, PLAIN); // JFIF rewritten without its thumbnail, density kept
    assert.ok(!contains(data, "CANARY"));
    assert.ok(!contains(data, "Exif"));
    assert.equal(sha256Before, sha256(dirty));
    assert.equal(sha256After, sha256(PLAIN));
  }
});

test("JPEG: the first EXIF block gives the orientation; a thumbnail's EOI inside it is skipped", async () => {
  const dirty = jpeg(THUMB_IN_EXIF, EXIF_APP1(6), JFIF, DQT, SOF0, DHT, SOS, ENTROPY, EOI);
  const { data, orientation } = await cleanFile(dirty);
  assert.equal(orientation, 3);
  assert.deepEqual(data, PLAIN);
  // a first EXIF block without orientation: none (viewers read the first block only)
  const firstEmpty = jpeg(seg(0xe1, cat("Exif\0\0", tiff(true, []))), EXIF_APP1(6), DQT, SOF0, DHT, SOS, ENTROPY, EOI);
  assert.equal((await cleanFile(firstEmpty)).orientation, null);
  // a hostile EXIF block: no orientation, the file still cleaned
  const bad = jpeg(seg(0xe1, cat("Exif\0\0MM", be16(42), be32(0xfffffff0))), DQT, SOF0, DHT, SOS, ENTROPY, EOI);
  const cleaned = await cleanFile(bad);
  assert.equal(cleaned.orientation, null);
  assert.deepEqual(cleaned.data, jpeg(DQT, SOF0, DHT, SOS, ENTROPY, EOI));
});

test("JPEG: Adobe APP14 kept in its plain form (it decides the colour transform)", async () => {
  const { data } = await cleanFile(jpeg(ADOBE, DQT, SOF0, DHT, SOS, ENTROPY, EOI));
  const plainAdobe = seg(0xee, cat("Adobe", be16(100), be16(0), be16(0), [2]));
  assert.deepEqual(data, jpeg(plainAdobe, DQT, SOF0, DHT, SOS, ENTROPY, EOI));
  // of several Adobe segments, decoders follow the last one's transform
  const second = seg(0xee, cat("Adobe", be16(100), be16(0), be16(0), [1]));
  const twice = await cleanFile(jpeg(ADOBE, DQT, second, SOF0, DHT, SOS, ENTROPY, EOI));
  assert.deepEqual(twice.data, jpeg(second, DQT, SOF0, DHT, SOS, ENTROPY, EOI));
  // an APP14 too short to be Adobe's, and another APP0 than JFIF, are dropped
  const other = await cleanFile(jpeg(seg(0xee, "Adobe"), seg(0xe0, "JFXX\0\x10"), DQT, SOF0, DHT, SOS, ENTROPY, EOI));
  assert.deepEqual(other.data, jpeg(DQT, SOF0, DHT, SOS, ENTROPY, EOI));
});

test("JPEG: progressive scans, DRI, tables between scans, RST/TEM between segments", async () => {
  const file = jpeg(JFIF, DQT, SOF2, DRI, DHT, SOS, ENTROPY, DHT, SOS, [0x01, 0x02], SOS, ENTROPY, EOI);
  const { data } = await cleanFile(file);
  assert.deepEqual(data, file);
  const withStray = jpeg(JFIF, [0xff, 0xd3], [0xff, 0x01], "junk", DQT, SOF2, DRI, DHT, SOS, ENTROPY, DHT, SOS, [0x01, 0x02], SOS, ENTROPY, EOI);
  assert.deepEqual((await cleanFile(withStray)).data, file);
});

test("JPEG: zero-length bodies (length 2) are fine; lengths below 2 are malformed", async () => {
  const file = jpeg(seg(0xe5, ""), seg(0xfe, ""), DQT, SOF0, DHT, SOS, ENTROPY, EOI);
  assert.deepEqual((await cleanFile(file)).data, jpeg(DQT, SOF0, DHT, SOS, ENTROPY, EOI));
  for (const length of [0, 1]) {
    await rejectsWith(cat(SOI, [0xff, 0xe1], be16(length), DQT, SOF0, DHT, SOS, ENTROPY, EOI), "malformed");
  }
});

test("JPEG: hostile structure gives typed errors", async () => {
  // a segment length running past the end
  await rejectsWith(cat(SOI, [0xff, 0xe1, 0xff, 0xff], "short"), "truncated");
  // no EOI; scan to the end; fill bytes to the end
  await rejectsWith(jpeg(DQT, SOF0, DHT, SOS, ENTROPY), "truncated");
  await rejectsWith(jpeg(DQT, SOF0, DHT, SOS, ENTROPY, [0xff]), "truncated");
  await rejectsWith(cat(SOI, new Uint8Array(1000).fill(0xff)), "truncated");
  await rejectsWith(cat(SOI, [0xff]), "truncated");
  // nothing but bytes between segments
  await rejectsWith(cat(SOI, [0xff], new Uint8Array(1000).fill(0x41)), "truncated");
  // scan before a frame; EOI before a scan; second SOI; stuffed byte outside a scan
  await rejectsWith(jpeg(DQT, SOS, ENTROPY, EOI), "malformed");
  await rejectsWith(jpeg(DQT, SOF0, EOI), "malformed");
  await rejectsWith(jpeg(DQT, SOI, SOF0, DHT, SOS, ENTROPY, EOI), "malformed");
  await rejectsWith(jpeg([0xff, 0x00], SOF0, DHT, SOS, ENTROPY, EOI), "malformed");
  // frame and scan headers whose lengths disagree with their component counts
  await rejectsWith(jpeg(seg(0xc0, cat([8], be16(8), be16(8), [2, 1, 0x11, 0])), SOS, ENTROPY, EOI), "malformed");
  await rejectsWith(jpeg(SOF0, seg(0xda, [0, 0, 63, 0]), ENTROPY, EOI), "malformed");
  await rejectsWith(jpeg(SOF0, seg(0xda, [5, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 0, 63, 0]), ENTROPY, EOI), "malformed");
  await rejectsWith(jpeg(seg(0xdd, [0, 1, 2]), SOF0, SOS, ENTROPY, EOI), "malformed");
  // reserved markers; JPEG-LS
  await rejectsWith(jpeg(seg(0x30, "x"), SOF0, SOS, ENTROPY, EOI), "malformed");
  await rejectsWith(jpeg(seg(0xf7, cat([8], be16(8), be16(8), [1, 1, 0x11, 0])), SOS, ENTROPY, EOI), "unsupported");
  // not even SOI
  await rejectsWith(cat([0xff, 0xd8, 0xff]), "truncated");
});

test("JPEG: every prefix of a file is refused with a typed error", async () => {
  const dirty = jpeg(JFIF_THUMB, EXIF_APP1(6, true), XMP, DQT, SOF0, DHT, SOS, ENTROPY, EOI);
  for (let i = 3; i < dirty.length; i++) {
    const outcome = await cleanOrCode(dirty.subarray(0, i));
    assert.ok(outcome.code !== undefined, `prefix of ${i} bytes was cleaned`);
  }
});

test("JPEG, PNG, WebP: random mutations give a result or a typed error, and results are stable", async () => {
  const random = prng(20260);
  for (const original of [
    jpeg(JFIF_THUMB, EXIF_APP1(6, true), XMP, ADOBE, DQT, SOF2, DRI, DHT, SOS, ENTROPY, DHT, SOS, ENTROPY, EOI),
    PNG_DIRTY,
    WEBP_ANIMATED,
    cat(GIF_HEAD, GIF_COMMENT, LOOP, GCE, IMAGE, GIF_XMP, GCE, IMAGE_LCT, [0x3b]),
    tiffFile(false, [{ entries: [...TIFF_PICTURE, ...TIFF_META, [274, 3, [6]]], strips: [STRIP, STRIP] }]),
  ]) {
    for (let round = 0; round < 1500; round++) {
      const bytes = Uint8Array.from(original);
      const changes = 1 + (random() % 4);
      for (let k = 0; k < changes; k++) {
        const at = random() % bytes.length;
        bytes[at] = random() % 3 === 0 ? 0xff : random() & 0xff;
      }
      const cut = random() % 5 === 0 ? bytes.subarray(0, random() % bytes.length) : bytes;
      const outcome = await cleanOrCode(cut);
      if (outcome.result && outcome.result.status === "cleaned" && outcome.result.mediaType !== "text/plain") {
        const again = await cleanFile(outcome.result.data);
        assert.deepEqual(again.data, outcome.result.data, "cleaning a cleaned file changed it");
      }
    }
  }
});

test("JPEG: a large file is cleaned in linear time and the page gets turns meanwhile", async () => {
  // 12 MiB of entropy data full of stuffed bytes and restart markers
  const size = 12 * 1024 * 1024;
  const entropy = new Uint8Array(size);
  for (let i = 0; i < size; i += 64) {
    entropy[i] = 0xff;
    entropy[i + 1] = i % 4096 === 0 ? 0xd0 + ((i >> 12) & 7) : 0x00;
  }
  const file = jpeg(JFIF, EXIF_APP1(6, false), DQT, SOF0, DRI, DHT, SOS, entropy, EOI);
  let turns = 0;
  let done = false;
  const turn = () => {
    turns++;
    if (!done) setImmediate(turn);
  };
  setImmediate(turn);
  const { data, orientation } = await cleanFile(new Blob([file]));
  done = true;
  assert.equal(orientation, 6);
  assert.equal(data.length, file.length - EXIF_APP1(6, false).length);
  assert.ok(turns >= 2, `the page got ${turns} turns`);
});

// ---------------------------------------------------------------------------------------
// PNG

// an independent CRC-32, bit by bit
function crcBitwise(bytes) {
  let c = 0xffffffff;
  for (const x of bytes) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data = new Uint8Array(0), crc) {
  const body = cat(type, data);
  return cat(be32(body.length - 4), body, be32(crc ?? crcBitwise(body)));
}
const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const IHDR = chunk("IHDR", cat(be32(1), be32(1), [8, 3, 0, 0, 0]));
const PLTE = chunk("PLTE", [1, 2, 3]);
const TRNS = chunk("tRNS", [0]);
const GAMA = chunk("gAMA", be32(45455));
const PHYS = chunk("pHYs", cat(be32(2835), be32(2835), [1]));
const IDAT = chunk("IDAT", [0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01]);
const IEND = chunk("IEND");
const ACTL = chunk("acTL", cat(be32(2), be32(0)));
const FCTL = (n) => chunk("fcTL", cat(be32(n), be32(1), be32(1), be32(0), be32(0), be16(1), be16(10), [0, 0]));
const FDAT = chunk("fdAT", cat(be32(2), [0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01]));
const PNG_PLAIN = cat(PNG_SIG, IHDR, GAMA, PLTE, TRNS, PHYS, ACTL, FCTL(0), IDAT, FCTL(1), FDAT, IEND);
const PNG_DIRTY = cat(
  PNG_SIG, IHDR, chunk("tEXt", "Author\0CANARY-AUTHOR"), chunk("iCCP", "CANARY-PROFILE\0\0xx"),
  GAMA, chunk("eXIf", orientationTiff(7, true)), PLTE, TRNS, chunk("tIME", [7, 234, 1, 2, 3, 4, 5]),
  PHYS, chunk("zTXt", "Comment\0\0CANARY"), ACTL, FCTL(0), IDAT, chunk("iTXt", "XML:com.adobe.xmp\0\0\0\0\0CANARY"),
  FCTL(1), chunk("prVt", "CANARY-PRIVATE"), FDAT, chunk("iDOT", "CANARY"), IEND, "CANARY-TRAILER",
);

test("crc32 matches the standard check value and a bitwise CRC", () => {
  assert.equal(crc32(enc.encode("123456789")), 0xcbf43926);
  const random = prng(7);
  for (let n = 0; n < 40; n++) {
    const bytes = Uint8Array.from({ length: n * 7 }, () => random() & 0xff);
    assert.equal(crc32(bytes), crcBitwise(bytes));
  }
});

test("PNG: text, time, EXIF, ICC and unknown chunks dropped; rendering and APNG chunks kept", async () => {
  const { data, orientation, mediaType } = await cleanFile(PNG_DIRTY);
  assert.equal(mediaType, "image/png");
  assert.equal(orientation, 7);
  assert.deepEqual(data, PNG_PLAIN);
  assert.ok(!contains(data, "CANARY"));
  assert.deepEqual((await cleanFile(PNG_PLAIN)).data, PNG_PLAIN);
  // eXIf with the "Exif\0\0" prefix some writers put in, big-endian
  const prefixed = cat(PNG_SIG, IHDR, chunk("eXIf", cat("Exif\0\0", orientationTiff(2, false))), IDAT, IEND);
  assert.equal((await cleanFile(prefixed)).orientation, 2);
});

test("PNG: hostile files give typed errors", async () => {
  // a CRC error, in a kept chunk and in a dropped one
  await rejectsWith(cat(PNG_SIG, IHDR, chunk("IDAT", [1, 2], 1), IEND), "malformed");
  await rejectsWith(cat(PNG_SIG, IHDR, chunk("tEXt", "a\0b", 0), IDAT, IEND), "malformed");
  // lengths: above 2^31-1, past the end
  await rejectsWith(cat(PNG_SIG, IHDR, be32(0xffffffff), "tEXt", be32(0), IDAT, IEND), "malformed");
  await rejectsWith(cat(PNG_SIG, IHDR, be32(0x7ffffff0), "IDAT", new Uint8Array(16), IEND), "truncated");
  // IHDR not first, twice, with the wrong length; no IDAT; no IEND
  await rejectsWith(cat(PNG_SIG, GAMA, IHDR, IDAT, IEND), "malformed");
  await rejectsWith(cat(PNG_SIG, IHDR, IHDR, IDAT, IEND), "malformed");
  await rejectsWith(cat(PNG_SIG, chunk("IHDR", [0, 0, 0, 1]), IDAT, IEND), "malformed");
  await rejectsWith(cat(PNG_SIG, chunk("IHDR", cat(be32(0), be32(1), [8, 3, 0, 0, 0])), IDAT, IEND), "malformed");
  await rejectsWith(cat(PNG_SIG, chunk("IHDR", cat(be32(1), be32(1), [16, 3, 0, 0, 0])), IDAT, IEND), "malformed");
  await rejectsWith(cat(PNG_SIG, chunk("IHDR", cat(be32(1), be32(1), [8, 5, 0, 0, 0])), IDAT, IEND), "malformed");
  await rejectsWith(cat(PNG_SIG, IHDR, IEND), "malformed");
  await rejectsWith(cat(PNG_SIG, IHDR, IDAT), "truncated");
  // a chunk type that is not four letters; an unknown critical chunk
  await rejectsWith(cat(PNG_SIG, IHDR, chunk("tE\0t", "x"), IDAT, IEND), "malformed");
  await rejectsWith(cat(PNG_SIG, IHDR, chunk("CgBI", "x"), IDAT, IEND), "unsupported");
  // a bad signature after the sniffed bytes cannot happen (sniff needs all 8), short files
  await rejectsWith(cat(PNG_SIG), "truncated");
  for (let i = 8; i < PNG_DIRTY.length - "CANARY-TRAILER".length; i++) {
    const outcome = await cleanOrCode(PNG_DIRTY.subarray(0, i));
    assert.ok(outcome.code !== undefined, `prefix of ${i} bytes was cleaned`);
  }
});

test("PNG: many zero-length chunks are cleaned without hanging", async () => {
  const tiny = chunk("zzZz");
  const parts = [PNG_SIG, IHDR];
  for (let i = 0; i < 50000; i++) parts.push(tiny);
  parts.push(IDAT, IEND);
  const { data } = await cleanFile(cat(...parts));
  assert.deepEqual(data, cat(PNG_SIG, IHDR, IDAT, IEND));
});

// ---------------------------------------------------------------------------------------
// WebP

function rchunk(fourcc, data) {
  const d = typeof data === "string" ? enc.encode(data) : Uint8Array.from(data);
  return cat(fourcc, le32(d.length), d, d.length & 1 ? [0] : []);
}
function riff(...chunks) {
  const body = cat("WEBP", ...chunks);
  return cat("RIFF", le32(body.length), body);
}
function vp8x(flags) {
  return rchunk("VP8X", [flags, 0xaa, 0xbb, 0xcc, 9, 0, 0, 9, 0, 0]);
}
const VP8L = rchunk("VP8L", [0x2f, 0x00, 0x00, 0x00, 0x00]); // odd size: padded
const VP8 = rchunk("VP8 ", [0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 9, 0, 9, 0]);
const ALPH = rchunk("ALPH", [0, 1, 2]);
const ANIM = rchunk("ANIM", [0, 0, 0, 0, 0, 0]);
const EXIF_CHUNK = (v, little) => rchunk("EXIF", orientationTiff(v, little));
const XMP_CHUNK = rchunk("XMP ", "<x:xmpmeta>CANARY-XMP</x:xmpmeta>");
const ICCP = rchunk("ICCP", "CANARY-DEVICE");
const ANMF = (...subs) => rchunk("ANMF", cat([0, 0, 0, 0, 0, 0, 9, 0, 0, 9, 0, 0, 100, 0, 0, 0], ...subs));
const WEBP_ANIMATED = riff(
  vp8x(0x3f), ICCP, ANIM, ANMF(ALPH, VP8, rchunk("UNKN", "CANARY")), ANMF(VP8L),
  EXIF_CHUNK(5, true), XMP_CHUNK,
);

test("WebP: simple lossless and lossy files are kept; chunks after them dropped", async () => {
  for (const picture of [VP8L, VP8]) {
    const plain = riff(picture);
    const result = await cleanFile(plain);
    assert.equal(result.mediaType, "image/webp");
    assert.deepEqual(result.data, plain);
    const dirty = cat(riff(picture, EXIF_CHUNK(4, false), XMP_CHUNK), "CANARY-TRAILER");
    const cleaned = await cleanFile(dirty);
    assert.deepEqual(cleaned.data, plain);
    assert.equal(cleaned.orientation, 4);
  }
});

test("WebP: extended files lose EXIF, XMP, ICC and unknown chunks; flags and sizes fixed", async () => {
  const dirty = riff(vp8x(0x2c | 0x10 | 0xc1), ICCP, ALPH, rchunk("ZZZZ", "CANARY"), VP8, EXIF_CHUNK(6, false), XMP_CHUNK);
  const { data, orientation } = await cleanFile(dirty);
  assert.equal(orientation, 6);
  const flagsKept = riff(rchunk("VP8X", [0x10, 0, 0, 0, 9, 0, 0, 9, 0, 0]), ALPH, VP8);
  assert.deepEqual(data, flagsKept);
  assert.ok(!contains(data, "CANARY") && !contains(data, "EXIF") && !contains(data, "XMP"));

  const animated = await cleanFile(WEBP_ANIMATED);
  assert.equal(animated.orientation, 5);
  assert.deepEqual(
    animated.data,
    riff(rchunk("VP8X", [0x12, 0, 0, 0, 9, 0, 0, 9, 0, 0]), ANIM, ANMF(ALPH, VP8), ANMF(VP8L)),
  );
  assert.deepEqual((await cleanFile(animated.data)).data, animated.data);
});

test("WebP: a last chunk without its pad byte is accepted and padded", async () => {
  const unpadded = cat("RIFF", le32(4 + 8 + 5), "WEBP", "VP8L", le32(5), [0x2f, 0, 0, 0, 0]);
  assert.deepEqual((await cleanFile(unpadded)).data, riff(VP8L));
});

test("WebP: hostile files give typed errors", async () => {
  // RIFF size beyond the file; below 4; a chunk beyond the RIFF size
  await rejectsWith(cat("RIFF", le32(1000), "WEBP", VP8L), "truncated");
  await rejectsWith(cat("RIFF", le32(2), "WEBP", VP8L), "malformed");
  await rejectsWith(cat("RIFF", le32(4 + 8), "WEBP", "VP8L", le32(0xfffffff0), new Uint8Array(8)), "truncated");
  // no chunk; an unknown first chunk; VP8X without a picture; VP8X of a wrong size
  await rejectsWith(riff(), "malformed");
  await rejectsWith(riff(XMP_CHUNK, VP8L), "malformed");
  await rejectsWith(riff(vp8x(0), EXIF_CHUNK(1, true)), "malformed");
  await rejectsWith(riff(rchunk("VP8X", [0, 0, 0, 0, 0, 0, 0, 0]), VP8L), "malformed");
  await rejectsWith(riff(vp8x(2), rchunk("ANIM", [0, 0]), ANMF(VP8L)), "malformed");
  // animation flag and chunks that disagree
  await rejectsWith(riff(vp8x(2), ANMF(VP8L)), "malformed"); // no ANIM
  await rejectsWith(riff(vp8x(2), ANIM, ANIM, ANMF(VP8L)), "malformed");
  await rejectsWith(riff(vp8x(2), ANMF(VP8L), ANIM), "malformed");
  await rejectsWith(riff(vp8x(2), ANIM), "malformed"); // no frame
  await rejectsWith(riff(vp8x(2), ANIM, ANMF(VP8L), VP8L), "malformed");
  await rejectsWith(riff(vp8x(0), ANIM, ANMF(VP8L)), "malformed"); // frames, no flag
  await rejectsWith(riff(vp8x(0), VP8L, VP8), "malformed"); // two pictures
  // a frame: too short, without a picture, with two, a sub-chunk lying about its size
  await rejectsWith(riff(vp8x(2), ANIM, rchunk("ANMF", [0, 0, 0])), "malformed");
  await rejectsWith(riff(vp8x(2), ANIM, ANMF(ALPH)), "malformed");
  await rejectsWith(riff(vp8x(2), ANIM, ANMF(VP8L, VP8)), "malformed");
  await rejectsWith(
    riff(vp8x(2), ANIM, rchunk("ANMF", cat(new Uint8Array(16), "VP8L", le32(1000), [0x2f, 0, 0, 0]))),
    "truncated",
  );
  // picture chunks that are not pictures; empty chunks
  await rejectsWith(riff(rchunk("VP8L", [0x2e, 0, 0, 0, 0])), "malformed");
  await rejectsWith(riff(rchunk("VP8L", [])), "malformed");
  await rejectsWith(riff(rchunk("VP8 ", [0x10, 0x02, 0x00, 0x9d, 0x01, 0x2b, 0, 0, 0, 0])), "malformed");
  await rejectsWith(riff(vp8x(0x10), rchunk("ALPH", []), VP8), "malformed");
  await rejectsWith(riff(vp8x(2), ANIM, ANMF(rchunk("VP8L", [1, 2, 3, 4, 5]))), "malformed");
  // zero-size unknown chunks are dropped
  assert.deepEqual((await cleanFile(riff(vp8x(0), rchunk("ZERO", []), VP8L, rchunk("EXIF", [])))).data,
    riff(rchunk("VP8X", [0, 0, 0, 0, 9, 0, 0, 9, 0, 0]), VP8L));
  // a chunk header cut off inside the RIFF
  await rejectsWith(cat("RIFF", le32(4 + 4), "WEBP", "VP8L"), "truncated");
  for (let i = 12; i < WEBP_ANIMATED.length; i++) {
    const cut = Uint8Array.from(WEBP_ANIMATED.subarray(0, i));
    // keep the RIFF size honest so the cut shows inside the chunks
    cut.set(le32(i - 8), 4);
    await cleanOrCode(cut);
  }
});

// ---------------------------------------------------------------------------------------
// GIF

function subBlocks(data) {
  const d = typeof data === "string" ? enc.encode(data) : Uint8Array.from(data);
  const parts = [];
  for (let i = 0; i < d.length; i += 255) {
    const piece = d.subarray(i, i + 255);
    parts.push([piece.length], piece);
  }
  return cat(...parts, [0]);
}
const GIF_HEAD = cat("GIF89a", le16(2), le16(2), [0x80, 0, 0], [0, 0, 0, 255, 255, 255]); // 2-colour table
const GCE = cat([0x21, 0xf9, 4, 0x05, 10, 0, 0, 0]);
const LOOP = cat([0x21, 0xff, 11], "NETSCAPE2.0", [3, 1, 0, 0, 0]);
const IMAGE = cat([0x2c], le16(0), le16(0), le16(2), le16(2), [0], [2], subBlocks([0x84, 0x8f, 0x02]));
const IMAGE_LCT = cat([0x2c], le16(0), le16(0), le16(2), le16(2), [0x80], [1, 2, 3, 4, 5, 6], [2], subBlocks([0x84, 0x8f, 0x02]));
const GIF_COMMENT = cat([0x21, 0xfe], subBlocks("CANARY-COMMENT ".repeat(30)));
const GIF_XMP = cat([0x21, 0xff, 11], "XMP DataXMP", subBlocks("<x:xmpmeta>CANARY</x:xmpmeta>"));
const GIF_TEXT = cat([0x21, 0x01], subBlocks(cat(new Uint8Array(12), "CANARY")));
const GIF_PLAIN = cat(GIF_HEAD, LOOP, GCE, IMAGE, GCE, IMAGE_LCT, [0x3b]);

test("GIF: comments, XMP and plain text dropped; images, timing and loop kept", async () => {
  const loopWithBuffering = cat([0x21, 0xff, 11], "NETSCAPE2.0", [3, 1, 0, 0], [5, 2, 0, 0, 0, 0], [0]);
  const dirty = cat(GIF_HEAD, GIF_COMMENT, loopWithBuffering, GIF_XMP, GCE, IMAGE, GIF_TEXT, GCE, IMAGE_LCT, GIF_COMMENT, [0x3b], "CANARY-TRAILER");
  const { data, status, mediaType, orientation } = await cleanFile(dirty);
  assert.equal(status, "cleaned");
  assert.equal(mediaType, "image/gif");
  assert.equal(orientation, null);
  assert.deepEqual(data, GIF_PLAIN);
  assert.ok(!contains(data, "CANARY"));
  assert.deepEqual((await cleanFile(GIF_PLAIN)).data, GIF_PLAIN);
  // a file that stops where the trailer would be gets it
  assert.deepEqual((await cleanFile(GIF_PLAIN.subarray(0, GIF_PLAIN.length - 1))).data, GIF_PLAIN);
});

test("GIF: XMP as written by Adobe (raw text and the 'magic trailer') is dropped", async () => {
  const descending = Array.from({ length: 256 }, (_, i) => 255 - i);
  for (const xmp of ["<x:xmpmeta>CANARY</x:xmpmeta>", `<?xpacket begin="\ufeff"?><x:xmpmeta>${"CANARY ".repeat(200)}</x:xmpmeta>`]) {
    const raw = cat([0x21, 0xff, 11], "XMP DataXMP", xmp, [1], descending, [0]);
    const { data } = await cleanFile(cat(GIF_HEAD, raw, LOOP, GCE, IMAGE, GCE, IMAGE_LCT, [0x3b]));
    assert.deepEqual(data, GIF_PLAIN);
  }
});

test("GIF: hostile files give typed errors", async () => {
  await rejectsWith(cat(GIF_HEAD, [0x3b]), "malformed"); // no image
  await rejectsWith(GIF_HEAD, "truncated");
  await rejectsWith(cat(GIF_HEAD, [0x99], IMAGE, [0x3b]), "malformed"); // unknown block
  await rejectsWith(cat(GIF_HEAD, [0x21, 0xf9, 5, 0, 0, 0, 0, 0, 0], IMAGE, [0x3b]), "malformed");
  await rejectsWith(cat(GIF_HEAD, cat([0x2c], new Uint8Array(8), [0], [0]), subBlocks([1]), [0x3b]), "malformed");
  await rejectsWith(cat("GIF89a", le16(2), le16(2), [0x87, 0, 0], new Uint8Array(30)), "truncated");
  await rejectsWith(cat(GIF_HEAD, [0x2c], le16(0), le16(0), le16(2), le16(2), [0], [2], [200, 1, 2]), "truncated");
  const plain = cat(GIF_HEAD, GIF_COMMENT, LOOP, GCE, IMAGE, [0x3b]);
  for (let i = 6; i < plain.length - 1; i++) {
    const outcome = await cleanOrCode(plain.subarray(0, i));
    assert.ok(outcome.code !== undefined, `prefix of ${i} bytes was cleaned`);
  }
});

// ---------------------------------------------------------------------------------------
// TIFF

// A TIFF built from directories of [tag, type, values (array of numbers, or bytes for
// BYTE/ASCII/UNDEFINED)], each with its strips; offsets (273) and counts (279) are filled in.
function tiffFile(little, pages, { tail = [], tiles = false } = {}) {
  const [offsetsTag, countsTag] = tiles ? [324, 325] : [273, 279];
  const w16 = little ? le16 : be16;
  const w32 = little ? le32 : be32;
  const size = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1 };
  const chunks = [little ? "II" : "MM", w16(42), w32(8)];
  let at = 8;
  const layouts = [];
  // sizes first: directory, out-of-line values, strips
  for (const { entries, strips } of pages) {
    const all = [...entries, [offsetsTag, 4, strips.map(() => 0)], [countsTag, 4, strips.map((s) => s.length)]].sort((x, y) => x[0] - y[0]);
    const ifdAt = at;
    at += 2 + 12 * all.length + 4;
    const valueAt = new Map();
    for (const entry of all) {
      const bytes = size[entry[1]] * (entry[1] === 5 ? entry[2].length / 2 : entry[2].length);
      if (bytes > 4) {
        valueAt.set(entry, at);
        at += bytes + (bytes & 1);
      }
    }
    const stripAt = strips.map((s) => {
      const here = at;
      at += s.length + (s.length & 1); // each piece on an even offset
      return here;
    });
    all.find((e) => e[0] === offsetsTag)[2] = stripAt;
    layouts.push({ all, ifdAt, valueAt, strips });
  }
  layouts.forEach(({ all, ifdAt, valueAt, strips }, p) => {
    const values = (entry) => {
      const [, type, v] = entry;
      if (type === 1 || type === 2 || type === 7) return Uint8Array.from(v);
      if (type === 3) return cat(...v.map(w16));
      return cat(...v.map(w32)); // LONG, and RATIONAL as pairs of LONG
    };
    const ifd = [w16(all.length)];
    const data = [];
    for (const entry of all) {
      const bytes = values(entry);
      const count = entry[1] === 5 ? entry[2].length / 2 : entry[2].length;
      ifd.push(w16(entry[0]), w16(entry[1]), w32(count));
      if (bytes.length > 4) {
        ifd.push(w32(valueAt.get(entry)));
        data.push(bytes, bytes.length & 1 ? [0] : []);
      } else {
        ifd.push(cat(bytes, new Uint8Array(4 - bytes.length)));
      }
    }
    ifd.push(w32(p + 1 < layouts.length ? layouts[p + 1].ifdAt : 0));
    chunks.push(...ifd, ...data, ...strips.map((strip) => cat(strip, strip.length & 1 ? [0] : [])));
  });
  return cat(...chunks, tail);
}
const TIFF_PICTURE = [
  [256, 3, [2]], [257, 3, [2]], [258, 3, [8, 8, 8]], [259, 3, [1]], [262, 3, [2]],
  [277, 3, [3]], [278, 3, [2]], [282, 5, [300, 1]], [283, 5, [300, 1]], [296, 3, [2]],
];
const TIFF_META = [
  [270, 2, [...enc.encode("CANARY-DESCRIPTION"), 0]], [271, 2, [...enc.encode("CANARY-MAKE"), 0]],
  [305, 2, [...enc.encode("CANARY-SOFTWARE"), 0]], [306, 2, [...enc.encode("2019:05:17 09:12:44"), 0]],
  [700, 7, [...enc.encode("<x:xmpmeta>CANARY</x:xmpmeta>")]], [34665, 4, [8]], [34853, 4, [8]],
  [34675, 7, [...enc.encode("CANARY-ICC-PROFILE")]], [50000, 7, [...enc.encode("CANARY-PRIVATE")]],
];
const STRIP = Uint8Array.from({ length: 12 }, (_, i) => i * 20);

test("TIFF: metadata tags dropped, picture tags and strips kept, orientation read", async () => {
  for (const little of [true, false]) {
    const plain = tiffFile(little, [{ entries: TIFF_PICTURE, strips: [STRIP.subarray(0, 6), STRIP.subarray(6)] }]);
    const dirty = tiffFile(
      little,
      [
        { entries: [...TIFF_PICTURE, ...TIFF_META, [274, 3, [6]]], strips: [STRIP.subarray(0, 6), STRIP.subarray(6)] },
        { entries: [...TIFF_PICTURE, [274, 3, [3]]], strips: [STRIP] },
      ],
      { tail: enc.encode("CANARY-UNREFERENCED") },
    );
    const { data, orientation, mediaType, status } = await cleanFile(dirty);
    assert.equal(mediaType, "image/tiff");
    assert.equal(status, "cleaned");
    assert.equal(orientation, 6);
    assert.ok(!contains(data, "CANARY"));
    const twoPages = tiffFile(little, [
      { entries: TIFF_PICTURE, strips: [STRIP.subarray(0, 6), STRIP.subarray(6)] },
      { entries: TIFF_PICTURE, strips: [STRIP] },
    ]);
    assert.deepEqual(data, twoPages);
    assert.deepEqual((await cleanFile(plain)).data, plain);
    assert.deepEqual((await cleanFile(data)).data, data);
  }
});

test("TIFF: tiled pages keep their tiles", async () => {
  const tiled = TIFF_PICTURE.filter((e) => e[0] !== 278).concat([[322, 3, [16]], [323, 3, [16]]]);
  const tiles = [STRIP, STRIP.subarray(1), new Uint8Array(0), STRIP.subarray(5)];
  for (const little of [true, false]) {
    const plain = tiffFile(little, [{ entries: tiled, strips: tiles }], { tiles: true });
    const dirty = tiffFile(little, [{ entries: [...tiled, ...TIFF_META], strips: tiles }], { tiles: true });
    assert.deepEqual((await cleanFile(dirty)).data, plain);
  }
});

test("TIFF: hostile files give typed errors", async () => {
  const page = { entries: TIFF_PICTURE, strips: [STRIP] };
  const good = tiffFile(true, [page]);
  // a directory pointing at itself; beyond the end; a count beyond the end
  const loop = tiffFile(true, [page, page]);
  const firstCount = 12; // entries of TIFF_PICTURE + 2
  loop.set(le32(8), 8 + 2 + 12 * firstCount);
  const second = Uint8Array.from(loop);
  second.set(le32(8), 8 + 2 + 12 * firstCount); // first -> first
  await rejectsWith(second, "malformed");
  const beyond = Uint8Array.from(good);
  beyond.set(le32(0xfffffff0), 4);
  await rejectsWith(beyond, "truncated");
  const many = Uint8Array.from(good);
  many.set(le16(0xffff), 8);
  await rejectsWith(many, "truncated");
  // strips beyond the end; offsets and counts of different lengths; no strips
  await rejectsWith(good.subarray(0, good.length - 1), "truncated");
  await rejectsWith(tiffFile(true, [{ entries: [...TIFF_PICTURE, [324, 4, [8]]], strips: [STRIP] }]), "malformed");
  // the same strip many times over (a small file asking for a large copy)
  const bomb = tiffFile(true, [{ entries: TIFF_PICTURE.filter((e) => e[0] !== 278), strips: Array(5000).fill(STRIP) }]);
  const view = new DataView(bomb.buffer);
  // point every strip at the first one
  const ifdCount = view.getUint16(8, true);
  for (let i = 0; i < ifdCount; i++) {
    const e = 8 + 2 + 12 * i;
    if (view.getUint16(e, true) === 273) {
      const at = view.getUint32(e + 8, true);
      const first = view.getUint32(at, true);
      for (let k = 0; k < 5000; k++) view.setUint32(at + 4 * k, first, true);
    }
  }
  await rejectsWith(bomb.subarray(0, bomb.length - 4999 * STRIP.length), "malformed");
  // a kept tag of an unknown type; a tag twice; BigTIFF; old-style JPEG
  await rejectsWith(tiffFile(true, [{ entries: [...TIFF_PICTURE, [284, 99, [1]]], strips: [STRIP] }]), "malformed");
  await rejectsWith(tiffFile(true, [{ entries: [...TIFF_PICTURE, [256, 3, [2]]], strips: [STRIP] }]), "malformed");
  // BigTIFF is not taken for TIFF (as in vault/scrub.py): sent only if the witness agrees
  assert.equal((await cleanFile(cat("II", le16(43), le16(8), le16(0), le32(16), le32(0)))).status, "unsupported");
  const oldJpeg = TIFF_PICTURE.map((e) => (e[0] === 259 ? [259, 3, [6]] : e));
  await rejectsWith(tiffFile(false, [{ entries: oldJpeg, strips: [STRIP] }]), "unsupported");
  await rejectsWith(cat("II*\0", le32(0)), "malformed"); // no directory
  for (let i = 4; i < good.length; i++) {
    const outcome = await cleanOrCode(good.subarray(0, i));
    assert.ok(outcome.code !== undefined, `prefix of ${i} bytes was cleaned`);
  }
});

// ---------------------------------------------------------------------------------------
// sniff and cleanFile for other types

test("sniff recognises types by content alone", () => {
  const s = (...parts) => sniff(cat(...parts));
  assert.equal(s([0xff, 0xd8, 0xff, 0xe0]), "image/jpeg");
  assert.equal(s(PNG_SIG), "image/png");
  assert.equal(s(riff(VP8L)), "image/webp");
  assert.equal(s("GIF89a", [1, 0]), "image/gif");
  assert.equal(s("GIF87a"), "image/gif");
  assert.equal(s("II*\0", le32(8)), "image/tiff");
  assert.equal(s("MM\0*", be32(8)), "image/tiff");
  assert.equal(s("%PDF-1.7\n"), "application/pdf");
  assert.equal(s(be32(24), "ftypheic", be32(0), "mif1heic"), "image/heic");
  assert.equal(s(be32(16), "ftypmif1", be32(0)), "image/heic");
  assert.equal(s(be32(24), "ftypavif", be32(0), "mif1miaf"), "image/avif");
  assert.equal(s(be32(24), "ftypisom", be32(0), "isomavc1"), "video/mp4");
  assert.equal(s(be32(20), "ftypqt  ", be32(0), "qt  "), "video/quicktime");
  assert.equal(s("A note about my brother.\nНурлан, 1987.\n"), "text/plain");
  assert.equal(s("\ufeff  Ілгері\r\n"), "text/plain");
  assert.equal(s("  <svg xmlns='http://www.w3.org/2000/svg'/>"), "application/octet-stream");
  assert.equal(s("Received: from x\nSubject: y\n\nbody"), "message/rfc822");
  assert.equal(s("From: a@example.org\nTo: b@example.org\n\nbody"), "message/rfc822");
  assert.equal(s("From: my mother\nTo: the court\n\nbody"), "text/plain");
  assert.equal(s("text\0with a NUL"), "application/octet-stream");
  assert.equal(s([0x61, 0xc3, 0x28]), "application/octet-stream"); // invalid UTF-8
  assert.equal(s(""), "application/octet-stream");
  assert.equal(s([0xff, 0xd8]), "application/octet-stream");
  assert.equal(s("RIFF", le32(4), "WAVE"), "application/octet-stream");
});

function zip(entries) {
  // stored entries, with a central directory
  const locals = [];
  const central = [];
  let offset = 0;
  for (const [name, content] of entries) {
    const n = enc.encode(name);
    const c = enc.encode(content);
    const local = cat("PK\x03\x04", le16(20), le16(0), le16(0), le16(0), le16(0), le32(0), le32(c.length), le32(c.length), le16(n.length), le16(0), n, c);
    central.push(cat("PK\x01\x02", le16(20), le16(20), le16(0), le16(0), le16(0), le16(0), le32(0), le32(c.length), le32(c.length), le16(n.length), le16(0), le16(0), le16(0), le16(0), le32(0), le32(offset), n));
    locals.push(local);
    offset += local.length;
  }
  const dir = cat(...central);
  return cat(...locals, dir, "PK\x05\x06", le16(0), le16(0), le16(entries.length), le16(entries.length), le32(dir.length), le32(offset), le16(0));
}

test("sniff: office documents by their parts", () => {
  assert.equal(sniff(zip([["mimetype", "application/vnd.oasis.opendocument.text"], ["content.xml", "<x/>"]])), "application/vnd.oasis.opendocument.text");
  assert.equal(sniff(zip([["[Content_Types].xml", "<x/>"], ["word/document.xml", "<x/>"]])), "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
  assert.equal(sniff(zip([["[Content_Types].xml", "<x/>"], ["xl/workbook.xml", "<x/>"]])), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
  assert.equal(sniff(zip([["[Content_Types].xml", "<x/>"], ["ppt/presentation.xml", "<x/>"]])), "application/vnd.openxmlformats-officedocument.presentationml.presentation");
  assert.equal(sniff(zip([["a.txt", "hello"]])), "application/zip");
  // a central directory offset that lies
  const lying = zip([["[Content_Types].xml", "<x/>"], ["word/document.xml", "<x/>"]]);
  lying.set(le32(0xfffffff0), lying.length - 6);
  assert.equal(sniff(lying), "application/zip");
});

test("cleanFile: other types come back unchanged and unsupported; text is clean as it is", async () => {
  for (const bytes of [cat("%PDF-1.4\n/Author (CANARY)"), cat("PK\x03\x04", new Uint8Array(40)), cat(be32(24), "ftypheic", be32(0), "mif1heic"), cat([1, 2, 3])]) {
    const result = await cleanFile(new Blob([bytes]));
    assert.equal(result.status, "unsupported");
    assert.deepEqual(result.data, bytes);
    assert.equal(result.orientation, null);
    assert.equal(result.sha256Before, sha256(bytes));
    assert.equal(result.sha256After, sha256(bytes));
  }
  const note = enc.encode("Менің ағам 2017 жылы ұсталды.\n");
  const text = await cleanFile(new Blob([note]));
  assert.equal(text.status, "cleaned");
  assert.equal(text.mediaType, "text/plain");
  assert.deepEqual(text.data, note);
  const mail = await cleanFile(enc.encode("Received: from mx\nFrom: a@b.c\n\nhi"));
  assert.equal(mail.status, "unsupported");
  assert.equal(mail.mediaType, "message/rfc822");
});

test("cleanFile: sha256Before and sha256After are those of the bytes", async () => {
  const dirty = jpeg(EXIF_APP1(1, true), DQT, SOF0, DHT, SOS, ENTROPY, EOI);
  const result = await cleanFile(new Blob([dirty]));
  assert.equal(result.sha256Before, sha256(dirty));
  assert.equal(result.sha256After, sha256(result.data));
  assert.match(result.sha256After, /^[0-9a-f]{64}$/);
  assert.notEqual(result.sha256Before, result.sha256After);
});

test("clean.js runs with JIT and WebAssembly off (node --jitless, as Tor Browser at Safer)", () => {
  const module = new URL("../src/clean.js", import.meta.url).href;
  const file = Array.from(jpeg(JFIF_THUMB, EXIF_APP1(6, false), XMP, DQT, SOF2, DHT, SOS, ENTROPY, EOI));
  const script = `
    if (typeof WebAssembly !== "undefined") throw new Error("WebAssembly is on");
    const { cleanFile } = await import(${JSON.stringify(module)});
    const result = await cleanFile(Uint8Array.from(${JSON.stringify(file)}));
    process.stdout.write(JSON.stringify({ status: result.status, orientation: result.orientation, data: Array.from(result.data) }));
  `;
  const out = execFileSync(process.execPath, ["--jitless", "--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  const result = JSON.parse(out.toString());
  assert.equal(result.status, "cleaned");
  assert.equal(result.orientation, 6);
  assert.deepEqual(Uint8Array.from(result.data), jpeg(JFIF, DQT, SOF2, DHT, SOS, ENTROPY, EOI));
});

test("sniff: text formats that hold their own metadata are not plain text", async () => {
  const s = (text) => sniff(enc.encode(text));
  const rtf = "{\\rtf1\\ansi{\\info{\\author CANARY USER}{\\operator CANARY}{\\creatim\\yr2024\\mo3\\dy1}}\\pard Text.\\par}";
  assert.equal(s(rtf), "application/rtf");
  assert.equal(s("\ufeff \n" + rtf), "application/rtf");
  assert.equal(s("%!PS-Adobe-3.0\n%%Creator: CANARY\n%%For: (canary)\n%%CreationDate: today\n"), "application/postscript");
  assert.equal(s("%!PS-Adobe-3.0 EPSF-3.0\n%%For: canary\n"), "application/postscript");
  assert.equal(s("BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//CANARY\r\nPHOTO;ENCODING=b:/9j/\r\nEND:VCARD\r\n"), "text/x-vcard");
  assert.equal(s("BEGIN:VCALENDAR\r\nPRODID:-//CANARY\r\nBEGIN:VEVENT\r\nUID:1@canary-laptop\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"), "text/calendar");
  // words that merely begin so are still notes
  assert.equal(s("{rtf} is a word here\n"), "text/plain");
  assert.equal(s("% of the village: all\n"), "text/plain");
  assert.equal(s("Begin: vcard\n"), "text/plain");
  const result = await cleanFile(enc.encode(rtf));
  assert.equal(result.status, "unsupported");
  assert.equal(result.mediaType, "application/rtf");
  assert.deepEqual(result.data, enc.encode(rtf));
});

test("TIFF: JPEG-compressed strips and tiles, and JPEGTables, are cleaned as JPEG files are", async () => {
  const jpegPicture = TIFF_PICTURE.map((e) => (e[0] === 259 ? [259, 3, [7]] : e[0] === 262 ? [262, 3, [6]] : e));
  // abbreviated streams, as libtiff writes them: tables apart, each strip a frame and a scan
  const plainStrip = jpeg(SOF0, SOS, ENTROPY, EOI);
  const dirtyStrip = jpeg(EXIF_APP1(6, true), XMP, ICC, IPTC, COM, SOF0, COM, SOS, ENTROPY, EOI, "CANARY-AFTER-EOI");
  const plainTables = jpeg(DQT, DHT, EOI);
  const dirtyTables = jpeg(COM, DQT, XMP, DHT, EOI);
  for (const little of [true, false]) {
    for (const compression of [7, 34892]) {
      const picture = jpegPicture.map((e) => (e[0] === 259 ? [259, 3, [compression]] : e));
      const plain = tiffFile(little, [{ entries: [...picture, [347, 7, [...plainTables]]], strips: [plainStrip, plainStrip] }]);
      const dirty = tiffFile(little, [{ entries: [...picture, [347, 7, [...dirtyTables]]], strips: [dirtyStrip, plainStrip] }]);
      const { data, status } = await cleanFile(dirty);
      assert.equal(status, "cleaned");
      assert.ok(!contains(data, "CANARY"), `compression ${compression}: metadata inside the JPEG pieces survived`);
      assert.deepEqual(data, plain);
      assert.deepEqual((await cleanFile(plain)).data, plain);
    }
    // tiles, and a compression tag written as LONG
    const tiled = jpegPicture.filter((e) => e[0] !== 278 && e[0] !== 259).concat([[259, 4, [7]], [322, 3, [16]], [323, 3, [16]]]);
    const { data } = await cleanFile(tiffFile(little, [{ entries: tiled, strips: [dirtyStrip, dirtyStrip] }], { tiles: true }));
    assert.ok(!contains(data, "CANARY"));
    assert.deepEqual(data, tiffFile(little, [{ entries: tiled, strips: [plainStrip, plainStrip] }], { tiles: true }));
  }
  // a JPEG piece that is not a JPEG stream, and tables holding a picture, are refused
  await rejectsWith(tiffFile(true, [{ entries: jpegPicture, strips: [STRIP] }]), "malformed");
  await rejectsWith(tiffFile(true, [{ entries: [...jpegPicture, [347, 7, [...PLAIN]]], strips: [plainStrip] }]), "malformed");
});
