// Replies to a witness (docs/FORMAT.md §8.1; vault/replytext.py): an age file sealed to the
// witness's reply recipient, whose plaintext is
//
//   "amanat/reply/v2\n" | message (UTF-8) | 0x80 | 0x00 … up to the PADMÉ length
//
// A plaintext without the version line is a v1 reply: the message as it is.

import { Decrypter } from "age-encryption";

const HEADER = new TextEncoder().encode("amanat/reply/v2\n");
const MARKER = 0x80;

export class ReplyError extends Error {
  // codes: "padding" (a v2 reply without its end marker), "identity" (not a PQ identity),
  // "decrypt" (not sealed to this identity, or damaged)
  constructor(code, message) {
    super(message);
    this.name = "ReplyError";
    this.code = code;
  }
}

function startsWith(bytes, prefix) {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/** The message of a decrypted reply (v2 padded or v1); invalid UTF-8 shows as U+FFFD. */
export function readReply(plaintext) {
  const decode = (b) => new TextDecoder("utf-8", { ignoreBOM: true }).decode(b);
  if (!startsWith(plaintext, HEADER)) return decode(plaintext);
  let end = plaintext.length;
  while (end > HEADER.length && plaintext[end - 1] === 0) end--;
  if (end === HEADER.length || plaintext[end - 1] !== MARKER) {
    throw new ReplyError("padding", "the reply's padding has no end marker");
  }
  return decode(plaintext.subarray(HEADER.length, end - 1));
}

/** Open a sealed reply (Uint8Array or Blob) with the AGE-SECRET-KEY-PQ-1… identity. */
export async function openReply(sealed, identity) {
  if (typeof identity !== "string" || !identity.startsWith("AGE-SECRET-KEY-PQ-1")) {
    throw new ReplyError("identity", "not a post-quantum age identity");
  }
  const bytes = sealed instanceof Uint8Array ? sealed : new Uint8Array(await sealed.arrayBuffer());
  const decrypter = new Decrypter();
  try {
    decrypter.addIdentity(identity);
  } catch {
    throw new ReplyError("identity", "not a valid age identity");
  }
  let plaintext;
  try {
    plaintext = await decrypter.decrypt(bytes);
  } catch {
    throw new ReplyError("decrypt", "the reply does not open with this codename");
  }
  return readReply(plaintext);
}
