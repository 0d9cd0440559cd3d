// Sealing: the bundle encrypted to every reader on the roster as an age v1 file
// (docs/FORMAT.md §1), with the npm age-encryption implementation, streamed in 64 KiB
// pieces so the page stays responsive and a progress bar can repaint between them.

import { Encrypter } from "age-encryption";

const PIECE = 64 * 1024;
const YIELD_MS = 40;

export class SealError extends Error {
  // codes: "recipients" (none, or not all post-quantum age1pq1… recipients), "input",
  // "failed"
  constructor(code, message) {
    super(message);
    this.name = "SealError";
    this.code = code;
  }
}

/** Let the event loop run (a repaint, an input event) before going on. */
export function nextTask() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * The recipient age-encryption makes of `text`, wrapped so that the event loop runs before
 * each ML-KEM encapsulation (a quarter of a second each with the JIT off): with many
 * readers the page still repaints between them. Falls back to the plain string when the
 * library keeps its recipients elsewhere.
 */
function yielding(text) {
  const probe = new Encrypter();
  probe.addRecipient(text); // throws on a malformed recipient
  const inner = Array.isArray(probe.recipients) ? probe.recipients[0] : null;
  if (!inner || typeof inner.wrapFileKey !== "function") return text;
  return {
    async wrapFileKey(fileKey) {
      await nextTask();
      return inner.wrapFileKey(fileKey);
    },
  };
}

/**
 * Seal `plaintext` (a Blob or Uint8Array) to `recipients` (age1pq1… strings). Resolves to a
 * Blob of the age file; `onProgress(done, total)` hears the plaintext bytes consumed.
 */
export async function seal(recipients, plaintext, onProgress = () => {}) {
  if (!Array.isArray(recipients) || recipients.length === 0) {
    throw new SealError("recipients", "there is nobody to seal to");
  }
  if (!recipients.every((r) => typeof r === "string" && r.startsWith("age1pq1"))) {
    throw new SealError("recipients", "testimony is sealed only to post-quantum recipients");
  }
  const blob = plaintext instanceof Blob ? plaintext : new Blob([plaintext]);
  const total = blob.size;
  const encrypter = new Encrypter();
  try {
    for (const recipient of recipients) encrypter.addRecipient(yielding(recipient));
  } catch {
    throw new SealError("recipients", "a recipient is not a valid age recipient");
  }
  let done = 0;
  let last = Date.now();
  const input = new ReadableStream({
    async pull(controller) {
      if (done >= total) {
        controller.close();
        return;
      }
      const end = Math.min(total, done + PIECE);
      const piece = new Uint8Array(await blob.slice(done, end).arrayBuffer());
      done = end;
      controller.enqueue(piece);
      onProgress(done, total);
      if (Date.now() - last >= YIELD_MS) {
        await nextTask();
        last = Date.now();
      }
    },
  }, { highWaterMark: 0 });
  const parts = [];
  try {
    const output = await encrypter.encrypt(input);
    const reader = output.getReader();
    for (;;) {
      const { done: finished, value } = await reader.read();
      if (finished) break;
      parts.push(value);
    }
  } catch {
    throw new SealError("failed", "sealing failed");
  }
  onProgress(total, total);
  return new Blob(parts, { type: "application/octet-stream" });
}
