// Cosignatures on the log's checkpoints and the roster's k-of-n policy (docs/FORMAT.md §9.6, §9.8,
// §6; vault/tlog/cosignature.py, vault/tlog/cosigning.py).
//
// A witness's page keeps nothing, so it cannot remember a checkpoint to compare the next one
// with. It relies instead on cosigners the organization named in its roster: a checkpoint
// counts only when at least k of them cosigned it, and each cosigns only what extends what it
// cosigned before, so a forked or rolled-back history cannot gather their cosignatures.
//
// A cosigner is one name with two keys: Ed25519 (type 0x04, `cosignature/v1`) and ML-DSA-44
// (type 0x06, `subtree/v1`). This module verifies both: the Ed25519 cosignature with
// @noble/curves and the ML-DSA-44 one beside it with @noble/post-quantum (`mldsa.js`), over
// the `subtree/v1` message built here as vault/tlog/cosignature.py builds it. A line that
// names a listed key but does not verify refuses the checkpoint (a forgery, not noise).

import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { PY_SPACE, concat, fromB64, hex, utf8 } from "./bytes.js";
import { verifyMldsa } from "./mldsa.js";

export const MAX_COSIGNERS = 16;
const ALG_ED25519 = 0x04;
const ALG_MLDSA44 = 0x06;
const KEY_SIZES = { [ALG_ED25519]: 32, [ALG_MLDSA44]: 1312 };
const SIGNATURE_SIZES = { [ALG_ED25519]: 64, [ALG_MLDSA44]: 2420 };
const SIGNATURE_PREFIX = "\u2014 ";
const URL = /^https?:\/\/(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:]+\])(?::[1-9][0-9]{0,4})?(?:\/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-])?$/;
const BAD_NAME = new RegExp(`[+${PY_SPACE}\\x00-\\x1f\\x7f]`);

export class CosignError extends Error {
  // codes: "malformed" (a cosigner line or key), "not-cosigned" (fewer than k; `found` and
  // `quorum` say how many), "forged" (a named cosigner's line does not verify)
  constructor(code, message, found = 0, quorum = 0) {
    super(message);
    this.name = "CosignError";
    this.code = code;
    this.found = found;
    this.quorum = quorum;
  }
}

const malformed = (message) => new CosignError("malformed", message);

/** SHA-256(name || 0x0A || type || public key)[0:4]. */
function cosignerKeyId(name, alg, publicKey) {
  return sha256(concat(utf8(name), Uint8Array.of(0x0a, alg), publicKey)).slice(0, 4);
}

/** Parse a cosigner vkey `name+hexid+base64(type || key)` of the given type. */
export function parseCosignerVkey(text, alg) {
  const parts = text.split("+");
  if (parts.length < 3) throw malformed("a cosigner key has the form name+hexid+base64key");
  const [name, idHex] = parts;
  const keyB64 = parts.slice(2).join("+");
  if (name.length === 0 || BAD_NAME.test(name)) throw malformed("a cosigner key's name is not valid");
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw malformed("a cosigner key id is 8 lowercase hex digits");
  let raw;
  try {
    raw = fromB64(keyB64);
  } catch {
    throw malformed("a cosigner key is not canonical base64");
  }
  if (raw.length !== KEY_SIZES[alg] + 1 || raw[0] !== alg) {
    throw malformed(alg === ALG_ED25519 ? "not an Ed25519 cosigner key" : "not an ML-DSA-44 cosigner key");
  }
  const publicKey = raw.slice(1);
  const keyId = cosignerKeyId(name, alg, publicKey);
  if (hex(keyId) !== idHex) throw malformed("a cosigner key id does not match its name and key");
  return { name, alg, keyId, publicKey, text };
}

/** Parse the text after `cosigner ` on a roster line: two vkeys and an address. */
export function parseCosignerLine(rest) {
  const parts = rest.split(" ");
  if (parts.length !== 3 || parts.some((part) => part === "")) {
    throw malformed("a cosigner line is 'cosigner <Ed25519 vkey> <ML-DSA-44 vkey> <address>'");
  }
  const [edText, mldsaText, url] = parts;
  if (url.length > 200 || !URL.test(url)) throw malformed("a cosigner address is not in its one spelling");
  const ed25519Key = parseCosignerVkey(edText, ALG_ED25519);
  const mldsa44Key = parseCosignerVkey(mldsaText, ALG_MLDSA44);
  if (ed25519Key.name !== mldsa44Key.name) throw malformed("a cosigner's two keys carry one name");
  return { name: ed25519Key.name, ed25519: ed25519Key, mldsa44: mldsa44Key, url };
}

/** The policy `{quorum, cosigners}` from the `cosigners <k>` value and the parsed lines. */
export function cosigningPolicy(quorumText, cosigners) {
  if (!/^[1-9][0-9]?$/.test(quorumText) || Number(quorumText) > MAX_COSIGNERS) {
    throw malformed(`the number of cosigners required must be 1 to ${MAX_COSIGNERS}`);
  }
  const quorum = Number(quorumText);
  if (cosigners.length < 1 || cosigners.length > MAX_COSIGNERS) throw malformed("a policy names 1 to 16 cosigners");
  if (quorum > cosigners.length) throw malformed("the quorum is more than the number of cosigners");
  for (let i = 1; i < cosigners.length; i++) {
    if (cosigners[i].name === cosigners[i - 1].name) throw malformed("two cosigners carry the same name");
    if (cosigners[i].name < cosigners[i - 1].name) throw malformed("cosigners are not sorted by name");
  }
  return { quorum, cosigners };
}

function parseLine(line) {
  if (!line.startsWith(SIGNATURE_PREFIX)) return null;
  const rest = line.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(" ");
  if (space <= 0) return null;
  let raw;
  try {
    raw = fromB64(rest.slice(space + 1));
  } catch {
    return null;
  }
  return { name: rest.slice(0, space), keyId: raw.slice(0, 4), time: raw.slice(4, 12), signature: raw.slice(12) };
}

function timeText(bytes) {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value.toString();
}

function shortField(bytes) {
  if (bytes.length < 1 || bytes.length > 255) throw new Error("field length");
  return concat(Uint8Array.of(bytes.length), bytes);
}

/**
 * The `subtree/v1` message an ML-DSA-44 cosignature signs for a whole checkpoint:
 * "subtree/v1\n\0" || u8 len || cosigner name || u64 time || u8 len || origin || u64 0 ||
 * u64 tree size || root hash (big-endian; extension lines are not signed). `time` is the
 * line's 8 time bytes, already big-endian.
 */
export function subtreeMessage(name, body, time) {
  const [origin, sizeText, rootText] = body.split("\n");
  if (!/^(0|[1-9][0-9]{0,19})$/.test(sizeText)) throw new Error("tree size");
  const size = BigInt(sizeText);
  if (size >= 1n << 64n) throw new Error("tree size");
  const root = fromB64(rootText);
  if (root.length !== 32 || time.length !== 8) throw new Error("root or time");
  const numbers = new Uint8Array(16);
  new DataView(numbers.buffer).setBigUint64(8, size);
  return concat(utf8("subtree/v1\n"), Uint8Array.of(0), shortField(utf8(name)), time,
    shortField(utf8(origin)), numbers, root);
}

/** Whether an ML-DSA-44 cosignature line verifies (the default verifier of `cosignedBy`). */
export function verifyMldsaCosignature(publicKey, name, body, time, signature) {
  let message;
  try {
    message = subtreeMessage(name, body, time);
  } catch {
    return false;
  }
  return verifyMldsa(signature, message, publicKey);
}

/**
 * The names of the policy's cosigners that cosigned this signed checkpoint note (both
 * halves present and verified; `mldsaVerify`, `(publicKey, name, body, timeBytes,
 * signature) => boolean`, checks the ML-DSA-44 line). Throws CosignError "forged" when a
 * named key's line does not verify.
 */
export function cosignedBy(note, policy, mldsaVerify = verifyMldsaCosignature) {
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) throw malformed("the checkpoint is not a signed note");
  const body = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split("\n").map(parseLine).filter((line) => line !== null);
  const names = [];
  for (const cosigner of policy.cosigners) {
    const find = (key) => lines.find((line) => line.name === key.name && hex(line.keyId) === hex(key.keyId));
    const edLine = find(cosigner.ed25519);
    const mldsaLine = find(cosigner.mldsa44);
    let good = true;
    if (edLine) {
      const message = concat(utf8(`cosignature/v1\ntime ${timeText(edLine.time)}\n`), utf8(body));
      let valid = false;
      try {
        valid = edLine.time.length === 8 && edLine.signature.length === SIGNATURE_SIZES[ALG_ED25519] &&
          ed25519.verify(edLine.signature, message, cosigner.ed25519.publicKey, { zip215: false });
      } catch {
        valid = false;
      }
      if (!valid) throw new CosignError("forged", `the cosignature by ${cosigner.name} does not verify`);
    } else {
      good = false;
    }
    if (mldsaLine) {
      if (mldsaLine.time.length !== 8 || mldsaLine.signature.length !== SIGNATURE_SIZES[ALG_MLDSA44] ||
          !mldsaVerify(cosigner.mldsa44.publicKey, cosigner.name, body, mldsaLine.time, mldsaLine.signature)) {
        throw new CosignError("forged", `the ML-DSA-44 cosignature by ${cosigner.name} does not verify`);
      }
    } else {
      good = false;
    }
    if (good) names.push(cosigner.name);
  }
  return names;
}

/** `cosignedBy`, requiring at least `policy.quorum` names (CosignError "not-cosigned"). */
export function checkCosigned(note, policy, mldsaVerify = verifyMldsaCosignature) {
  const names = cosignedBy(note, policy, mldsaVerify);
  if (names.length < policy.quorum) {
    throw new CosignError("not-cosigned",
      `not yet cosigned: ${names.length} of ${policy.quorum} required; fetch again later`,
      names.length, policy.quorum);
  }
  return names;
}
