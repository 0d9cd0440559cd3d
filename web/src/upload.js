// Sending a sealed testimony over a slow, fragile circuit (docs/PROTOCOL.md "Resumable
// uploads"; vault/client.py `send_resumable`).
//
// The file goes in chunks of 256 KiB, each a PATCH at the server's offset. When the
// server cannot be reached (a dropped circuit, a server restarting) or is busy (429, 5xx,
// 507 with Retry-After, 409 while an earlier request is still writing), the page waits
// (1 s doubling to 30 s, drawn between half and all of that, at least Retry-After) and asks
// HEAD for the offset, for at most 15 minutes without progress. A body the server reports
// cut off (400, 408) is resumed at once from the offset it holds. `finish` is tried again
// while HEAD still finds the upload. The receipt's SHA-256 and size are checked against
// the file the page sent.

import { sha256 } from "@noble/hashes/sha2.js";
import { hex } from "./bytes.js";
import * as api from "./api.js";

export const CHUNK_BYTES = 256 * 1024;
export const PATIENCE_MS = 15 * 60 * 1000;
const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;
const RESYNC_LIMIT = 5;
const RESTART_LIMIT = 2;
const YIELD_MS = 40;

export class UploadError extends Error {
  // codes: "gave-up" (no progress for the whole patience), "refused" (the server refused the
  // file or a request: `status`), "gone" (the server lost the upload, more than once),
  // "delivery-unknown" (the answer to finish was lost and the upload is gone: most likely
  // stored, its receipt never arrived), "integrity" (the server's receipt names other
  // bytes), "malformed" (an answer that contradicts the protocol)
  constructor(code, message, status = null) {
    super(message);
    this.name = "UploadError";
    this.code = code;
    this.status = status;
  }
}

function defaultSleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function retryable(error) {
  if (!(error instanceof api.ApiError)) return false;
  // 428: a busy server's puzzles could not be solved in time (or it asked again): wait, and
  // a new puzzle comes with the next try, as long as the patience lasts.
  return error.status === 0 || error.status === 428 || error.status === 429 || error.status === 409 ||
    error.status >= 500;
}

function reasonOf(error) {
  if (error.status === 0) return "unreachable";
  if (error.status === 507) return "full";
  return "busy";
}

const WHOLE_DIGEST_BYTES = 256 * 1024 * 1024;

/**
 * SHA-256 of a Blob as lowercase hex. WebCrypto (native code, fast also with the JIT off)
 * digests it in one piece up to 256 MiB; a larger Blob, or a page without WebCrypto, is
 * hashed with @noble/hashes in pieces (`onProgress(done, total)`), yielding to the event
 * loop so the page stays responsive.
 */
export async function sha256Blob(blob, onProgress = () => {}) {
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (subtle && blob.size <= WHOLE_DIGEST_BYTES) {
    const digest = new Uint8Array(await subtle.digest("SHA-256", await blob.arrayBuffer()));
    onProgress(blob.size, blob.size);
    return hex(digest);
  }
  const hasher = sha256.create();
  let last = Date.now();
  for (let offset = 0; offset < blob.size; offset += CHUNK_BYTES) {
    const end = Math.min(blob.size, offset + CHUNK_BYTES);
    hasher.update(new Uint8Array(await blob.slice(offset, end).arrayBuffer()));
    onProgress(end, blob.size);
    if (Date.now() - last >= YIELD_MS) {
      await defaultSleep(0);
      last = Date.now();
    }
  }
  return hex(hasher.digest());
}

/**
 * Upload `blob` (the sealed file) resumably and resolve to the server's answer to
 * `finish`: `{id, sha256, size, received, log_index, entry, receipt}` (verify the receipt
 * with tlog.js before telling the witness it worked).
 *
 * Options: `onProgress(sent, total)`; `onWait({reason, seconds, left})` about once a second
 * while waiting (reason "unreachable", "busy" or "full"; seconds until the next try, left
 * until giving up); `onWork(tried, expected, bits)` while solving a proof of work;
 * `chunkBytes`, `patienceMs`, `sleep`, `now`, `random` (tests).
 */
export async function uploadResumable(blob, options = {}) {
  const {
    onProgress = () => {}, onWait = () => {}, onWork = () => {},
    chunkBytes = CHUNK_BYTES, patienceMs = PATIENCE_MS,
    sleep = defaultSleep, now = () => Date.now(), random = Math.random,
  } = options;
  const size = blob.size;
  let since = null;
  let failures = 0;

  const succeeded = () => {
    since = null;
    failures = 0;
  };
  const wait = async (error) => {
    const start = now();
    if (since === null) since = start;
    failures += 1;
    const left = since + patienceMs - start;
    if (left <= 0) throw new UploadError("gave-up", "the server could not be reached or stayed busy for too long", error.status);
    const step = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (failures - 1));
    let delay = step / 2 + (step / 2) * random();
    if (error.retryAfter !== null && error.retryAfter !== undefined) delay = Math.max(delay, error.retryAfter * 1000);
    delay = Math.min(delay, left);
    let remaining = delay;
    while (remaining > 0) {
      onWait({ reason: reasonOf(error), seconds: Math.ceil(remaining / 1000), left: Math.ceil((left - (delay - remaining)) / 1000) });
      const piece = Math.min(1000, remaining);
      await sleep(piece);
      remaining -= piece;
    }
  };
  const refused = (error) => {
    if (error instanceof api.ApiError && error.code === "malformed") {
      return new UploadError("malformed", error.message);
    }
    if (error instanceof api.ApiError) return new UploadError("refused", error.message, error.status);
    return error;
  };
  const create = async () => {
    for (;;) {
      try {
        const id = await api.createUpload(onWork);
        succeeded();
        return id;
      } catch (error) {
        if (!retryable(error)) throw refused(error);
        await wait(error);
      }
    }
  };
  // The server's offset, checked: never below what it confirmed, never past the end.
  const held = async (id, kept) => {
    for (;;) {
      try {
        const offset = await api.uploadOffset(id);
        if (!(kept <= offset && offset <= size)) {
          throw new UploadError("malformed", "the server's offset contradicts what it confirmed");
        }
        return offset;
      } catch (error) {
        if (!retryable(error)) throw error;
        await wait(error);
      }
    }
  };

  let id = await create();
  let offset = 0;
  let restarts = 0;
  let resyncs = 0;
  let finishing = false;
  let finishLost = false; // a finish was sent whose answer never arrived
  onProgress(0, size);
  for (;;) {
    try {
      if (offset < size) {
        const count = Math.min(chunkBytes, size - offset);
        const bytes = new Uint8Array(await blob.slice(offset, offset + count).arrayBuffer());
        const taken = await api.patch(id, offset, bytes);
        if (taken !== offset + count) throw new UploadError("malformed", "the server holds another number of bytes than it took");
        offset = taken;
        resyncs = 0;
        succeeded();
        onProgress(offset, size);
        continue;
      }
      finishing = true;
      const answer = await api.finish(id);
      if (answer.size !== size || answer.sha256 !== await sha256Blob(blob)) {
        throw new UploadError("integrity", "the server stored other bytes than were sent");
      }
      return answer;
    } catch (error) {
      if (error instanceof UploadError) throw error;
      if (!(error instanceof api.ApiError)) throw error;
      if (error.status === 404 && finishing && finishLost) {
        throw new UploadError("delivery-unknown",
          "the connection broke while the server was storing the upload, and it no longer has it: it was most likely stored, but its receipt never arrived", 404);
      }
      if (error.status === 404) {
        // The server no longer has the upload (expired, or lost in a restart): start again.
        restarts += 1;
        if (restarts > RESTART_LIMIT) throw new UploadError("gone", "the server keeps losing the upload", 404);
        id = await create();
        offset = 0;
        finishing = false;
        finishLost = false;
        onProgress(0, size);
        continue;
      }
      if (retryable(error)) {
        if (finishing) finishLost = true;
        await wait(error);
      } else if (!finishing && (error.status === 400 || error.status === 408)) {
        resyncs += 1;
        if (resyncs > RESYNC_LIMIT) await wait(error);
        else await sleep(Math.min(5000, 250 * resyncs));
      } else {
        throw refused(error);
      }
      try {
        offset = await held(id, offset);
      } catch (gone) {
        if (gone instanceof api.ApiError && gone.status === 404) {
          if (finishing) {
            throw new UploadError("delivery-unknown",
              "the connection broke while the server was storing the upload, and it no longer has it: it was most likely stored, but its receipt never arrived", 404);
          }
          restarts += 1;
          if (restarts > RESTART_LIMIT) throw new UploadError("gone", "the server keeps losing the upload", 404);
          id = await create();
          offset = 0;
          onProgress(0, size);
          continue;
        }
        throw gone instanceof UploadError ? gone : refused(gone);
      }
      finishing = false;
      onProgress(offset, size);
    }
  }
}
