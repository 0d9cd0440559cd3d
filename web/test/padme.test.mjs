import { test } from "node:test";
import assert from "node:assert/strict";
import { padmeLength } from "../src/padme.js";
import { skipMessage, vectors } from "./vectors.mjs";

const data = vectors("padme.json");

test("PADMÉ lengths equal vault/padding.py's", { skip: data ? false : skipMessage("padme.json") }, () => {
  for (const [n, padded] of data.cases) assert.equal(padmeLength(n), padded, `n = ${n}`);
});

test("PADMÉ examples of docs/FORMAT.md and its properties", () => {
  assert.equal(padmeLength(70656), 71680);
  assert.equal(padmeLength(1000448), 1015808);
  assert.equal(padmeLength(104858624), 106954752);
  assert.equal(padmeLength(129), 144);
  assert.equal(padmeLength(0), 0);
  assert.equal(padmeLength(1), 1);
  for (let n = 2; n < 100000; n += 97) {
    const p = padmeLength(n);
    assert.ok(p >= n && p <= n * 1.1163 + 1, `n = ${n}`);
    assert.equal(padmeLength(p), p);
    if (n % 512 === 0) assert.equal(p % 512, 0);
  }
  assert.throws(() => padmeLength(-1), { code: "length" });
  assert.throws(() => padmeLength(1.5), { code: "length" });
});
