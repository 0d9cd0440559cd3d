// Speed of the core modules in node; not a test (under `node --test` it does nothing).
//
//   node test/bench.mjs               with the JIT
//   node --jitless test/bench.mjs     without it, as Tor Browser at "Safer" runs the page
//
// MB=<n> sets the size sealed (default 2).
import { Encrypter } from "age-encryption";
import { sha256 } from "@noble/hashes/sha2.js";
import { seal } from "../src/seal.js";
import { deriveV2, newCodename } from "../src/codename.js";
import { openReply } from "../src/reply.js";
import { solveWork } from "../src/work.js";

if (!process.env.NODE_TEST_CONTEXT) {
  const MB = Number(process.env.MB || 2);
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const time = async (f) => {
    const t = performance.now();
    await f();
    return performance.now() - t;
  };
  await deriveV2(newCodename());
  const derive = [];
  for (let i = 0; i < 5; i++) derive.push(await time(() => deriveV2(newCodename())));
  console.log(`codename v2 derivation: ${median(derive).toFixed(0)} ms (median of 5)`);
  const readers = [];
  for (let i = 0; i < 3; i++) readers.push((await deriveV2(newCodename())).recipient);
  const data = new Uint8Array(MB * 1024 * 1024).map((_, i) => i & 0xff);
  const kem = await time(() => seal(readers, new Uint8Array(0)));
  console.log(`sealing an empty file to 3 readers (3 ML-KEM encapsulations): ${kem.toFixed(0)} ms`);
  const sealing = await time(() => seal(readers, new Blob([data])));
  console.log(`sealing ${MB} MiB to 3 readers: ${sealing.toFixed(0)} ms, ` +
    `${(MB / ((sealing - kem) / 1000)).toFixed(2)} MiB/s after the encapsulations`);
  const hashing = await time(() => sha256(data));
  console.log(`SHA-256 in plain JavaScript: ${(MB / (hashing / 1000)).toFixed(2)} MiB/s`);
  const webcrypto = await time(() => crypto.subtle.digest("SHA-256", data));
  console.log(`SHA-256 with WebCrypto: ${(MB / (webcrypto / 1000)).toFixed(0)} MiB/s`);
  const seed = Buffer.alloc(40, 1).toString("base64");
  for (const engine of ["webcrypto", "noble"]) {
    let counter = 0;
    const ms = await time(async () => {
      counter = Number((await solveWork(seed, 16, () => {}, { engine })).split(".")[1]);
    });
    console.log(`proof of work with ${engine}: ${((counter + 1) / (ms / 1000)).toFixed(0)} hashes/s`);
  }
  // Last: age-encryption reads whole files through `Response`, and node's Response loads a
  // WebAssembly HTTP parser it cannot have with --jitless (a browser's Response needs none).
  process.on("uncaughtException", (error) => {
    if (!String(error).includes("WebAssembly")) throw error;
  });
  const keys = await deriveV2(newCodename());
  const e = new Encrypter();
  e.addRecipient(keys.recipient);
  const reply = await e.encrypt(new Uint8Array([...new TextEncoder().encode("amanat/reply/v2\nhello"), 0x80]));
  const opens = [];
  for (let i = 0; i < 5; i++) opens.push(await time(() => openReply(reply, keys.identity)));
  console.log(`opening a reply (ML-KEM decapsulation): ${median(opens).toFixed(0)} ms (median of 5)`);
}
