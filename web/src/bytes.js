// Byte helpers shared by every module: UTF-8, hex and canonical base64.
//
// Parsing is strict, as in the Python implementation: one value has one spelling, so a
// flipped character never decodes to something else that still looks plausible.

export class BytesError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "BytesError";
    this.code = code;
  }
}

const encoder = new TextEncoder();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `text` holds no unpaired surrogate (it has a UTF-8 encoding). */
export function wellFormed(text) {
  return !LONE_SURROGATE.test(text);
}

/** UTF-8 of `text`; a string with an unpaired surrogate has none and is refused. */
export function utf8(text) {
  if (typeof text !== "string") throw new BytesError("type", "expected a string");
  if (!wellFormed(text)) throw new BytesError("surrogate", "the text holds an unpaired surrogate");
  return encoder.encode(text);
}

/** Strict UTF-8 decoding (invalid bytes are refused, a BOM is kept as U+FEFF). */
export function fromUtf8(bytes) {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new BytesError("utf8", "not valid UTF-8");
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lowercase hex. */
export function hex(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
  return out;
}

/** Bytes of lowercase hex (even length; uppercase is not canonical and is refused). */
export function fromHex(text) {
  if (typeof text !== "string" || text.length % 2 !== 0 || !/^[0-9a-f]*$/.test(text)) {
    throw new BytesError("hex", "not lowercase hexadecimal of whole bytes");
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** Standard base64 (RFC 4648 §4) with `=` padding, or without when `padded` is false. */
export function b64(bytes, padded = true) {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + (padded ? "==" : "");
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + (padded ? "=" : "");
  }
  return out;
}

/**
 * Decode canonical standard base64: only the standard alphabet, padding exactly as `b64`
 * writes it (none when `padded` is false), zero unused bits. Re-encoding the result gives
 * back `text`, so no two strings decode to the same bytes.
 */
export function fromB64(text, padded = true) {
  if (typeof text !== "string") throw new BytesError("base64", "not base64");
  const pattern = padded ? /^[A-Za-z0-9+/]*={0,2}$/ : /^[A-Za-z0-9+/]*$/;
  if (!pattern.test(text) || (padded && text.length % 4 !== 0) || (!padded && text.length % 4 === 1)) {
    throw new BytesError("base64", "not canonical base64");
  }
  const body = text.replace(/=+$/, "");
  const out = new Uint8Array(Math.floor((body.length * 6) / 8));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (let i = 0; i < body.length; i++) {
    acc = ((acc << 6) | DECODE[body.charCodeAt(i)]) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if (b64(out, padded) !== text) throw new BytesError("base64", "not canonical base64");
  return out;
}

/** One Uint8Array holding all of `arrays` in order. */
export function concat(...arrays) {
  let length = 0;
  for (const a of arrays) length += a.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const a of arrays) {
    out.set(a, offset);
    offset += a.length;
  }
  return out;
}

/** Whether two byte arrays are equal (constant time in their common length). */
export function equal(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

// Python's str.isspace(): the characters `str.split()` splits on.
export const PY_SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
