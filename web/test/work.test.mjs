import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { leadingZeroBits, solveWork } from "../src/work.js";
import { skipMessage, vectors } from "./vectors.mjs";

const data = vectors("work.json");

test("solutions equal vault/service/work.py's (smallest counter)", { skip: data ? false : skipMessage("work.json") }, async () => {
  for (const c of data.cases) {
    for (const engine of ["webcrypto", "noble"]) {
      if (c.bits > 14 && engine === "noble") continue;
      assert.equal(await solveWork(c.seed, c.bits, () => {}, { engine }), `${c.seed}.${c.counter}`, `${c.bits} bits`);
    }
  }
});

test("a solution has the zero bits asked for", async () => {
  const seed = Buffer.alloc(40, 7).toString("base64");
  let heard = 0;
  const solution = await solveWork(seed, 12, () => heard++);
  const counter = solution.split(".")[1];
  const digest = createHash("sha256").update(Buffer.concat([Buffer.alloc(40, 7), Buffer.from(counter)])).digest();
  assert.ok(leadingZeroBits(digest) >= 12);
  assert.equal(leadingZeroBits(Uint8Array.of(0, 0x80)), 8);
  assert.equal(leadingZeroBits(Uint8Array.of(0, 0x01)), 15);
  assert.equal(leadingZeroBits(new Uint8Array(2)), 16);
});

test("malformed puzzles are refused", async () => {
  const seed = Buffer.alloc(40).toString("base64");
  await assert.rejects(solveWork(Buffer.alloc(39).toString("base64"), 1), { code: "puzzle" });
  await assert.rejects(solveWork(seed, 25), { code: "puzzle" });
  await assert.rejects(solveWork(seed, -1), { code: "puzzle" });
  await assert.rejects(solveWork(seed, 1.5), { code: "puzzle" });
  await assert.rejects(solveWork("not base64!", 1), { code: "puzzle" });
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(solveWork(seed, 20, () => {}, { signal: controller.signal }), { code: "aborted" });
});
