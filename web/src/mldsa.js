// The post-quantum half of a hybrid signed-note key: ML-DSA-44 (FIPS 204, pure, empty
// context) over the note text, checked with @noble/post-quantum (docs/FORMAT.md §4;
// vault/tlog/note.py). Key id SHA-256(name || 0x0A || 0xFF || "amanat/ml-dsa-44" ||
// public key)[0:4]; verifier key name+hexid+base64(0xFF || "amanat/ml-dsa-44" || 1312-byte key).

import { ml_dsa44 } from "@noble/post-quantum/ml-dsa.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concat, equal, utf8 } from "./bytes.js";

export const MLDSA44_TYPE = concat(Uint8Array.of(0xff), utf8("amanat/ml-dsa-44"));
const PUBLIC_KEY_SIZE = 1312;
const SIGNATURE_SIZE = 2420;

/** Whether a decoded verifier key (type and public key) is of the ML-DSA-44 type. */
export function isMldsaKey(key) {
  return key.length === MLDSA44_TYPE.length + PUBLIC_KEY_SIZE
    && equal(key.slice(0, MLDSA44_TYPE.length), MLDSA44_TYPE);
}

/** The public key inside a decoded ML-DSA-44 verifier key. */
export function mldsaPublicKey(key) {
  return key.slice(MLDSA44_TYPE.length);
}

/** SHA-256(name || 0x0A || 0xFF || "amanat/ml-dsa-44" || public key)[0:4]. */
export function mldsaKeyId(name, publicKey) {
  return sha256(concat(utf8(name), Uint8Array.of(0x0a), MLDSA44_TYPE, publicKey)).slice(0, 4);
}

/** Whether `signature` is a valid ML-DSA-44 signature of `message` under `publicKey`. */
export function verifyMldsa(signature, message, publicKey) {
  if (signature.length !== SIGNATURE_SIZE) return false;
  try {
    return ml_dsa44.verify(signature, message, publicKey);
  } catch {
    return false;
  }
}
