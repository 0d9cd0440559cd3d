// Codenames: the witness's only secret, twelve BIP39 English words (docs/FORMAT.md §8;
// vault/codename.py). Version 2 derivation:
//
//   entropy = the 16 bytes the words encode
//   okm     = HKDF-SHA256(ikm = entropy, salt = "amanat/codename/v2",
//                         info = "amanat/codename/v2 reply+mailbox", 64 bytes)
//   reply identity seed = okm[0:32]  → AGE-SECRET-KEY-PQ-1… and its age1pq1… recipient
//   mailbox secret      = okm[32:64] → mailbox id = hex SHA-256(secret)
//
// Errors say which word is wrong by its position, never the word: error text ends up on
// screens and in screenshots, and each word is part of the secret.

import { generateMnemonic, mnemonicToEntropy } from "@scure/bip39";
import { wordlist } from "@scure/bip39/wordlists/english.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bech32 } from "@scure/base";
import { identityToRecipient } from "age-encryption";
import { PY_SPACE, hex, utf8 } from "./bytes.js";

export const CODENAME_WORDS = 12;
const HKDF_SALT = utf8("amanat/codename/v2");
const HKDF_INFO = utf8("amanat/codename/v2 reply+mailbox");
const WORDS = new Set(wordlist);
const SPACES = new RegExp(`[${PY_SPACE}]+`);

export class CodenameError extends Error {
  // codes: "count" (not twelve words; `count` says how many), "word" (word `position`,
  // counted from 1, is not in the list), "checksum"
  constructor(code, message, details = {}) {
    super(message);
    this.name = "CodenameError";
    this.code = code;
    if (details.count !== undefined) this.count = details.count;
    if (details.position !== undefined) this.position = details.position;
  }
}

/** A fresh codename: twelve lowercase words (128 random bits), separated by single spaces. */
export function newCodename() {
  return generateMnemonic(wordlist, 128);
}

/**
 * The canonical form of a typed codename (NFKD, lower case, any white space between the
 * words); CodenameError otherwise.
 */
export function checkCodename(text) {
  if (typeof text !== "string") throw new CodenameError("count", "a codename is text", { count: 0 });
  const words = text.normalize("NFKD").toLowerCase().split(SPACES).filter((w) => w !== "");
  if (words.length !== CODENAME_WORDS) {
    throw new CodenameError("count", `a codename has ${CODENAME_WORDS} words; this has ${words.length}`,
      { count: words.length });
  }
  words.forEach((word, i) => {
    if (!WORDS.has(word)) {
      throw new CodenameError("word", `word ${i + 1} is not in the word list`, { position: i + 1 });
    }
  });
  const canonical = words.join(" ");
  try {
    mnemonicToEntropy(canonical, wordlist);
  } catch {
    throw new CodenameError("checksum", "checksum failed: a word is mistyped or out of order");
  }
  return canonical;
}

/** The 16 bytes a codename encodes. */
export function codenameEntropy(text) {
  return mnemonicToEntropy(checkCodename(text), wordlist);
}

/** The reply identity seed and mailbox secret of 16 entropy bytes (version 2). */
export function deriveSecretsV2(entropy) {
  const okm = hkdf(sha256, entropy, HKDF_SALT, HKDF_INFO, 64);
  return { seed: okm.slice(0, 32), mailboxSecret: okm.slice(32, 64) };
}

/** The PQ age identity string of a 32-byte seed: Bech32, HRP AGE-SECRET-KEY-PQ-, upper case. */
export function identityOfSeed(seed) {
  return bech32.encode("AGE-SECRET-KEY-PQ-", bech32.toWords(seed), false).toUpperCase();
}

/** Hex SHA-256 of a mailbox secret. */
export function mailboxIdOf(secret) {
  return hex(sha256(secret));
}

/**
 * Everything a codename unlocks (version 2):
 * `{identity: "AGE-SECRET-KEY-PQ-1…", recipient: "age1pq1…", mailboxSecret, mailboxId}`.
 */
export async function deriveV2(codename) {
  const { seed, mailboxSecret } = deriveSecretsV2(codenameEntropy(codename));
  const identity = identityOfSeed(seed);
  seed.fill(0);
  const recipient = await identityToRecipient(identity);
  return { identity, recipient, mailboxSecret, mailboxId: mailboxIdOf(mailboxSecret) };
}
