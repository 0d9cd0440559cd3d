import { test } from "node:test";
import assert from "node:assert/strict";
import { orgFingerprint } from "../src/fingerprint.js";
import { skipMessage, vectors } from "./vectors.mjs";

const data = vectors("fingerprint.json");

test("fingerprints equal keys/fingerprint.py's", { skip: data ? false : skipMessage("fingerprint.json") }, () => {
  for (const { vkey, fingerprint } of data.cases) assert.equal(orgFingerprint(vkey), fingerprint);
});

test("a fingerprint is six groups of five digits and changes with the key", () => {
  const a = orgFingerprint("example.org/amanat+23d16a2d+ASQUrU80kHu17skxEkrii+Ha+zQEj696Grg+VjUFntGH");
  assert.match(a, /^[0-9]{5}( [0-9]{5}){5}$/);
  assert.notEqual(a, orgFingerprint("example.org/amanat+23d16a2d+ASQUrU80kHu17skxEkrii+Ha+zQEj696Grg+VjUFntGI"));
});

test("the classical policy prefix is not part of the key", () => {
  const vkey = "example.org/amanat+23d16a2d+ASQUrU80kHu17skxEkrii+Ha+zQEj696Grg+VjUFntGH";
  assert.equal(orgFingerprint(`classical ${vkey}`), orgFingerprint(vkey));
});
