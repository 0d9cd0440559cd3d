// The organization key's fingerprint: thirty digits a witness compares by eye with the
// ones the organization publishes elsewhere (keys/fingerprint.py, docs/FORMAT.md §4).
//
//   d = SHA-256("amanat.org-fingerprint/v1\n" + vkey + "\n")
//   group i = big-endian integer of d[5i:5i+5] mod 100000, five digits; six groups

import { sha256 } from "@noble/hashes/sha2.js";
import { utf8, wellFormed } from "./bytes.js";

export class FingerprintError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "FingerprintError";
    this.code = code;
  }
}

/**
 * The fingerprint of the verifier key text `vkeyText`, exactly as published (a "classical "
 * policy prefix is not part of the key).
 */
export function orgFingerprint(vkeyText) {
  if (typeof vkeyText !== "string" || !wellFormed(vkeyText)) {
    throw new FingerprintError("vkey", "the organization key is not text");
  }
  const key = vkeyText.startsWith("classical ") ? vkeyText.slice("classical ".length) : vkeyText;
  const d = sha256(utf8(`amanat.org-fingerprint/v1\n${key}\n`));
  const groups = [];
  for (let i = 0; i < 6; i++) {
    let n = 0;
    for (let j = 0; j < 5; j++) n = n * 256 + d[5 * i + j];
    groups.push(String(n % 100000).padStart(5, "0"));
  }
  return groups.join(" ");
}
