// The witness's side of the HTTP API (docs/PROTOCOL.md), same origin only.
//
// Every request goes to a relative URL under /api/v1 with no credentials, no cache and no
// referrer. Nothing that identifies the witness, and no secret, is ever put in a URL: the
// mailbox secret travels in a header. Answers are read up to a bound (a hostile server
// could send without end) and checked before they are used.

import { sha256 } from "@noble/hashes/sha2.js";
import { hex } from "./bytes.js";
import { solveWork } from "./work.js";

export const SMALL_ANSWER_BYTES = 64 * 1024;
export const ROSTER_BYTES = 1024 * 1024;
export const LISTING_BYTES = 4 * 1024 * 1024;
export const MAX_REPLY_BYTES = 16 * 1024 * 1024;
const WORK_ATTEMPTS = 4;
const ID = /^[0-9a-f]{32}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const HOUR = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:00Z$/;

let settings = {
  base: "/api/v1",
  fetch: (...args) => globalThis.fetch(...args),
  timeoutMs: 120000,
};

/** Change where requests go and how (tests); the page keeps the defaults. */
export function configure(changes) {
  settings = { ...settings, ...changes };
}

export class ApiError extends Error {
  // status 0: the server could not be reached (or did not answer in time); code "malformed"
  // for an answer that does not have the form the protocol gives.
  constructor(status, message, retryAfter = null, code = status === 0 ? "network" : "http") {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.retryAfter = retryAfter;
    this.code = code;
  }
}

function malformed(what) {
  return new ApiError(-1, `malformed answer from the server: ${what}`, null, "malformed");
}

// The deadline of each answer whose body is still to be read (cleared once it is read).
const deadlines = new WeakMap();

function answered(response) {
  const timer = deadlines.get(response);
  if (timer !== undefined) {
    clearTimeout(timer);
    deadlines.delete(response);
  }
}

async function readBounded(response, limit) {
  try {
    return await readBody(response, limit);
  } finally {
    answered(response);
  }
}

async function readBody(response, limit) {
  const declared = response.headers.get("Content-Length");
  if (declared !== null && /^[0-9]+$/.test(declared) && Number(declared) > limit) {
    throw malformed("the answer is too large");
  }
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const parts = [];
  let length = 0;
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch {
      // The request's deadline passed while the body dripped in (or the connection broke):
      // the same as no answer, so an upload asks for the offset and goes on.
      throw new ApiError(0, "the server's answer stopped arriving");
    }
    const { done, value } = chunk;
    if (done) break;
    length += value.length;
    if (length > limit) {
      await reader.cancel().catch(() => {});
      throw malformed("the answer is too large");
    }
    parts.push(value);
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

// SHA-256 in native code where the page has WebCrypto (fast also with the JIT off).
async function digestHex(data) {
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (subtle) return hex(new Uint8Array(await subtle.digest("SHA-256", data)));
  return hex(sha256(data));
}

function retryAfterOf(response) {
  const value = (response.headers.get("Retry-After") || "").trim();
  return /^[0-9]{1,9}$/.test(value) ? Number(value) : null;
}

async function errorOf(response) {
  let message = response.statusText || "error";
  try {
    const body = JSON.parse(new TextDecoder().decode(await readBounded(response, SMALL_ANSWER_BYTES)));
    if (body && typeof body.error === "string") message = body.error.slice(0, 500);
  } catch {
    // the status says enough
  }
  return new ApiError(response.status, message, retryAfterOf(response));
}

/**
 * One request; resolves to the Response of a 2xx answer, ApiError otherwise. The deadline
 * (`timeoutMs`) covers the whole answer, its body included: a body that drips in or stalls
 * is broken off when it passes, like an answer that never came.
 */
export async function request(method, path, { headers = {}, body, timeoutMs } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs ?? settings.timeoutMs);
  let response;
  try {
    response = await settings.fetch(settings.base + path, {
      method,
      headers,
      body,
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
      redirect: "error",
      signal: controller.signal,
    });
  } catch {
    clearTimeout(timer);
    throw new ApiError(0, "the server could not be reached");
  }
  if (method === "HEAD" || !response.body) clearTimeout(timer);
  else deadlines.set(response, timer);
  if (response.status < 200 || response.status > 299) throw await errorOf(response);
  return response;
}

async function json(response, limit = SMALL_ANSWER_BYTES) {
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(await readBounded(response, limit));
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw malformed("not UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw malformed("not JSON");
  }
}

function count(value, what) {
  if (!Number.isSafeInteger(value) || value < 0) throw malformed(`bad ${what}`);
  return value;
}

/** The current signed roster, as text (verify it with roster.js before any use). */
export async function getRoster() {
  const response = await request("GET", "/roster");
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(await readBounded(response, ROSTER_BYTES));
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw malformed("the roster is not UTF-8");
  }
}

/** The server's current puzzle: `{seed, bits}`. */
export async function getWork() {
  const body = await json(await request("GET", "/work"));
  if (!body || typeof body.seed !== "string" || !Number.isInteger(body.bits) || body.bits < 0) {
    throw malformed("bad proof of work");
  }
  return { seed: body.seed, bits: body.bits };
}

/**
 * Start a resumable upload; resolves to its id. Tried first without work (a quiet server
 * asks for none); a 428 is answered by fetching the puzzle and solving it
 * (`onWork(tried, expected, bits)` hears the progress), a few times.
 */
export async function createUpload(onWork = () => {}) {
  let headers = {};
  for (let attempt = 1; ; attempt++) {
    try {
      const body = await json(await request("POST", "/uploads", { headers }));
      if (!body || typeof body.upload_id !== "string" || !ID.test(body.upload_id)) throw malformed("bad upload_id");
      return body.upload_id;
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 428 || attempt >= WORK_ATTEMPTS) throw error;
    }
    const { seed, bits } = await getWork();
    headers = bits === 0 ? {} : {
      "Amanat-Work": await solveWork(seed, bits, (tried, expected) => onWork(tried, expected, bits)),
    };
  }
}

/** The bytes the server holds of an open upload (HEAD). */
export async function uploadOffset(id) {
  if (!ID.test(id)) throw new ApiError(404, "no such upload");
  const response = await request("HEAD", `/uploads/${id}`, { timeoutMs: 60000 });
  const value = response.headers.get("Upload-Offset");
  if (value === null || !/^[0-9]{1,16}$/.test(value)) throw malformed("bad Upload-Offset");
  return count(Number(value), "Upload-Offset");
}

/** Append `bytes` at `offset`; resolves to the new offset. */
export async function patch(id, offset, bytes) {
  if (!ID.test(id)) throw new ApiError(404, "no such upload");
  const body = await json(await request("PATCH", `/uploads/${id}`, {
    headers: { "Upload-Offset": String(offset), "Content-Type": "application/octet-stream" },
    body: bytes,
  }));
  return count(body && body.offset, "offset");
}

/** Finish an upload: the server checks and stores the file and answers with its receipt. */
export async function finish(id) {
  if (!ID.test(id)) throw new ApiError(404, "no such upload");
  const body = await json(await request("POST", `/uploads/${id}/finish`));
  if (!body || typeof body !== "object" || !ID.test(body.id ?? "") || !SHA256.test(body.sha256 ?? "") ||
      !HOUR.test(body.received ?? "") || typeof body.entry !== "string" || typeof body.receipt !== "string") {
    throw malformed("bad receipt");
  }
  count(body.size, "size");
  count(body.log_index, "log_index");
  return body;
}

function secretHeader(secretHex) {
  if (typeof secretHex !== "string" || !/^(?:[0-9a-f]{2}){16,128}$/.test(secretHex)) {
    throw new ApiError(400, "malformed mailbox secret");
  }
  return { "Amanat-Mailbox-Secret": secretHex };
}

/** The replies waiting in the mailbox of `secretHex`: `[{id, sha256, size, received, log_index}]`. */
export async function mailbox(secretHex) {
  const body = await json(await request("GET", "/mailbox", { headers: secretHeader(secretHex) }), LISTING_BYTES);
  if (!body || !Array.isArray(body.replies)) throw malformed("bad mailbox listing");
  return body.replies.map((r) => {
    if (!r || !ID.test(r.id ?? "") || !SHA256.test(r.sha256 ?? "") || !HOUR.test(r.received ?? "")) {
      throw malformed("bad reply record");
    }
    return { id: r.id, sha256: r.sha256, size: count(r.size, "size"), received: r.received,
      log_index: count(r.log_index, "log_index") };
  });
}

/** One sealed reply, its SHA-256 checked against the server's `Amanat-Sha256`. */
export async function fetchReply(id, secretHex) {
  if (!ID.test(id)) throw new ApiError(404, "no such reply");
  const response = await request("GET", `/mailbox/replies/${id}`, { headers: secretHeader(secretHex) });
  const data = await readBounded(response, MAX_REPLY_BYTES);
  const claimed = response.headers.get("Amanat-Sha256");
  if (claimed !== null && claimed !== await digestHex(data)) throw malformed("the reply does not match its digest");
  return data;
}
