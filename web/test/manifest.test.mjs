import { test } from "node:test";
import assert from "node:assert/strict";
import { SCHEMA_ID, canonicalJson, neutralName } from "../src/manifest.js";
import { fromB64, skipMessage, vectors } from "./vectors.mjs";

const data = vectors("bundle.json");
const text = (bytes) => new TextDecoder().decode(bytes);

test("canonical manifests equal vault.testimony's bytes", { skip: data ? false : skipMessage("bundle.json") }, () => {
  for (const c of data.cases) assert.deepEqual(canonicalJson(c.manifest), fromB64(c.manifest_json), c.name);
});

test("neutral names equal vault.witness.neutral_name", { skip: data ? false : skipMessage("bundle.json") }, () => {
  for (const [position, mediaType, name] of data.neutral_names) assert.equal(neutralName(position, mediaType), name);
});

test("canonicalJson follows Python's json.dumps(sort_keys, ensure_ascii=False, compact)", () => {
  assert.equal(SCHEMA_ID, "amanat/testimony/v2");
  const cases = [
    [{ b: 1, a: [true, false, null] }, '{"a":[true,false,null],"b":1}'],
    ["\u0000\u0001\u001f\b\f\n\r\t\"\\/\u007f\u2028\u2029", '"\\u0000\\u0001\\u001f\\b\\f\\n\\r\\t\\"\\\\/\u007f\u2028\u2029"'],
    ["é中😀", '"é中😀"'],
    // code point order: U+FFFF sorts before U+10000, which UTF-16 order gets wrong
    [{ "\u{10000}": 1, "\uffff": 2, "\ue000": 3, a: 4 }, '{"a":4,"\ue000":3,"\uffff":2,"\u{10000}":1}'],
    [{ "\u{1F600}": 1, "\u{1F600}a": 2, "\u{1F600}\u{1F601}": 3 }, '{"\u{1F600}":1,"\u{1F600}a":2,"\u{1F600}\u{1F601}":3}'],
    [[-5, 0, 9007199254740991], "[-5,0,9007199254740991]"],
    [{ a: undefined, b: [] }, '{"b":[]}'],
    [{}, "{}"],
  ];
  for (const [value, expected] of cases) assert.equal(text(canonicalJson(value)), expected);
});

test("canonicalJson refuses what Python would not write", () => {
  assert.throws(() => canonicalJson(1.5), { code: "number" });
  assert.throws(() => canonicalJson(NaN), { code: "number" });
  assert.throws(() => canonicalJson(Infinity), { code: "number" });
  assert.throws(() => canonicalJson("a\ud800"), { code: "surrogate" });
  assert.throws(() => canonicalJson({ "\udfff": 1 }), { code: "surrogate" });
  assert.throws(() => canonicalJson([undefined]), { code: "value" });
  assert.throws(() => canonicalJson(new Date(0)), { code: "value" });
  assert.throws(() => canonicalJson(() => 1), { code: "value" });
  const deep = [];
  let cursor = deep;
  for (let i = 0; i < 100; i++) cursor = cursor[0] = [];
  assert.throws(() => canonicalJson(deep), { code: "depth" });
});

test("random objects: keys sorted by code point, output parses back", () => {
  const alphabet = ["a", "b", "Z", "é", "\uffff", "\u{10000}", "\u{1F600}", "\ue000", "\n", "\u0001", '"'];
  for (let round = 0; round < 300; round++) {
    const value = {};
    for (let k = 0; k < 6; k++) {
      let key = "";
      for (let j = 0; j < 1 + (round + k) % 4; j++) key += alphabet[(round * 7 + k * 3 + j * 5) % alphabet.length];
      value[key] = [k, key];
    }
    const out = text(canonicalJson(value));
    const back = JSON.parse(out);
    assert.deepEqual(back, value);
    const keys = Object.keys(back);
    const byCodePoint = [...keys].sort((x, y) => {
      const a = [...x].map((c) => c.codePointAt(0));
      const b = [...y].map((c) => c.codePointAt(0));
      for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
      return a.length - b.length;
    });
    assert.deepEqual(keys.filter((k) => !/^[0-9]+$/.test(k)), byCodePoint.filter((k) => !/^[0-9]+$/.test(k)));
  }
});
