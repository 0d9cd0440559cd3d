// The witness page's reproducible build: `npm ci && node build.mjs`.
//
// Writes api/static/ from web/src (bundled with esbuild), web/style.css, the message
// catalogs in web/i18n and docs/testimony.schema.json:
//
//   index.html                   the language choice (no script)
//   <lang>/index.html            the submission page, for each language
//   <lang>/replies.html          the replies page
//   assets/<name>-<hash>.js|css  bundles, named after their content
//   assets/licenses.txt          the licences of everything bundled
//   build.json                   {"files": {"<path>": "<sha256 hex>"}} of every file above
//
// The output is a function of the sources alone: sorted iteration, no times, no absolute
// paths, esbuild's exact version from package-lock.json. CI runs the build and fails when
// `git diff --exit-code api/static` shows a difference. The catalogs are checked first:
// every catalog has exactly en.json's keys, the same placeholders, and the plural forms its
// language needs (Intl.PluralRules).

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { questionKeys, repliesPage, rootPage, submitPage, ORG_META } from "./templates/pages.mjs";

const WEB = dirname(fileURLToPath(import.meta.url));
const ROOT = join(WEB, "..");
const OUT = join(ROOT, "api", "static");
export const LANGS = ["en", "ug", "kk", "ru", "zh", "tr"];
// Firefox ESR 128 is Tor Browser's base; Chromium for the others; WebKit for Onion Browser.
const TARGET = ["es2020", "firefox128", "chrome109", "safari15"];
// Per language, HTML + JS + CSS compressed with gzip -9.
const BUDGET_BYTES = 150 * 1024;

const ICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#0b5d4b"/><path d="M10 15v-3a6 6 0 0 1 12 0v3h1.5v11h-15V15zm3 0h6v-3a3 3 0 0 0-6 0z" fill="#fff"/></svg>\n';
const sha256 = (data) => createHash("sha256").update(data).digest("hex");
const sri = (data) => `sha384-${createHash("sha384").update(data).digest("base64")}`;

// --- catalogs ----------------------------------------------------------------------------------

function placeholders(text) {
  return [...text.matchAll(/\{([a-zA-Z0-9_]+)\}/g)].map((m) => m[1]).sort();
}

function sameList(a, b) {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Every problem with the catalogs, one line each. */
export function checkCatalogs(cats, schema) {
  const problems = [];
  const en = cats.en;
  for (const key of questionKeys(schema)) {
    if (!(key in en)) problems.push(`en.json: missing ${key} (a question of docs/testimony.schema.json)`);
  }
  for (const lang of LANGS) {
    const cat = cats[lang];
    const rules = new Intl.PluralRules(cat["meta.tag"] || lang);
    const needed = rules.resolvedOptions().pluralCategories.slice().sort();
    for (const key of Object.keys(en)) {
      if (!(key in cat)) { problems.push(`${lang}.json: missing ${key}`); continue; }
      const want = en[key];
      const have = cat[key];
      if (typeof want === "string") {
        if (typeof have !== "string") { problems.push(`${lang}.json: ${key} must be text`); continue; }
        if (have.trim() === "") problems.push(`${lang}.json: ${key} is empty`);
        if (!sameList(placeholders(have), placeholders(want))) {
          problems.push(`${lang}.json: ${key} has placeholders {${placeholders(have)}}, en.json {${placeholders(want)}}`);
        }
        continue;
      }
      if (typeof have !== "object" || have === null || Array.isArray(have)) {
        problems.push(`${lang}.json: ${key} must be plural forms {${needed.join(", ")}}`);
        continue;
      }
      const forms = Object.keys(have).sort();
      if (!sameList(forms, needed)) {
        problems.push(`${lang}.json: ${key} has plural forms {${forms}}, ${lang} needs {${needed}}`);
      }
      const wanted = placeholders(want.other);
      for (const form of forms) {
        const got = placeholders(String(have[form]));
        // A form for exactly one ("one") may spell the number out; no other may differ.
        const ok = sameList(got, wanted) || (form === "one" && got.every((p) => wanted.includes(p)));
        if (!ok) problems.push(`${lang}.json: ${key}.${form} has placeholders {${got}}, en.json {${wanted}}`);
      }
    }
    for (const key of Object.keys(cat)) {
      if (!(key in en)) problems.push(`${lang}.json: extra key ${key} (not in en.json)`);
    }
    if (!["ltr", "rtl"].includes(cat["meta.dir"])) problems.push(`${lang}.json: meta.dir must be ltr or rtl`);
  }
  return problems;
}

function readCatalogs() {
  const cats = {};
  for (const lang of LANGS) {
    cats[lang] = JSON.parse(readFileSync(join(WEB, "i18n", `${lang}.json`), "utf8"));
  }
  return cats;
}

// --- bundles ---------------------------------------------------------------------------------

async function bundle(entry) {
  const result = await esbuild.build({
    absWorkingDir: WEB,
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: "esm",
    target: TARGET,
    platform: "browser",
    sourcemap: false,
    legalComments: "external",
    charset: "utf8",
    metafile: true,
    write: false,
    outdir: "out",
    logLevel: "warning",
  });
  const code = result.outputFiles.find((f) => /\.(js|css)$/.test(f.path));
  const legal = result.outputFiles.find((f) => f.path.endsWith(".LEGAL.txt"));
  return {
    code: Buffer.from(code.contents),
    legal: legal ? Buffer.from(legal.contents).toString("utf8") : "",
    inputs: Object.keys(result.metafile.inputs).sort(),
  };
}

function licenses(inputs, legalTexts) {
  // Each bundled file's package: the folder after its last node_modules/ (a package nested
  // in another's node_modules is its own package, with its own licence).
  const packages = new Set();
  for (const input of inputs) {
    const m = input.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//);
    if (m) packages.add(m[1]);
  }
  const parts = [
    "The amanat witness page",
    "=======================",
    "",
    "This page is part of amanat, licensed under the GNU Affero General Public License,",
    "version 3 or (at your option) any later version (AGPL-3.0-or-later). Its source is",
    "the web/ folder of the amanat repository; `npm ci && node build.mjs` there rebuilds",
    "these files byte for byte.",
    "",
    "It includes the following packages, under their own licences.",
    "",
  ];
  for (const folder of [...packages].sort()) {
    const dir = join(WEB, folder);
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    parts.push(`${"-".repeat(78)}`, `${pkg.name} ${pkg.version} (${pkg.license})`, "");
    const file = readdirSync(dir).sort().find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
    parts.push(file ? readFileSync(join(dir, file), "utf8").trim() : `License: ${pkg.license}`, "");
  }
  const legal = [...new Set(legalTexts.filter(Boolean))].join("\n").trim();
  if (legal) parts.push("-".repeat(78), "Notices kept from the bundled code", "", legal, "");
  return parts.join("\n");
}

// --- output ----------------------------------------------------------------------------------

function listFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

function gzipSize(data) {
  return zlibSync.gzipSync(data, { level: 9 }).length;
}
import * as zlibSync from "node:zlib";

async function main() {
  const schema = JSON.parse(readFileSync(join(ROOT, "docs", "testimony.schema.json"), "utf8"));
  const cats = readCatalogs();
  const problems = checkCatalogs(cats, schema);
  if (problems.length) {
    for (const p of problems) console.error(`build: ${p}`);
    console.error(`build: ${problems.length} catalog problem(s); nothing written`);
    process.exit(1);
  }

  const files = new Map(); // path relative to api/static → Buffer
  const hashed = (stem, ext, data) => {
    const path = `assets/${stem}-${sha256(data).slice(0, 16)}.${ext}`;
    files.set(path, data);
    return { path, integrity: sri(data) };
  };

  const main = await bundle("src/main.js");
  const replies = await bundle("src/replies-main.js");
  const css = await bundle("style.css");
  const assets = {
    main: hashed("main", "js", main.code),
    replies: hashed("replies", "js", replies.code),
    css: hashed("style", "css", css.code),
  };
  // An icon of its own, so that the browser does not ask for /favicon.ico (a 404).
  assets.icon = hashed("icon", "svg", Buffer.from(ICON));
  files.set("assets/licenses.txt",
    Buffer.from(licenses([...main.inputs, ...replies.inputs], [main.legal, replies.legal, css.legal])));

  const weights = [];
  for (const lang of LANGS) {
    const cat = cats[lang];
    const submit = Buffer.from(submitPage({ lang, cat, schema, assets }));
    const repliesHtml = Buffer.from(repliesPage({ lang, cat, assets }));
    files.set(`${lang}/index.html`, submit);
    files.set(`${lang}/replies.html`, repliesHtml);
    const weight = gzipSize(submit) + gzipSize(main.code) + gzipSize(css.code);
    weights.push(`${lang} ${(weight / 1024).toFixed(1)} KiB`);
    if (weight > BUDGET_BYTES) {
      console.error(`build: the ${lang} page weighs ${weight} bytes compressed, over the ${BUDGET_BYTES} budget`);
      process.exit(1);
    }
  }
  files.set("index.html", Buffer.from(rootPage({ langs: LANGS, cats, assets })));

  for (const [path, data] of files) {
    if (path.endsWith(".html")) {
      const text = data.toString("utf8");
      if (text.split(ORG_META).length !== 2) throw new Error(`${path}: the organization placeholder must appear once`);
      if (/<script(?![^>]*\b(?:src=|type="application\/json"))/i.test(text) || /\sstyle=|\son[a-z]+=/i.test(text)) {
        throw new Error(`${path}: inline script, style or event handler`);
      }
    }
  }

  // Write: remove what this build does not write, then every file, then build.json.
  const wanted = new Set([...files.keys(), "build.json"]);
  for (const path of listFiles(OUT)) {
    if (!wanted.has(relative(OUT, path).split("\\").join("/"))) rmSync(path);
  }
  const listing = {};
  for (const path of [...files.keys()].sort()) {
    const target = join(OUT, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, files.get(path));
    listing[path] = sha256(files.get(path));
  }
  writeFileSync(join(OUT, "build.json"), `${JSON.stringify({ files: listing }, null, 1)}\n`);
  for (const dir of readdirSync(OUT).sort()) {
    const path = join(OUT, dir);
    if (statSync(path).isDirectory() && readdirSync(path).length === 0) rmSync(path, { recursive: true });
  }
  console.log(`build: ${files.size + 1} files in api/static; compressed page weight: ${weights.join(", ")}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
