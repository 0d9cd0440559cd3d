// Measurements for bench/web_bench.py (run through run.mjs like the test scenarios).
//
//   weight:  every resource the submission page loads, per language, with its size raw,
//            gzip -9 and brotli (quality 11), as the server sends them.
//   timings: in one browser, on the served page, the page's own modules (web/src, bundled
//            here with the esbuild of web/node_modules) timed directly: codename v2
//            derivation, verifying the served roster (both signatures) and sealing a
//            testimony of a given size to it.
//            Times are taken in node around each call: under resistFingerprinting the
//            page's clocks are coarse.

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync, brotliCompressSync, constants as zlib } from "node:zlib";
import { openBrowser } from "./driver.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const WEB = join(HERE, "..", "..", "..", "web");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function weight(input) {
  const page = await openBrowser("chromium");
  try {
    const out = [];
    for (const lang of input.langs) {
      page.records.reset();
      await page.goto(`${input.url}/${lang}/`);
      await page.waitFor("#send");
      await sleep(500);
      const urls = [...new Set(page.records.requests)];
      const resources = [];
      for (const url of urls) {
        if (url.startsWith("data:") || url.startsWith("blob:")) continue;
        const response = await fetch(url, { headers: { "accept-encoding": "identity" } });
        const body = Buffer.from(await response.arrayBuffer());
        resources.push({
          url, status: response.status, raw: body.length,
          gzip: gzipSync(body, { level: 9 }).length,
          brotli: brotliCompressSync(body, {
            params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: body.length },
          }).length,
        });
      }
      out.push({ lang, resources });
    }
    return { browser: page.version, pages: out };
  } finally {
    await page.close();
  }
}

async function benchBundle() {
  const esbuildPath = join(WEB, "node_modules", "esbuild");
  if (!existsSync(esbuildPath)) return null;
  const require = createRequire(join(WEB, "package.json"));
  const esbuild = require("esbuild");
  const result = await esbuild.build({
    stdin: {
      contents: [
        'import { newCodename, deriveV2 } from "./codename.js";',
        'import { seal } from "./seal.js";',
        'import { verifyRoster } from "./roster.js";',
        'import { getRoster } from "./api.js";',
        "globalThis.__amanatBench = { newCodename, deriveV2, seal, verifyRoster, getRoster };",
      ].join("\n"),
      resolveDir: join(WEB, "src"),
      loader: "js",
    },
    bundle: true, format: "iife", platform: "browser", write: false, minify: true,
    target: ["es2020"], logLevel: "silent",
  });
  return Buffer.from(result.outputFiles[0].contents).toString("utf8");
}

export async function timings(input) {
  const source = await benchBundle();
  if (source === null) return { skipped: "web/node_modules is missing (make web-deps)" };
  const page = await openBrowser(input.browser);
  try {
    await page.goto(`${input.url}/en/`);
    await page.waitFor("#send");
    await page.evaluate(`(() => { ${source}\n; return typeof __amanatBench; })`);
    const codename = [];
    for (let i = 0; i < (input.codenameRuns || 3); i++) {
      const t0 = process.hrtime.bigint();
      await page.evaluate(`(async () => {
        const keys = await __amanatBench.deriveV2(__amanatBench.newCodename());
        return keys.mailboxId.length;
      })`);
      codename.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    // The served roster verified as the page does: both signatures of the organization
    // key (Ed25519 and ML-DSA-44), the text fetched once beforehand.
    await page.evaluate(`(async () => { globalThis.__benchRoster = await __amanatBench.getRoster(); })`);
    const roster = [];
    for (let i = 0; i < (input.codenameRuns || 3); i++) {
      const t0 = process.hrtime.bigint();
      await page.evaluate(`(() => {
        const org = document.querySelector('meta[name="amanat-org"]').content;
        return __amanatBench.verifyRoster(globalThis.__benchRoster, org).version;
      })`);
      roster.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const size = input.sealBytes;
    await page.evaluate(`(async (size) => {
      const org = document.querySelector('meta[name="amanat-org"]').content;
      globalThis.__benchReaders = __amanatBench.verifyRoster(await __amanatBench.getRoster(), org).readers;
      const data = new Uint8Array(size);
      for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(size, i + 65536)));
      globalThis.__benchPlain = new Blob([data]);
      return globalThis.__benchReaders.length;
    })`, size);
    const t0 = process.hrtime.bigint();
    const sealedSize = await page.evaluate(`(async () => {
      const sealed = await __amanatBench.seal(globalThis.__benchReaders, globalThis.__benchPlain);
      return sealed.size;
    })`);
    const sealMs = Number(process.hrtime.bigint() - t0) / 1e6;
    return { browser: page.version, kind: input.browser, codenameMs: codename, rosterMs: roster,
      sealBytes: size,
      sealedSize, sealMs };
  } finally {
    await page.close();
  }
}
