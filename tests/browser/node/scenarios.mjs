// What the browser tests do with the witness page, one function per scenario.
//
// Each takes the JSON the test sent (server URL, language, inputs) and an `emit(event)`
// that reports progress to the test while the scenario runs, and returns plain data for
// the test to judge: the scenarios drive and observe, the Python tests assert. The DOM
// they drive is web/README.md's "DOM contract".

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { openBrowser } from "./driver.mjs";

const require = createRequire(import.meta.url);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Runs fn with a fresh browser page; on failure, attaches a screenshot and what the page
// recorded to the error, so the test can show them.
async function withPage(kind, options, input, fn) {
  const page = await openBrowser(kind, options);
  try {
    return await fn(page);
  } catch (error) {
    error.records = page.records.toJSON();
    if (input.artifacts) {
      const shot = join(input.artifacts, `failure-${kind}-${Date.now()}.png`);
      try {
        await page.screenshot(shot);
        error.screenshot = shot;
      } catch { /* the page may be gone */ }
      try {
        error.pageText = await page.evaluate(`(() => document.body ? document.body.innerText : "")`);
      } catch { /* the page may be gone */ }
    }
    throw error;
  } finally {
    await page.close();
  }
}

// What the page shows about its progress and outcome, read in one evaluate.
const STATE = `(() => {
  const q = (s) => document.querySelector(s);
  const shown = (e) => {
    if (!e || !e.isConnected || e.closest("[hidden]")) return false;
    const st = getComputedStyle(e);
    if (st.display === "none" || st.visibility === "hidden") return false;
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const bar = (s) => {
    const e = q(s);
    if (!e) return null;
    return { value: e.position >= 0 ? e.value : null, max: e.max, position: e.position, shown: shown(e) };
  };
  const text = (s) => { const e = q(s); return e ? e.textContent.trim() : null; };
  return {
    seal: bar("#seal-progress"), upload: bar("#upload-progress"),
    status: text("#status"), error: shown(q("#error")) ? text("#error") : null,
    done: shown(q("#done")),
  };
})`;

// Waits until done or an error, emitting progress events; returns the last state and
// when (ms after `started`) sealing and uploading were first seen moving.
async function followProgress(page, emit, { timeout, started }) {
  const deadline = Date.now() + timeout;
  const marks = { sealFirst: null, sealFull: null, uploadFirst: null, uploadFull: null, done: null };
  const statuses = [];
  let lastEmitted = "";
  let state = null;
  while (Date.now() < deadline) {
    try {
      state = await page.evaluate(STATE);
    } catch (error) {
      state = { evaluateError: String(error.message) };
    }
    const now = Date.now() - started;
    if (state.status && statuses[statuses.length - 1] !== state.status) statuses.push(state.status);
    const seal = state.seal, upload = state.upload;
    if (seal && seal.value > 0 && marks.sealFirst === null) marks.sealFirst = now;
    if (seal && seal.value > 0 && seal.value >= seal.max && marks.sealFull === null) marks.sealFull = now;
    if (upload && upload.value > 0 && marks.uploadFirst === null) marks.uploadFirst = now;
    if (upload && upload.value > 0 && upload.value >= upload.max && marks.uploadFull === null) marks.uploadFull = now;
    const summary = JSON.stringify([seal && seal.value, upload && upload.value, state.status, state.error]);
    if (summary !== lastEmitted) {
      lastEmitted = summary;
      emit({ event: "progress", ms: now, seal, upload, status: state.status, error: state.error });
    }
    if (state.done) {
      marks.done = now;
      return { state, marks, statuses };
    }
    if (state.error) return { state, marks, statuses };
    await sleep(50);
  }
  throw new Error(`no outcome after ${timeout} ms; last state ${JSON.stringify(state)}`);
}

// The witness fills in the form and sends it.
//
// input: url, lang, statement, files [paths], keepMetadata (tick every input.keep-metadata),
// consent, wantReply (default true), persons [{field: value}], timeout (ms),
// throttleUpload (bytes/s, Chromium), hideCodename (press #codename-done at the end).
export async function submit(input, emit) {
  const kind = input.browser || "chromium";
  return withPage(kind, input.browserOptions || {}, input, async (page) => {
    const url = `${input.url}/${input.lang || "en"}/`;
    await page.goto(url);
    await page.waitFor("#send", { timeout: 30000 });
    await page.waitFor("#statement");
    const fingerprint = (await page.text("#org-fingerprint")) || "";
    if (input.statement !== undefined) await page.fill("#statement", input.statement);
    if (input.consent) await page.select("#consent", input.consent);
    for (const person of input.persons || []) {
      const before = await page.evaluate(`(() => document.querySelectorAll("fieldset.person").length)`);
      await page.click("#add-person");
      await page.waitUntil(`((n) => document.querySelectorAll("fieldset.person").length > n)`, before,
        { what: "a new fieldset.person" });
      for (const [field, value] of Object.entries(person)) {
        const selector = `fieldset.person:last-of-type [name="${field}"]`;
        const tag = await page.evaluate(`((s) => { const e = document.querySelector(s); return e ? e.tagName : null; })`, selector);
        if (tag === null) throw new Error(`no control named ${field} in fieldset.person`);
        if (tag === "SELECT") await page.select(selector, value);
        else await page.fill(selector, value);
      }
    }
    const files = input.files || [];
    let fileItems = [];
    if (files.length) {
      await page.setInputFiles("#files", files);
      await page.waitUntil(`((n) => document.querySelectorAll("#file-list li.file").length >= n)`,
        files.length, { what: `${files.length} li.file in #file-list`, timeout: 60000 });
      // Cleaning runs on the device: wait until the list stops changing.
      let previous = "";
      for (let i = 0; i < 100; i++) {
        const now = await page.evaluate(`(() => document.querySelector("#file-list").innerHTML)`);
        if (now === previous) break;
        previous = now;
        await sleep(300);
      }
      if (input.keepMetadata) {
        const boxes = await page.evaluate(`(() => document.querySelectorAll("#file-list input.keep-metadata").length)`);
        if (boxes === 0) throw new Error("no input.keep-metadata to confirm in #file-list");
        for (let i = 0; i < boxes; i++) {
          const selector = `#file-list li.file input.keep-metadata`;
          await page.evaluate(`((i) => document.querySelectorAll(${JSON.stringify(selector)})[i].setAttribute("data-test-box", String(i)))`, i);
          const checked = await page.evaluate(`((i) => document.querySelectorAll(${JSON.stringify(selector)})[i].checked)`, i);
          if (!checked) await page.click(`[data-test-box="${i}"]`);
        }
      }
      fileItems = await page.evaluate(`(() => [...document.querySelectorAll("#file-list li.file")].map((li) => ({
        text: li.textContent.trim(),
        keep: !!li.querySelector("input.keep-metadata"),
        kept: !!(li.querySelector("input.keep-metadata") || {}).checked })))`);
    }
    if (input.wantReply !== undefined) {
      const checked = await page.evaluate(`(() => document.querySelector("#want-reply").checked)`);
      if (checked !== input.wantReply) await page.click("#want-reply");
    }
    if (input.throttleUpload) await page.throttle(input.throttleUpload);
    emit({ event: "sending" });
    const started = Date.now();
    await page.click("#send");
    const { state, marks, statuses } = await followProgress(page, emit,
      { timeout: input.timeout || 240000, started });
    const out = {
      browser: page.version, url, fingerprint, fileItems, state, marks, statuses,
      receiptId: await page.text("#receipt-id"),
      receiptVerified: await page.text("#receipt-verified"),
      receiptVerifiedShown: await page.visible("#receipt-verified"),
      codename: await page.text("#codename"),
      codenameShown: await page.visible("#codename"),
      location: await page.evaluate(`(() => location.href)`),
    };
    if (state.done && input.hideCodename && out.codenameShown) {
      await page.click("#codename-done");
      await sleep(300);
      out.codenameShownAfterDone = await page.visible("#codename");
      out.codenameTextAfterDone = await page.text("#codename");
    }
    out.storage = await page.storage();
    out.records = page.records.toJSON();
    return out;
  });
}

// The witness reads answers with their codename, typed as a person would.
// input: url, lang, codename, expect (number of replies to wait for), timeout.
export async function replies(input) {
  const kind = input.browser || "chromium";
  return withPage(kind, input.browserOptions || {}, input, async (page) => {
    const url = `${input.url}/${input.lang || "en"}/replies.html`;
    await page.goto(url);
    await page.waitFor("#codename-input");
    await page.type("#codename-input", input.codename);
    const started = Date.now();
    await page.click("#open-replies");
    const expect = input.expect ?? 1;
    // Until the replies are listed or an error is shown; or until #status has said the same
    // thing for `settle` ms (e.g. "no answers yet") with nothing listed.
    const settle = input.settle || 8000;
    const deadline = Date.now() + (input.timeout || 60000);
    let lastStatus = null, since = Date.now(), outcome = null;
    while (outcome === null) {
      if (Date.now() > deadline) throw new Error(`no replies, error or settled status in time (status ${JSON.stringify(lastStatus)})`);
      const seen = await page.evaluate(`(() => {
        const err = document.querySelector("#error");
        const errShown = !!err && !err.closest("[hidden]") && err.textContent.trim() !== "" &&
          getComputedStyle(err).display !== "none";
        return { count: document.querySelectorAll("#replies li.reply").length, errShown,
          status: ((document.querySelector("#status") || {}).textContent || "").trim() };
      })`);
      if (seen.count >= expect) outcome = "listed";
      else if (seen.errShown) outcome = "error";
      else {
        if (seen.status !== lastStatus) { lastStatus = seen.status; since = Date.now(); }
        else if (seen.status && Date.now() - since > settle) outcome = "settled";
      }
      if (outcome === null) await sleep(100);
    }
    const elapsed = Date.now() - started;
    const found = await page.evaluate(`(() => ({
      replies: [...document.querySelectorAll("#replies li.reply")].map((li) => {
        const t = li.querySelector(".reply-text");
        return t ? t.textContent : null;
      }),
      status: (document.querySelector("#status") || {}).textContent || "",
      error: (document.querySelector("#error") || {}).textContent || "",
      location: location.href,
    }))`);
    return { ...found, outcome, ms: elapsed, storage: await page.storage(), records: page.records.toJSON() };
  });
}

// In-page: what a catalog check and the layout check need from one page.
const PAGE_FACTS = `(() => {
  const shown = (e) => {
    if (!e || !e.isConnected || e.closest("[hidden]")) return false;
    const st = getComputedStyle(e);
    if (st.display === "none" || st.visibility === "hidden") return false;
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const attrs = [];
  for (const e of document.querySelectorAll("[placeholder],[title],[aria-label],[alt],input[type=button],input[type=submit]")) {
    if (!shown(e) && e.tagName !== "HTML") continue;
    for (const a of ["placeholder", "title", "aria-label", "alt", "value"]) {
      const v = e.getAttribute(a);
      if (v && (a !== "value" || e.type === "button" || e.type === "submit")) attrs.push(v);
    }
  }
  const box = (e) => { const r = e.getBoundingClientRect(); return { left: r.left, right: r.right, top: r.top, width: r.width, height: r.height }; };
  const pairs = [];
  for (const label of document.querySelectorAll("label[for]")) {
    const control = document.getElementById(label.htmlFor);
    if (!control || !shown(label) || !shown(control)) continue;
    pairs.push({ for: label.htmlFor, type: control.type || control.tagName.toLowerCase(), label: box(label), control: box(control) });
  }
  const statement = document.querySelector("#statement");
  return {
    htmlLang: document.documentElement.lang,
    dir: document.documentElement.dir,
    computedDir: getComputedStyle(document.documentElement).direction,
    title: document.title,
    text: document.body ? document.body.innerText : "",
    attrs,
    pairs,
    statement: statement ? {
      box: box(statement), textAlign: getComputedStyle(statement).textAlign,
      direction: getComputedStyle(statement).direction, shown: shown(statement),
    } : null,
    send: document.querySelector("#send") ? { box: box(document.querySelector("#send")), shown: shown(document.querySelector("#send")) } : null,
    viewport: { width: innerWidth, height: innerHeight },
  };
})`;

// Every language's submission and replies pages, with scripts on: what each shows.
// input: url, langs, artifacts (screenshots go there), statement (typed into #statement
// before the screenshot, to show its alignment).
export async function languages(input) {
  const kind = input.browser || "chromium";
  return withPage(kind, input.browserOptions || {}, input, async (page) => {
    const pages = [];
    for (const lang of input.langs) {
      for (const which of ["submit", "replies"]) {
        page.records.reset();
        const url = which === "submit" ? `${input.url}/${lang}/` : `${input.url}/${lang}/replies.html`;
        await page.goto(url);
        await page.waitFor(which === "submit" ? "#send" : "#open-replies");
        if (which === "submit") {
          // Show every part of the form: a person's questions and a file's entry.
          if (await page.visible("#add-person")) {
            await page.click("#add-person");
            await page.waitFor("fieldset.person");
          }
          if (input.statement) await page.fill("#statement", input.statement);
          if (input.sampleFile) {
            await page.setInputFiles("#files", [input.sampleFile]);
            await page.waitFor("#file-list li.file");
            await sleep(300);
          }
        }
        await sleep(100);
        const facts = await page.evaluate(PAGE_FACTS);
        let screenshot = null;
        if (input.artifacts && (which === "submit")) {
          screenshot = join(input.artifacts, `${kind}-${lang}-${which}.png`);
          await page.screenshot(screenshot);
        }
        pages.push({ lang, which, url, screenshot, ...facts, records: page.records.toJSON() });
      }
    }
    return { browser: page.version, pages };
  });
}

// Every page with scripts off: what it shows instead.
// input: url, langs, browser.
export async function noscript(input) {
  const kind = input.browser || "chromium";
  return withPage(kind, { ...(input.browserOptions || {}), javaScript: false }, input, async (page) => {
    const pages = [];
    for (const lang of input.langs) {
      for (const path of [`/${lang}/`, `/${lang}/replies.html`]) {
        page.records.reset();
        await page.goto(input.url + path);
        const facts = await page.evaluate(`(() => {
          const shown = (e) => {
            if (!e || !e.isConnected || e.closest("[hidden]")) return false;
            const st = getComputedStyle(e);
            if (st.display === "none" || st.visibility === "hidden") return false;
            const r = e.getBoundingClientRect();
            return r.width > 0 && r.height > 0;
          };
          const send = document.querySelector("#send");
          const usable = [...document.querySelectorAll("button, input, select, textarea")]
            .filter((e) => shown(e) && !e.disabled).map((e) => e.id || e.name || e.tagName.toLowerCase());
          return {
            htmlLang: document.documentElement.lang, dir: document.documentElement.dir,
            text: document.body ? document.body.innerText : "",
            send: send ? { shown: shown(send), disabled: send.disabled } : null,
            usableControls: usable,
            scriptRan: typeof window.__amanatScriptProbe !== "undefined",
            forms: [...document.forms].map((f) => ({ action: f.getAttribute("action"), method: f.method, shown: shown(f) })),
          };
        })`);
        let screenshot = null;
        if (input.artifacts && lang === input.langs[0]) {
          screenshot = join(input.artifacts, `${kind}-nojs-${lang}${path.endsWith("html") ? "-replies" : ""}.png`);
          await page.screenshot(screenshot);
        }
        pages.push({ lang, path, screenshot, ...facts, records: page.records.toJSON() });
      }
    }
    return { browser: page.version, pages };
  });
}

// axe-core on each page (Chromium), a check that every control has a label, and the Tab
// order on the submission page.
// input: url, paths, tabTarget ("send"), maxTabs.
export async function accessibility(input) {
  const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  const kind = input.browser || "chromium";
  return withPage(kind, input.browserOptions || {}, input, async (page) => {
    const results = [];
    for (const path of input.paths) {
      page.records.reset();
      await page.goto(input.url + path);
      if (path.endsWith("/")) {
        if (path !== "/") await page.waitFor("#send");
      } else if (path.endsWith("replies.html")) {
        await page.waitFor("#open-replies");
      }
      if (path !== "/" && path.endsWith("/") && await page.visible("#add-person")) {
        await page.click("#add-person");
        await page.waitFor("fieldset.person");
      }
      // axe's source, evaluated over the automation protocol (the page's CSP does not
      // apply to it), then run on the whole document.
      await page.evaluate(`(() => { ${axeSource}\n; return typeof axe; })`);
      const axeResult = await page.evaluate(`(async () => {
        const r = await axe.run(document, { resultTypes: ["violations"] });
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
          nodes: v.nodes.map((n) => ({ target: n.target, html: n.html.slice(0, 200), summary: n.failureSummary })) }));
      })`);
      const unlabelled = await page.evaluate(`(() => {
        const shown = (e) => {
          if (!e || !e.isConnected || e.closest("[hidden]")) return false;
          const st = getComputedStyle(e);
          if (st.display === "none" || st.visibility === "hidden") return false;
          return true;
        };
        const out = [];
        for (const e of document.querySelectorAll("input, select, textarea, button, progress")) {
          if (e.type === "hidden" || !shown(e)) continue;
          const named = (e.labels && e.labels.length && [...e.labels].some((l) => l.textContent.trim())) ||
            (e.getAttribute("aria-label") || "").trim() ||
            (e.getAttribute("aria-labelledby") || "").split(/\\s+/).some((id) => {
              const t = id && document.getElementById(id); return t && t.textContent.trim(); }) ||
            (e.tagName === "BUTTON" && e.textContent.trim()) ||
            ((e.type === "button" || e.type === "submit") && (e.value || "").trim());
          if (!named) out.push(e.outerHTML.slice(0, 160));
        }
        return out;
      })`);
      let tabOrder = null;
      if (input.tabTarget && path !== "/" && path.endsWith("/")) {
        await page.goto(input.url + path);
        await page.waitFor("#send");
        tabOrder = [];
        for (let i = 0; i < (input.maxTabs || 80); i++) {
          await page.pressTab();
          const id = await page.focusedId();
          tabOrder.push(id);
          if (id === input.tabTarget) break;
        }
      }
      results.push({ path, violations: axeResult, unlabelled, tabOrder, records: page.records.toJSON() });
    }
    return { browser: page.version, axeVersion: require("axe-core/package.json").version, results };
  });
}

// What the browser's settings allow the page: used to prove the Safer prefs took effect.
// input: url (a page to run on), browser.
export async function probe(input) {
  const kind = input.browser || "firefox-safer";
  return withPage(kind, input.browserOptions || {}, input, async (page) => {
    await page.goto(input.url);
    const facts = await page.evaluate(`(() => {
      const out = { webAssembly: typeof WebAssembly };
      try {
        // The smallest module: magic and version.
        new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
        out.wasmCompiles = true;
      } catch (e) { out.wasmCompiles = false; out.wasmError = String(e); }
      out.timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      out.timezoneOffset = new Date().getTimezoneOffset();
      out.userAgent = navigator.userAgent;
      // A loop the JIT compiles: without Ion and Baseline it runs in the interpreter.
      const t0 = performance.now();
      const a = new Int32Array(1024);
      for (let i = 0; i < 20000000; i++) a[i & 1023] = (a[(i * 7) & 1023] + i) | 0;
      out.loopMs = performance.now() - t0;
      out.loopResult = a[5];
      return out;
    })`);
    // The same loop timed from outside the page (the page's clock is coarse under
    // resistFingerprinting).
    const t0 = Date.now();
    await page.evaluate(`(() => {
      const a = new Int32Array(1024);
      for (let i = 0; i < 20000000; i++) a[i & 1023] = (a[(i * 7) & 1023] + i) | 0;
      return a[5];
    })`);
    facts.loopWallMs = Date.now() - t0;
    return { browser: page.version, prefs: page.prefs || null, ...facts, records: page.records.toJSON() };
  });
}
