// C2SP signed notes with Ed25519 and ML-DSA-44 (docs/FORMAT.md §4; vault/tlog/note.py).
//
// A note's text is trusted only when a signature by a key the caller already trusts
// verifies over exactly that text (with `requireAll`, by every trusted key: both halves of
// a hybrid key); a signature that names a trusted key but does not verify rejects the
// whole note (a forgery, not noise). Signatures of unknown keys are ignored.

import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { PY_SPACE, concat, equal, fromB64, fromUtf8, hex, utf8, wellFormed } from "./bytes.js";
import { isMldsaKey, mldsaKeyId, mldsaPublicKey, verifyMldsa } from "./mldsa.js";

export const MAX_SIGNATURES = 100;
const ALG_ED25519 = 0x01;
const SIGNATURE_PREFIX = "\u2014 ";

export class NoteError extends Error {
  // codes: "vkey" (a malformed verifier key), "key-id" (its key id does not match),
  // "malformed" (the note), "unverified" (no trusted signature), "forged" (a trusted key's
  // signature does not verify), "missing" (with requireAll, a trusted key did not sign)
  constructor(code, message) {
    super(message);
    this.name = "NoteError";
    this.code = code;
  }
}

const BAD_NAME = new RegExp(`[+${PY_SPACE}\\x00-\\x1f\\x7f]`);

function validName(name) {
  return name.length > 0 && !BAD_NAME.test(name);
}

/** SHA-256(name || 0x0A || 0x01 || public key)[0:4]. */
export function keyId(name, publicKey) {
  return sha256(concat(utf8(name), Uint8Array.of(0x0a, ALG_ED25519), publicKey)).slice(0, 4);
}

/**
 * Parse a verifier key `name+hexid+base64(type || public key)`, Ed25519 (0x01) or ML-DSA-44
 * (0xFF "amanat/ml-dsa-44"); the key id is recomputed and a mismatch (a typo, a
 * substituted key) refused.
 */
export function parseVkey(text) {
  if (typeof text !== "string" || !wellFormed(text)) {
    throw new NoteError("vkey", "a verifier key is text");
  }
  const first = text.indexOf("+");
  const second = first < 0 ? -1 : text.indexOf("+", first + 1);
  if (second < 0) throw new NoteError("vkey", "a verifier key has the form name+hexid+base64key");
  const name = text.slice(0, first);
  const idHex = text.slice(first + 1, second);
  const keyB64 = text.slice(second + 1);
  if (!validName(name)) throw new NoteError("vkey", "the verifier key's name is not valid");
  if (!/^[0-9a-f]{8}$/.test(idHex)) {
    throw new NoteError("vkey", "the key id must be 8 lowercase hexadecimal digits");
  }
  let key;
  try {
    key = fromB64(keyB64);
  } catch {
    throw new NoteError("vkey", "the verifier key is not canonical base64");
  }
  let alg, publicKey, id;
  if (isMldsaKey(key)) {
    alg = "ml-dsa-44";
    publicKey = mldsaPublicKey(key);
    id = mldsaKeyId(name, publicKey);
  } else if (key.length === 33 && key[0] === ALG_ED25519) {
    alg = "ed25519";
    publicKey = key.slice(1);
    id = keyId(name, publicKey);
  } else {
    throw new NoteError("vkey", "the verifier key is neither an Ed25519 nor an ML-DSA-44 key");
  }
  if (hex(id) !== idHex) {
    throw new NoteError("key-id", "the verifier key's id does not match its name and key");
  }
  return { name, keyId: id, publicKey, alg, text };
}

/**
 * Parse a key's public form: an Ed25519 verifier key, then (hybrid) one space and the
 * ML-DSA-44 verifier key of the same name. Returns the list of halves, Ed25519 first.
 */
export function parseKeyHalves(text) {
  if (typeof text !== "string") throw new NoteError("vkey", "a verifier key is text");
  const parts = text.split(" ");
  if (parts.length > 2) throw new NoteError("vkey", "a key has at most two halves");
  const halves = parts.map(parseVkey);
  if (halves[0].alg !== "ed25519" || (halves.length === 2 && halves[1].alg !== "ml-dsa-44")) {
    throw new NoteError("vkey", "a key is its Ed25519 half, then its ML-DSA-44 half");
  }
  if (halves.length === 2 && halves[1].name !== halves[0].name) {
    throw new NoteError("vkey", "the two halves of a key have different names");
  }
  return halves;
}

function checkCharacters(text) {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a) throw new NoteError("malformed", "the note holds a control character");
  }
}

function parseSignatureLine(line) {
  if (!line.startsWith(SIGNATURE_PREFIX)) {
    throw new NoteError("malformed", "a signature line does not start with an em dash and a space");
  }
  const rest = line.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(" ");
  if (space < 0 || space === rest.length - 1) {
    throw new NoteError("malformed", "a signature line lacks its signature");
  }
  const name = rest.slice(0, space);
  if (!validName(name)) throw new NoteError("malformed", "a signature line has an invalid key name");
  let raw;
  try {
    raw = fromB64(rest.slice(space + 1));
  } catch {
    throw new NoteError("malformed", "a signature is not canonical base64");
  }
  if (raw.length <= 4) throw new NoteError("malformed", "a signature line is too short");
  return { name, keyId: raw.slice(0, 4), signature: raw.slice(4) };
}

/**
 * Verify a signed note (text or bytes) against trusted verifier keys (vkey text or
 * `parseVkey` results). Returns `{text, lines}`: the signed text and its lines (without
 * their newlines). With `requireAll`, every trusted key must have signed.
 */
export function verifyNote(note, vkeys, { requireAll = false } = {}) {
  let text;
  if (typeof note === "string") {
    try {
      utf8(note);
    } catch {
      throw new NoteError("malformed", "the note is not valid Unicode");
    }
    text = note;
  } else {
    try {
      text = fromUtf8(note);
    } catch {
      throw new NoteError("malformed", "the note is not valid UTF-8");
    }
  }
  checkCharacters(text);
  const known = new Map();
  for (const vkey of vkeys) {
    const parsed = typeof vkey === "string" ? parseVkey(vkey) : vkey;
    const slot = `${parsed.name} ${hex(parsed.keyId)}`;
    const previous = known.get(slot);
    if (previous && !equal(previous.publicKey, parsed.publicKey)) {
      throw new NoteError("vkey", "two different trusted keys share a name and key id");
    }
    known.set(slot, parsed);
  }
  const split = text.lastIndexOf("\n\n");
  if (split < 0) throw new NoteError("malformed", "the note has no blank line before its signatures");
  const body = text.slice(0, split + 1);
  const block = text.slice(split + 2);
  if (!block.endsWith("\n")) {
    throw new NoteError("malformed", "the note has no signature lines, or its last line lacks a newline");
  }
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) {
    throw new NoteError("malformed", `the note has more than ${MAX_SIGNATURES} signature lines`);
  }
  const message = utf8(body);
  const seen = new Set();
  let verified = 0;
  for (const line of lines) {
    const signature = parseSignatureLine(line);
    const slot = `${signature.name} ${hex(signature.keyId)}`;
    const verifier = known.get(slot);
    if (!verifier || seen.has(slot)) continue;
    seen.add(slot);
    let good = false;
    if (verifier.alg === "ml-dsa-44") {
      good = verifyMldsa(signature.signature, message, verifier.publicKey);
    } else if (signature.signature.length === 64) {
      try {
        good = ed25519.verify(signature.signature, message, verifier.publicKey, { zip215: false });
      } catch {
        good = false;
      }
    }
    if (!good) {
      throw new NoteError("forged", `the signature by trusted key ${verifier.name} does not verify`);
    }
    verified += 1;
  }
  if (verified === 0) throw new NoteError("unverified", "the note is not signed by any trusted key");
  if (requireAll && seen.size !== known.size) {
    throw new NoteError("missing", "the note is not signed by both halves of the key");
  }
  return { text: body, lines: body.slice(0, -1).split("\n") };
}

