// The audit log as a witness sees it (docs/FORMAT.md §9): RFC 9162 Merkle inclusion
// proofs, C2SP checkpoints, canonical entries and tlog-proof receipts (vault/tlog/,
// vault/events.py, vault/audit.py). A receipt shows, offline and with nothing but the log
// key from the organization's roster, that the log signed a tree holding the submission.
//
// Sizes and indexes are up to 2^64 − 1, so they are BigInts inside; results give Numbers.

import { sha256 } from "@noble/hashes/sha2.js";
import { b64, concat, equal, fromB64, utf8, wellFormed } from "./bytes.js";
import { NoteError, parseKeyHalves, verifyNote } from "./note.js";

export const RECEIPT_HEADER = "c2sp.org/tlog-proof@v1";
export const MAX_RECEIPT_BYTES = 64 * 1024;
const MAX_PROOF_HASHES = 64;
const MAX_TREE_SIZE = 2n ** 64n - 1n;
const MAX_INDEX = 2n ** 64n - 2n;
const EMPTY_ROOT = sha256(new Uint8Array(0));
const EVENT_HEADER = "amanat/event/v1";
const EVENT_FIELDS = {
  submission: [["id", "sha256", "size"]],
  access: [["id", "investigator"]],
  deletion: [["id", "investigator"]],
  reply: [["id", "sha256", "size"], ["id", "sha256", "size", "investigator"]],
  roster: [["version", "sha256"]],
};

export class ReceiptError extends Error {
  // codes: "malformed" (receipt text), "entry" (not a canonical submission entry),
  // "checkpoint" (malformed, or of another log), "signature" (not signed by the log key),
  // "proof" (the entry is not at that index in that tree), "vkey" (the log key is malformed)
  constructor(code, message) {
    super(message);
    this.name = "ReceiptError";
    this.code = code;
  }
}

function toBig(value) {
  return typeof value === "bigint" ? value : BigInt(value);
}

function toNumber(value) {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** SHA-256(0x00 || entry). */
export function leafHash(entry) {
  return sha256(concat(Uint8Array.of(0), entry));
}

/** SHA-256(0x01 || left || right). */
export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

function bitLength(n) {
  return n === 0n ? 0 : n.toString(2).length;
}

function popCount(n) {
  let count = 0;
  for (const c of n.toString(2)) if (c === "1") count++;
  return count;
}

/** The number of hashes proving leaf `index` in a tree of `size` (RFC 9162 §2.1.3). */
export function inclusionProofSize(index, size) {
  const i = toBig(index);
  const n = toBig(size);
  if (!(i >= 0n && i < n)) throw new ReceiptError("proof", "the leaf index is outside the tree");
  const inner = bitLength(i ^ (n - 1n));
  return inner + popCount(i >> BigInt(inner));
}

/**
 * Check that `leaf` (a leaf hash) is at `index` in the tree of `size` with `root`; throws
 * ReceiptError("proof") otherwise. Every hash must be 32 bytes; the proof must have exactly
 * the number of hashes index and size call for.
 */
export function verifyInclusion(index, size, leaf, proof, root) {
  const i = toBig(index);
  const n = toBig(size);
  for (const h of [leaf, root, ...proof]) {
    if (!(h instanceof Uint8Array) || h.length !== 32) throw new ReceiptError("proof", "a hash is not 32 bytes");
  }
  if (!(i >= 0n && i < n)) throw new ReceiptError("proof", "the leaf index is outside the tree");
  if (proof.length !== inclusionProofSize(i, n)) {
    throw new ReceiptError("proof", "the inclusion proof has the wrong number of hashes");
  }
  let fn = i;
  let sn = n - 1n;
  let result = leaf;
  for (const value of proof) {
    if ((fn & 1n) === 1n || fn === sn) {
      result = nodeHash(value, result);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      result = nodeHash(result, value);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (!equal(result, root)) throw new ReceiptError("proof", "the inclusion proof does not lead to the root");
  return true;
}

function decimal(text, max, what) {
  if (!/^(0|[1-9][0-9]*)$/.test(text) || text.length > 20) {
    throw new ReceiptError("malformed", `${what} is not a decimal number without leading zeros`);
  }
  const value = BigInt(text);
  if (value > max) throw new ReceiptError("malformed", `${what} is beyond any possible tree`);
  return value;
}

/** Parse a checkpoint body (the note text): `{origin, size (BigInt), rootHash, extensions}`. */
export function parseCheckpoint(text) {
  const bad = (message) => new ReceiptError("checkpoint", message);
  if (!text.endsWith("\n")) throw bad("a checkpoint ends with a newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) throw bad("a checkpoint has an origin, a tree size and a root hash");
  const [origin, sizeText, rootText, ...extensions] = lines;
  for (const line of [origin, ...extensions]) {
    // eslint-disable-next-line no-control-regex
    if (line === "" || /[\x00-\x1f]/.test(line)) throw bad("a checkpoint line is empty or holds a control character");
  }
  let size;
  let rootHash;
  try {
    size = decimal(sizeText, MAX_TREE_SIZE, "the tree size");
    rootHash = fromB64(rootText);
  } catch {
    throw bad("the checkpoint's tree size or root hash is malformed");
  }
  if (rootHash.length !== 32) throw bad("the root hash is not 32 bytes");
  if (size === 0n && !equal(rootHash, EMPTY_ROOT)) throw bad("an empty tree has the empty root");
  return { origin, size, rootHash, extensions };
}

/** Parse canonical event text (vault/events.py): `{kind, time, fields: [[name, value]…]}`. */
export function parseEntry(text) {
  const bad = (message) => new ReceiptError("entry", message);
  if (typeof text !== "string" || !/^[\x00-\x7f]*$/.test(text)) throw bad("event text is ASCII");
  if (!text.endsWith("\n")) throw bad("event text ends with a newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3 || lines[0] !== EVENT_HEADER) throw bad(`event text starts with ${EVENT_HEADER}`);
  const pairs = lines.slice(1).map((line) => {
    const space = line.indexOf(" ");
    if (space < 0) throw bad("each event line is 'name value'");
    return [line.slice(0, space), line.slice(space + 1)];
  });
  if (pairs[0][0] !== "kind" || pairs[1][0] !== "time") throw bad("event text gives kind, then time");
  const kind = pairs[0][1];
  const time = pairs[1][1];
  const fields = pairs.slice(2);
  const allowed = EVENT_FIELDS[kind];
  if (!Object.hasOwn(EVENT_FIELDS, kind)) throw bad("unknown event kind");
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):00Z$/.exec(time);
  if (!m) throw bad("event time is YYYY-MM-DDTHH:00Z");
  const [y, mo, d, h] = m.slice(1).map(Number);
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  if (y < 1 || h > 23 || date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) {
    throw bad("event time is not a real date and hour");
  }
  const names = fields.map(([name]) => name).join(" ");
  if (!allowed.some((list) => list.join(" ") === names)) throw bad(`a ${kind} event has other fields`);
  for (const [, value] of fields) {
    if (!/^[\x21-\x7e]{1,200}$/.test(value)) throw bad("an event field is 1 to 200 printable ASCII characters");
  }
  return { kind, time, fields };
}

/** Parse a tlog-proof receipt: `{index (BigInt), proof, checkpoint (text), extra}`. */
export function parseReceipt(text) {
  const bad = (message) => new ReceiptError("malformed", message);
  if (typeof text !== "string" || !wellFormed(text)) throw bad("a receipt is text");
  if (utf8(text).length > MAX_RECEIPT_BYTES) throw bad("the receipt is larger than 64 KiB");
  const split = text.indexOf("\n\n");
  if (split < 0) throw bad("the receipt has no blank line before its checkpoint");
  const lines = text.slice(0, split).split("\n");
  const checkpoint = text.slice(split + 2);
  if (lines[0] !== RECEIPT_HEADER) throw bad(`a receipt starts with ${RECEIPT_HEADER}`);
  let position = 1;
  let extra = null;
  if (position < lines.length && lines[position].startsWith("extra ")) {
    try {
      extra = fromB64(lines[position].slice(6));
    } catch {
      throw bad("the receipt's extra data is not canonical base64");
    }
    if (extra.length === 0) throw bad("the receipt's extra line is empty");
    position += 1;
  }
  if (position >= lines.length || !lines[position].startsWith("index ")) throw bad("the receipt lacks its index line");
  const index = decimal(lines[position].slice(6), MAX_INDEX, "the receipt index");
  const hashLines = lines.slice(position + 1);
  if (hashLines.length > MAX_PROOF_HASHES) throw bad("an inclusion proof has at most 64 hashes");
  const proof = hashLines.map((line) => {
    let value;
    try {
      value = fromB64(line);
    } catch {
      throw bad("an inclusion proof line is not canonical base64");
    }
    if (value.length !== 32) throw bad("an inclusion proof hash is not 32 bytes");
    return value;
  });
  if (checkpoint === "" || checkpoint.startsWith("\n")) throw bad("the receipt has no checkpoint");
  return { index, proof, checkpoint, extra };
}

function formatReceipt({ index, proof, checkpoint, extra }) {
  const lines = [RECEIPT_HEADER];
  if (extra !== null) lines.push("extra " + b64(extra));
  lines.push(`index ${index}`);
  for (const h of proof) lines.push(b64(h));
  return lines.join("\n") + "\n\n" + checkpoint;
}

/**
 * Verify the server's receipt for the submission entry `entryText` under the log key
 * `logVkeyText` (from the verified roster). Returns `{index, size, rootHash}`.
 */
export function verifyReceipt(receiptText, logVkeyText, entryText) {
  let halves;
  try {
    halves = parseKeyHalves(logVkeyText);
  } catch {
    throw new ReceiptError("vkey", "the log key is malformed");
  }
  const entry = parseEntry(entryText);
  if (entry.kind !== "submission") throw new ReceiptError("entry", "the entry is not a submission");
  const receipt = parseReceipt(receiptText);
  if (receipt.extra !== null && !equal(receipt.extra, utf8(entryText))) {
    throw new ReceiptError("entry", "the receipt's extra line names another entry");
  }
  let opened;
  try {
    opened = verifyNote(receipt.checkpoint, halves, { requireAll: true });
  } catch (error) {
    if (error instanceof NoteError && ["unverified", "forged", "missing"].includes(error.code)) {
      throw new ReceiptError("signature", "the checkpoint is not signed by the log key");
    }
    throw new ReceiptError("checkpoint", "the checkpoint is not a well-formed signed note");
  }
  const checkpoint = parseCheckpoint(opened.text);
  if (checkpoint.origin !== halves[0].name) throw new ReceiptError("checkpoint", "the checkpoint is from another log");
  if (receipt.index >= checkpoint.size) throw new ReceiptError("proof", "the index is outside the signed tree");
  verifyInclusion(receipt.index, checkpoint.size, leafHash(utf8(entryText)), receipt.proof, checkpoint.rootHash);
  return { index: toNumber(receipt.index), size: toNumber(checkpoint.size), rootHash: checkpoint.rootHash };
}

/** The receipt file a witness keeps: the receipt with the entry in its `extra` line. */
export function receiptFile(receiptText, entryText) {
  const entry = parseEntry(entryText);
  if (entry.kind !== "submission") throw new ReceiptError("entry", "a receipt is for a submission");
  const receipt = parseReceipt(receiptText);
  const data = utf8(entryText);
  if (receipt.extra !== null && !equal(receipt.extra, data)) {
    throw new ReceiptError("malformed", "the receipt already carries other extra data");
  }
  return formatReceipt({ ...receipt, extra: data });
}
