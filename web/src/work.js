// Proof of work (docs/PROTOCOL.md "Proof of work"; vault/service/work.py): the smallest
// decimal counter c such that SHA-256(seed || c) begins with `bits` zero bits, sent as
// `Amanat-Work: <seed, base64 as received>.<c>`.
//
// Hashes are computed with WebCrypto in batches (native code, also with the JIT off);
// between batches the event loop runs, so the page repaints and a progress bar moves.
// Without WebCrypto (an insecure context) @noble/hashes is used instead.

import { sha256 } from "@noble/hashes/sha2.js";
import { concat, fromB64 } from "./bytes.js";

export const MAX_WORK_BITS = 20; // the most a server asks (vault/service/work.py)
const SEED_BYTES = 40;
const BATCH = 256;
const YIELD_MS = 40;

export class WorkError extends Error {
  // codes: "puzzle" (a malformed seed or difficulty), "aborted"
  constructor(code, message) {
    super(message);
    this.name = "WorkError";
    this.code = code;
  }
}

/** The number of leading zero bits of `digest`. */
export function leadingZeroBits(digest) {
  let bits = 0;
  for (const byte of digest) {
    if (byte) return bits + Math.clz32(byte) - 24;
    bits += 8;
  }
  return bits;
}

function nextTask() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

const ASCII = (n) => {
  const text = String(n);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
};

/**
 * Solve the puzzle `seedB64` at `bits`; resolves to the header value "seed.counter"
 * (at `bits` 0 the counter is 0, and the caller sends no header at all). `onProgress(tried, expected)` hears how many
 * hashes were tried. `options.engine` ("webcrypto" or "noble") and `options.signal`
 * (an AbortSignal) are for tests and for a page that gives up.
 */
export async function solveWork(seedB64, bits, onProgress = () => {}, options = {}) {
  let seed;
  try {
    seed = fromB64(seedB64);
  } catch {
    throw new WorkError("puzzle", "the puzzle's seed is malformed");
  }
  if (seed.length !== SEED_BYTES || !Number.isInteger(bits) || bits < 0 || bits > MAX_WORK_BITS) {
    throw new WorkError("puzzle", "the puzzle is malformed");
  }
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  const engine = options.engine || (subtle ? "webcrypto" : "noble");
  const expected = 2 ** bits;
  let counter = 0;
  let last = Date.now();
  for (;;) {
    if (options.signal && options.signal.aborted) throw new WorkError("aborted", "stopped");
    const inputs = [];
    for (let i = 0; i < BATCH; i++) inputs.push(concat(seed, ASCII(counter + i)));
    let digests;
    if (engine === "webcrypto") {
      digests = (await Promise.all(inputs.map((m) => subtle.digest("SHA-256", m)))).map((d) => new Uint8Array(d));
    } else {
      digests = inputs.map((m) => sha256(m));
    }
    for (let i = 0; i < BATCH; i++) {
      if (leadingZeroBits(digests[i]) >= bits) return `${seedB64}.${counter + i}`;
    }
    counter += BATCH;
    if (Date.now() - last >= YIELD_MS) {
      onProgress(counter, expected);
      await nextTask();
      last = Date.now();
    }
  }
}
