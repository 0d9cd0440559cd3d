// The organization's signed roster (docs/FORMAT.md §6; keys/roster.py, keys/card.py).
//
// Testimony is sealed only to the readers of a roster signed by the organization key the
// page pins; a roster that is malformed, signed by another key, for another origin, expired
// or valid for longer than a roster may be is refused. The page keeps no state, so the
// expiry date (by this device's UTC date) bounds how old a roster a server can replay.

import { bech32 } from "@scure/base";
import { sha256 } from "@noble/hashes/sha2.js";
import { fromB64, hex, utf8, wellFormed } from "./bytes.js";
import { NoteError, parseKeyHalves, verifyNote } from "./note.js";
import { CosignError, cosigningPolicy, parseCosignerLine } from "./cosign.js";

export const ROSTER_HEADER = "amanat.roster/v1";
export const MAX_ROSTER_BYTES = 1024 * 1024;
export const MAX_VALIDITY_DAYS = 366;
export const CLOCK_SLACK_DAYS = 7;
const POLICIES = ["pq-only", "allow-x25519"];
const ROLES = ["admin", "reader"];
const MAX_VERSION = 2n ** 63n - 1n;
const DAY_MS = 86400000;

export class RosterError extends Error {
  // codes: signature, malformed, origin, expired, too-long, policy, no-readers, no-log,
  // org-key (the pinned organization key itself is malformed)
  constructor(code, message) {
    super(message);
    this.name = "RosterError";
    this.code = code;
  }
}

function asRosterError(parse, prefix) {
  try {
    return parse();
  } catch (error) {
    if (error instanceof CosignError) throw malformed(prefix + error.message);
    throw error;
  }
}

function malformed(message) {
  return new RosterError("malformed", message);
}

/** The problem with an investigator name (keys/_text.py `name_problem`), or null. */
export function nameProblem(name) {
  if (!name) return "the name is empty";
  if (!wellFormed(name)) return "the name is not valid Unicode";
  if (utf8(name).length > 200) return "the name is longer than 200 bytes";
  if (name.normalize("NFC") !== name) return "the name is not in Unicode normal form C";
  if (name.startsWith(" ") || name.endsWith(" ") || name.includes("  ")) {
    return "the name has a leading, trailing or doubled space";
  }
  for (const ch of name) {
    if (ch === " " || ch === "\u200c" || ch === "\u200d") continue;
    if (/^[\p{C}\p{Zs}\p{Zl}\p{Zp}]$/u.test(ch)) return "the name contains a character that is not allowed";
  }
  return null;
}

function originProblem(origin) {
  if (!origin) return "the origin is empty";
  if (origin.length > 200) return "the origin is longer than 200 bytes";
  if (!/^[!-*,-~]+$/.test(origin)) return "the origin must be printable ASCII without spaces or '+'";
  return null;
}

/** Whether `text` is an age recipient in canonical form: "pq", "x25519", or null. */
export function recipientType(text) {
  if (typeof text !== "string" || text !== text.toLowerCase() || !/^[\x21-\x7e]+$/.test(text)) {
    return null;
  }
  try {
    const { prefix, words } = bech32.decode(text, false);
    const bytes = bech32.fromWords(words);
    if (text.startsWith("age1pq1")) return prefix === "age1pq" && bytes.length === 1216 ? "pq" : null;
    if (text.startsWith("age1")) return prefix === "age" && bytes.length === 32 ? "x25519" : null;
  } catch {
    return null;
  }
  return null;
}

/**
 * keys/card.py `derive_key_id`: 16 hex digits over the recipient and the auth keys' text:
 * v2 with the ML-DSA-44 key (`authPqB64`), v1 without it (a classical investigator).
 */
export function deriveKeyId(recipient, authB64, authPqB64 = null) {
  const text = authPqB64 === null
    ? `amanat.key-id/v1\n${recipient}\n${authB64}\n`
    : `amanat.key-id/v2\n${recipient}\n${authB64}\n${authPqB64}\n`;
  return hex(sha256(utf8(text)).slice(0, 8));
}

const AUTH_KEY_BYTES = 32;
const AUTH_PQ_KEY_BYTES = 1312;

/**
 * The auth field of an investigator line: the Ed25519 key, or the Ed25519 and ML-DSA-44
 * keys joined by "," (keys/roster.py), each canonical base64 of its exact length.
 */
function parseAuthField(number, field) {
  const halves = field.split(",");
  if (halves.length > 2) {
    throw malformed(`roster line ${number}: the auth field has more than two keys`);
  }
  const keys = halves.map((half) => {
    let key;
    try {
      key = fromB64(half);
    } catch {
      throw malformed(`roster line ${number}: the auth key is not canonical base64`);
    }
    if (key.length === 0) throw malformed(`roster line ${number}: an auth key is empty`);
    return key;
  });
  if (keys[0].length !== AUTH_KEY_BYTES) {
    throw malformed(`roster line ${number}: the auth key is not 32 bytes`);
  }
  if (keys.length === 2 && keys[1].length !== AUTH_PQ_KEY_BYTES) {
    throw malformed(`roster line ${number}: the ML-DSA-44 auth key is not 1312 bytes`);
  }
  return { auth: halves[0], authPq: keys.length === 2 ? halves[1] : null };
}

function parseDate(text) {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(text);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < 1) return null;
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) {
    return null;
  }
  return d.getTime();
}

function utcDay(today) {
  if (typeof today === "string") {
    const t = parseDate(today);
    if (t === null) throw new RosterError("malformed", "today's date is not YYYY-MM-DD");
    return t;
  }
  const d = new Date(0);
  d.setUTCFullYear(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
  return d.getTime();
}

function parseInvestigator(number, line) {
  const space = line.indexOf(" ");
  const keyword = space < 0 ? line : line.slice(0, space);
  if (keyword !== "investigator") throw malformed(`roster line ${number}: unexpected line`);
  const rest = line.slice(space + 1);
  const parts = [];
  let from = 0;
  for (let i = 0; i < 4; i++) {
    const at = rest.indexOf(" ", from);
    if (at < 0) throw malformed(`roster line ${number}: malformed line`);
    parts.push(rest.slice(from, at));
    from = at + 1;
  }
  parts.push(rest.slice(from));
  const [keyId, rolesText, auth, recipient, name] = parts;
  if (parts.slice(0, 4).some((p) => p === "")) throw malformed(`roster line ${number}: malformed line`);
  const { auth: authEd25519, authPq } = parseAuthField(number, auth);
  if (!/^[0-9a-f]{16}$/.test(keyId)) throw malformed(`roster line ${number}: malformed key id`);
  const roles = rolesText.split(",");
  const sorted = [...new Set(roles)].sort();
  if (roles.length !== sorted.length || roles.some((r, i) => r !== sorted[i]) ||
      roles.some((r) => !ROLES.includes(r))) {
    throw malformed(`roster line ${number}: roles must be a sorted list of admin and reader`);
  }
  const problem = nameProblem(name);
  if (problem) throw malformed(`roster line ${number}: ${problem}`);
  const type = recipientType(recipient);
  if (type === null) throw malformed(`roster line ${number}: not a valid age recipient`);
  if (deriveKeyId(recipient, authEd25519, authPq) !== keyId) {
    throw malformed(`roster line ${number}: the key id does not match the keys`);
  }
  return { keyId, roles, auth: authEd25519, authPq, recipient, name, type };
}

/** Parse roster text (the signed body, without signatures): no signature check. */
export function parseRoster(text) {
  if (!text.endsWith("\n")) throw malformed("the roster text must end with a newline");
  const lines = text.slice(0, -1).split("\n");
  let next = 0;
  const expect = (keyword) => {
    const line = next < lines.length ? lines[next] : "";
    next += 1;
    if (!line.startsWith(keyword + " ")) throw malformed(`roster line ${next}: expected a ${keyword} line`);
    return line.slice(keyword.length + 1);
  };
  const origin = expect(ROSTER_HEADER);
  const versionText = expect("version");
  if (!/^(0|[1-9][0-9]{0,18})$/.test(versionText) || BigInt(versionText) < 1n ||
      BigInt(versionText) > MAX_VERSION) {
    throw malformed("roster line 2: the version must be a positive integer");
  }
  const policy = expect("policy");
  if (!POLICIES.includes(policy)) throw malformed("roster line 3: unknown policy");
  const expires = expect("expires");
  if (parseDate(expires) === null) throw malformed("roster line 4: the expiry date is not a real YYYY-MM-DD date");
  let logVkey = null;
  let quorumText = null;
  const cosigners = [];
  const investigators = [];
  for (; next < lines.length; next++) {
    const number = next + 1;
    const line = lines[next];
    if (number === 5 && line.startsWith("log ")) {
      logVkey = line.slice(4);
    } else if (number === 5 + (logVkey === null ? 0 : 1) && line.startsWith("cosigners ")) {
      quorumText = line.slice("cosigners ".length);
    } else if (quorumText !== null && investigators.length === 0 && line.startsWith("cosigner ")) {
      cosigners.push(asRosterError(() => parseCosignerLine(line.slice("cosigner ".length)), `roster line ${number}: `));
    } else {
      investigators.push(parseInvestigator(number, line));
    }
  }
  let cosigning = null;
  if (quorumText !== null) {
    if (logVkey === null) throw malformed("a roster names cosigners only with a log key");
    cosigning = asRosterError(() => cosigningPolicy(quorumText, cosigners), "cosigners: ");
  }
  const problem = originProblem(origin);
  if (problem) throw malformed(`roster origin: ${problem}`);
  if (logVkey !== null) {
    try {
      parseKeyHalves(logVkey);
    } catch {
      throw malformed("the log key is not a valid verifier key");
    }
  }
  for (let i = 1; i < investigators.length; i++) {
    if (investigators[i].keyId === investigators[i - 1].keyId) throw malformed("duplicate key id");
    if (investigators[i].keyId < investigators[i - 1].keyId) throw malformed("investigators are not sorted by key id");
  }
  const readerTypes = new Set();
  for (const person of investigators) {
    if (person.type !== "pq" && policy === "pq-only") {
      throw new RosterError("policy", "a classical recipient in a pq-only roster");
    }
    if (person.roles.includes("reader")) readerTypes.add(person.type);
  }
  if (readerTypes.size > 1) {
    throw new RosterError("policy", "the roster's readers mix post-quantum and classical recipients");
  }
  return {
    origin,
    version: Number(versionText),
    policy,
    expires,
    logVkey,
    cosigning,
    investigators: investigators.map(({ keyId, roles, auth, authPq, recipient, name }) => ({
      keyId, roles, auth, authPq, recipient, name,
    })),
    readers: investigators.filter((p) => p.roles.includes("reader")).map((p) => p.recipient),
  };
}

const CLASSICAL_PREFIX = "classical ";

/**
 * Verify a signed roster against the pinned organization verifier key and return its
 * content. `today` is a Date (its UTC date counts) or a "YYYY-MM-DD" string.
 */
export function verifyRoster(signedText, orgVkeyText, today = new Date()) {
  // "classical <vkey>": the explicit classical policy, where one trusted half suffices.
  const classical = typeof orgVkeyText === "string" && orgVkeyText.startsWith(CLASSICAL_PREFIX);
  let halves;
  try {
    halves = parseKeyHalves(classical ? orgVkeyText.slice(CLASSICAL_PREFIX.length) : orgVkeyText);
  } catch {
    throw new RosterError("org-key", "the pinned organization key is malformed");
  }
  if (halves.length === 1 && !classical) {
    throw new RosterError("org-key", "the pinned organization key has no ML-DSA-44 half");
  }
  const org = halves[0];
  if (typeof signedText !== "string" || !wellFormed(signedText)) {
    throw malformed("the roster is not text");
  }
  if (utf8(signedText).length > MAX_ROSTER_BYTES) throw malformed("the roster is larger than 1 MiB");
  if (!signedText.includes("\n\n")) throw new RosterError("signature", "the roster is not signed");
  let opened;
  try {
    opened = verifyNote(signedText, halves, { requireAll: !classical });
  } catch (error) {
    if (error instanceof NoteError && ["unverified", "forged", "missing"].includes(error.code)) {
      throw new RosterError("signature", "the roster is not signed by the organization key");
    }
    throw malformed("the roster is not a well-formed signed note");
  }
  const roster = parseRoster(opened.text);
  if (roster.origin !== org.name) {
    throw new RosterError("origin", "the roster names another organization than the pinned key");
  }
  const days = Math.round((parseDate(roster.expires) - utcDay(today)) / DAY_MS);
  if (days < 0) {
    throw new RosterError("expired", `roster version ${roster.version} expired on ${roster.expires}`);
  }
  if (days > MAX_VALIDITY_DAYS + CLOCK_SLACK_DAYS) {
    throw new RosterError("too-long", `roster version ${roster.version} is valid for too long`);
  }
  if (roster.readers.length === 0) throw new RosterError("no-readers", "the roster lists no reader");
  if (roster.logVkey === null) throw new RosterError("no-log", "the roster names no log key");
  return roster;
}
