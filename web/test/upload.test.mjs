import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import * as api from "../src/api.js";
import { UploadError, sha256Blob, uploadResumable } from "../src/upload.js";

// An in-memory server speaking the upload protocol, with failures to inject.
function fakeServer({ work = 0 } = {}) {
  const uploads = new Map();
  const calls = [];
  const server = {
    calls,
    uploads,
    down: 0, // the next `down` requests fail as network errors (a restart)
    fail: [], // queued [method, status, headers] answers to give instead of the real one
    breakPatch: 0, // the next PATCH stores this many bytes, then the connection drops
    loseFinish: false, // the next finish stores the file, then the answer is lost
    needWork: work,
    async fetch(url, init) {
      calls.push({ url, init });
      for (const key of ["credentials", "cache", "referrerPolicy"]) assert.ok(init[key], key);
      assert.equal(init.credentials, "omit");
      assert.equal(init.cache, "no-store");
      assert.equal(init.referrerPolicy, "no-referrer");
      assert.ok(url.startsWith("/api/v1/"), url);
      if (server.down > 0) {
        server.down -= 1;
        throw new TypeError("fetch failed");
      }
      const method = init.method;
      const queued = server.fail.findIndex(([m]) => m === method);
      if (queued >= 0) {
        const [, status, headers = {}] = server.fail.splice(queued, 1)[0];
        return new Response(JSON.stringify({ error: "refused" }), { status, headers });
      }
      const path = url.slice("/api/v1".length);
      const h = new Headers(init.headers);
      if (method === "GET" && path === "/work") {
        return Response.json({ seed: Buffer.alloc(40, 9).toString("base64"), bits: 6, expires_in: 300 });
      }
      if (method === "POST" && path === "/uploads") {
        if (server.needWork && !h.get("Amanat-Work")) {
          server.needWork -= 1;
          return Response.json({ error: "proof of work needed: get a new one" }, { status: 428 });
        }
        const id = randomBytes(16).toString("hex");
        uploads.set(id, []);
        return Response.json({ upload_id: id, offset: 0, max_bytes: 1 << 30 }, { status: 201 });
      }
      const m = /^\/uploads\/([0-9a-f]{32})(\/finish)?$/.exec(path);
      const held = m && uploads.get(m[1]);
      if (!held) return Response.json({ error: "no such upload" }, { status: 404 });
      const offset = held.reduce((n, b) => n + b.length, 0);
      if (method === "HEAD") return new Response(null, { status: 200, headers: { "Upload-Offset": String(offset) } });
      if (method === "PATCH") {
        if (h.get("Upload-Offset") !== String(offset)) return Response.json({ error: "offset" }, { status: 409 });
        const body = new Uint8Array(init.body);
        if (server.breakPatch) {
          held.push(body.slice(0, server.breakPatch));
          server.breakPatch = 0;
          throw new TypeError("connection reset");
        }
        held.push(body);
        return Response.json({ upload_id: m[1], offset: offset + body.length, max_bytes: 1 << 30 });
      }
      if (method === "POST" && m[2]) {
        const data = Buffer.concat(held);
        uploads.delete(m[1]);
        const answer = {
          id: randomBytes(16).toString("hex"), sha256: createHash("sha256").update(data).digest("hex"),
          size: data.length, received: "2026-12-03T13:00Z", log_index: 7, entry: "amanat/event/v1\n", receipt: "c2sp.org/tlog-proof@v1\n",
        };
        if (server.loseFinish) {
          server.loseFinish = false;
          throw new TypeError("connection reset");
        }
        return Response.json(answer, { status: 201 });
      }
      return Response.json({ error: "?" }, { status: 405 });
    },
  };
  api.configure({ fetch: server.fetch, base: "/api/v1" });
  return server;
}

function clock() {
  const c = { t: 0, slept: [] };
  c.now = () => c.t;
  c.sleep = async (ms) => {
    c.slept.push(ms);
    c.t += ms;
  };
  return c;
}

const blobOf = (n) => new Blob([randomBytes(n)]);

test("uploads in chunks after solving the proof of work, and checks the receipt", async () => {
  const server = fakeServer({ work: 1 });
  const blob = blobOf(700 * 1024 + 5);
  const progress = [];
  let worked = 0;
  const c = clock();
  const answer = await uploadResumable(blob, { onProgress: (s, t) => progress.push([s, t]), onWork: () => worked++, ...c });
  assert.equal(answer.sha256, await sha256Blob(blob));
  assert.equal(answer.size, blob.size);
  assert.deepEqual(progress.at(-1), [blob.size, blob.size]);
  const patches = server.calls.filter((x) => x.init.method === "PATCH");
  assert.equal(patches.length, 3);
  assert.ok(server.calls.some((x) => x.url === "/api/v1/work"));
  const create = server.calls.filter((x) => x.url === "/api/v1/uploads");
  assert.equal(create.length, 2);
  assert.match(new Headers(create[1].init.headers).get("Amanat-Work"), /^[A-Za-z0-9+/=]+\.[0-9]+$/);
});

test("survives a server restart and a broken PATCH, resuming at the server's offset", async () => {
  const server = fakeServer();
  const blob = blobOf(600 * 1024);
  const c = clock();
  const waits = [];
  const run = uploadResumable(blob, { ...c, onWait: (w) => waits.push(w), random: () => 0.5 });
  server.breakPatch = 1000;
  server.down = 12;
  const answer = await run;
  assert.equal(answer.sha256, await sha256Blob(blob));
  assert.ok(waits.length > 0 && waits.every((w) => w.reason === "unreachable"));
  assert.ok(c.slept.every((ms) => ms <= 1000));
  // the bytes kept from the broken PATCH were not sent again
  const heads = server.calls.filter((x) => x.init.method === "HEAD");
  assert.ok(heads.length >= 1);
});

test("waits at least Retry-After on 507 and 503", async () => {
  const server = fakeServer();
  server.fail.push(["PATCH", 507, { "Retry-After": "20" }], ["POST", 503, { "Retry-After": "7" }]);
  const c = clock();
  const waits = [];
  await uploadResumable(blobOf(1000), { ...c, onWait: (w) => waits.push(w) });
  const total = c.slept.reduce((a, b) => a + b, 0);
  assert.ok(total >= 27000, String(total));
  assert.ok(waits.some((w) => w.reason === "full"));
});

test("409 and 400 make it ask the offset and go on", async () => {
  const server = fakeServer();
  server.fail.push(["PATCH", 409], ["PATCH", 400], ["PATCH", 408]);
  const c = clock();
  const blob = blobOf(300 * 1024);
  assert.equal((await uploadResumable(blob, c)).size, blob.size);
});

test("gives up after the patience without progress", async () => {
  const server = fakeServer();
  const c = clock();
  const run = uploadResumable(blobOf(10), { ...c, patienceMs: 60000 });
  server.down = 1e9;
  await assert.rejects(run, (e) => e instanceof UploadError && e.code === "gave-up");
  assert.ok(c.t >= 60000 && c.t < 62000, String(c.t));
});

test("a finish whose answer was lost: the upload gone means delivery unknown", async () => {
  const server = fakeServer();
  server.loseFinish = true;
  await assert.rejects(uploadResumable(blobOf(10), clock()), { code: "delivery-unknown" });
});

test("refusals are not retried; a lost upload is started again", async () => {
  let server = fakeServer();
  server.fail.push(["POST", 413]);
  await assert.rejects(uploadResumable(blobOf(10), clock()), { code: "refused", status: 413 });
  server = fakeServer();
  const blob = blobOf(300 * 1024);
  const c = clock();
  const run = uploadResumable(blob, { ...c, chunkBytes: 100 * 1024, onProgress: (s) => { if (s > 0 && server.uploads.size) server.uploads.clear(); } });
  await assert.rejects(run, { code: "gone" });
});

test("a receipt naming other bytes is refused", async () => {
  const server = fakeServer();
  const original = server.fetch;
  api.configure({
    fetch: async (url, init) => {
      const r = await original(url, init);
      if (url.endsWith("/finish")) {
        const body = await r.json();
        return Response.json({ ...body, sha256: "0".repeat(64) }, { status: 201 });
      }
      return r;
    },
  });
  await assert.rejects(uploadResumable(blobOf(10), clock()), { code: "integrity" });
});

test("the mailbox secret goes in a header, never in the URL", async () => {
  const secret = randomBytes(32).toString("hex");
  const seen = [];
  api.configure({
    fetch: async (url, init) => {
      seen.push({ url, init });
      if (url.endsWith("/mailbox")) {
        return Response.json({ replies: [{ id: "a".repeat(32), sha256: "b".repeat(64), size: 5, received: "2026-12-03T13:00Z", log_index: 3 }] });
      }
      const data = Buffer.from("hello");
      return new Response(data, { headers: { "Amanat-Sha256": createHash("sha256").update(data).digest("hex") } });
    },
  });
  const replies = await api.mailbox(secret);
  assert.equal(replies.length, 1);
  assert.deepEqual([...(await api.fetchReply(replies[0].id, secret))], [...Buffer.from("hello")]);
  for (const { url, init } of seen) {
    assert.ok(!url.includes(secret));
    assert.equal(new Headers(init.headers).get("Amanat-Mailbox-Secret"), secret);
  }
  await assert.rejects(api.mailbox("ABC"), { status: 400 });
});

test("a busy server that keeps asking for work is waited for, with a new puzzle each try", async () => {
  const server = fakeServer();
  // More refusals than one createUpload tries (each a puzzle solved that the server, busier
  // now, no longer takes).
  for (let i = 0; i < 6; i++) server.fail.push(["POST", 428]);
  const c = clock();
  const waits = [];
  const blob = blobOf(5000);
  const answer = await uploadResumable(blob, { ...c, onWait: (w) => waits.push(w), random: () => 0.5 });
  assert.equal(answer.sha256, await sha256Blob(blob));
  assert.ok(waits.length > 0 && waits.every((w) => w.reason === "busy"), JSON.stringify(waits));
  assert.ok(server.calls.filter((x) => x.url === "/api/v1/work").length >= 3);
});

test("an answer whose body stalls is broken off at the deadline, as no answer", async () => {
  api.configure({
    base: "/api/v1",
    timeoutMs: 200,
    fetch: async (_url, init) => {
      let controller;
      const body = new ReadableStream({
        start(c) {
          controller = c;
          c.enqueue(new TextEncoder().encode("{\"upl")); // the rest never comes
        },
      });
      // As a real fetch does, the body's stream fails when the request's signal aborts.
      init.signal.addEventListener("abort", () => controller.error(new Error("aborted")));
      return new Response(body, { status: 201, headers: { "Content-Type": "application/json" } });
    },
  });
  const started = Date.now();
  await assert.rejects(api.createUpload(), (error) => error instanceof api.ApiError && error.status === 0);
  assert.ok(Date.now() - started < 5000);
});
