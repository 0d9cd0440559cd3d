// One interface over two browsers, for the witness page's tests and benchmark.
//
// Chromium (Debian's /usr/bin/chromium) is driven by playwright-core over CDP; Firefox ESR
// (/usr/bin/firefox-esr) by puppeteer-core over WebDriver BiDi, optionally with the prefs of
// Tor Browser's "Safer" security level. Both give the same Page object:
//
//   goto, fill, type, click, select, setInputFiles, waitFor (a selector's state), waitForText,
//   waitUntil (a predicate evaluated in the page), evaluate, text, box, focusedId, pressTab,
//   screenshot, and the records: requests (every URL the page asked for), consoleErrors,
//   cspViolations (securitypolicyviolation events, reported by a script added before the
//   page's own), pageErrors.
//
// Nothing here depends on the page under test; scenarios.mjs holds what the tests do.

import { chromium } from "playwright-core";
import puppeteer from "puppeteer-core";

export const CHROMIUM = process.env.AMANAT_CHROMIUM || "/usr/bin/chromium";
export const FIREFOX = process.env.AMANAT_FIREFOX || "/usr/bin/firefox-esr";

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// Tor Browser's "Safer" security level, as its SecurityLevel module sets it for level 2:
// no JIT (Ion, Baseline), no native regular expressions, no asm.js, no WebAssembly, no
// MathML, no Graphite or SVG-in-OpenType font rendering. (What NoScript adds at that level:
// scripts off on plain-HTTP sites other than .onion, click-to-play media, no remote fonts,
// is not a pref and is not reproduced; the tests serve over loopback HTTP with scripts on.)
export const SAFER_PREFS = Object.freeze({
  "javascript.options.ion": false,
  "javascript.options.baselinejit": false,
  "javascript.options.native_regexp": false,
  "javascript.options.asmjs": false,
  "javascript.options.wasm": false,
  "mathml.disabled": true,
  "gfx.font_rendering.graphite.enabled": false,
  "gfx.font_rendering.opentype_svg.enabled": false,
  "privacy.resistFingerprinting": true,
});

// Keeps Firefox from reaching out on its own (it never does here: there is no network,
// but a request that waits on DNS slows start-up) and from asking questions.
const FIREFOX_QUIET_PREFS = Object.freeze({
  "network.captive-portal-service.enabled": false,
  "network.connectivity-service.enabled": false,
  "browser.safebrowsing.malware.enabled": false,
  "browser.safebrowsing.phishing.enabled": false,
  "browser.safebrowsing.downloads.enabled": false,
  "extensions.update.enabled": false,
  "app.update.enabled": false,
  "network.dns.disablePrefetch": true,
  "network.prefetch-next": false,
  "network.http.speculative-parallel-limit": 0,
  "dom.security.https_first": false,
  "dom.security.https_only_mode": false,
});

const CSP_MARK = "amanat-test:csp ";

// Added before any script of the page: reports each CSP violation on the console with a
// mark, which the recorder below files under cspViolations (and not consoleErrors).
const CSP_LISTENER = `(() => {
  const report = (event) => {
    try {
      console.warn(${JSON.stringify(CSP_MARK)} + JSON.stringify({
        directive: event.violatedDirective || event.effectiveDirective,
        blocked: event.blockedURI, source: event.sourceFile, line: event.lineNumber,
        sample: event.sample, document: event.documentURI }));
    } catch (_) { /* nothing to report with */ }
  };
  document.addEventListener("securitypolicyviolation", report, true);
})();`;

export class DriverError extends Error {}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new DriverError(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// In-page predicates for waitFor. Visible: attached, not hidden by `hidden`, display or
// visibility, and with a non-empty box.
const STATE_CHECK = `(([selector, state]) => {
  const el = document.querySelector(selector);
  const visible = (e) => {
    if (!e || !e.isConnected) return false;
    if (e.closest("[hidden]")) return false;
    const style = getComputedStyle(e);
    if (style.display === "none" || style.visibility === "hidden") return false;
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  switch (state) {
    case "attached": return !!el;
    case "detached": return !el;
    case "visible": return visible(el);
    case "hidden": return !visible(el);
    case "enabled": return !!el && !el.disabled;
    default: throw new Error("unknown state " + state);
  }
})`;

class Records {
  constructor() {
    this.reset();
  }
  reset() {
    this.requests = [];
    this.consoleErrors = [];
    this.consoleMessages = [];
    this.cspViolations = [];
    this.pageErrors = [];
    this.failedRequests = [];
  }
  console(type, text, url = null) {
    if (text.startsWith(CSP_MARK)) {
      try {
        this.cspViolations.push(JSON.parse(text.slice(CSP_MARK.length)));
      } catch {
        this.cspViolations.push({ raw: text });
      }
      return;
    }
    this.consoleMessages.push({ type, text, url });
    // A browser's own request for /favicon.ico (the page links none) is not the page's.
    if (type === "error" && !(url && /\/favicon\.ico$/.test(url) && /\b404\b/.test(text))) {
      this.consoleErrors.push(url ? `${text} (${url})` : text);
    }
    // Chromium reports CSP blocks on the console too, whether or not the event fires.
    if (/Content[- ]Security[- ]Policy/i.test(text) && /refused|blocked/i.test(text)) {
      this.cspViolations.push({ console: text });
    }
  }
  pageError(text) {
    // Firefox reports CSP blocks as script errors of the page.
    if (/^Content-Security-Policy:/.test(text)) this.cspViolations.push({ console: text });
    else this.pageErrors.push(text);
  }
  toJSON() {
    return {
      requests: this.requests,
      consoleErrors: this.consoleErrors,
      consoleMessages: this.consoleMessages,
      cspViolations: this.cspViolations,
      pageErrors: this.pageErrors,
      failedRequests: this.failedRequests,
    };
  }
}

// What both implementations share: everything built on evaluate.
class BasePage {
  constructor(kind) {
    this.kind = kind;
    this.records = new Records();
  }

  async waitUntil(fnSource, arg, { timeout = 30000, interval = 100, what } = {}) {
    const deadline = Date.now() + timeout;
    let last;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new DriverError(`timed out after ${timeout} ms waiting for ${what || fnSource}` +
          (last !== undefined ? ` (last: ${JSON.stringify(last)})` : ""));
      }
      try {
        last = await withTimeout(this.evaluate(fnSource, arg), left, what || "a predicate");
      } catch (error) {
        if (error instanceof DriverError) throw error;
        last = String(error && error.message);
        // A navigation in progress destroys the context; try again.
      }
      if (last === true) return;
      await sleep(interval);
    }
  }

  waitFor(selector, { state = "visible", timeout = 30000 } = {}) {
    return this.waitUntil(STATE_CHECK, [selector, state],
      { timeout, what: `${selector} to be ${state}` });
  }

  waitForText(selector, pattern, { timeout = 30000 } = {}) {
    const source = `(([selector, pattern]) => {
      const el = document.querySelector(selector);
      return !!el && new RegExp(pattern, "u").test(el.textContent || "");
    })`;
    return this.waitUntil(source, [selector, pattern],
      { timeout, what: `${selector} to show /${pattern}/` });
  }

  // The selector's text, or null when absent.
  text(selector) {
    return this.evaluate(`((selector) => {
      const el = document.querySelector(selector);
      return el ? el.textContent : null;
    })`, selector);
  }

  visible(selector) {
    return this.evaluate(STATE_CHECK, [selector, "visible"]);
  }

  // The bounding box in CSS pixels, or null when absent.
  box(selector) {
    return this.evaluate(`((selector) => {
      const el = document.querySelector(selector);
      if (!el) return null;
      const r = el.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height, left: r.left, right: r.right };
    })`, selector);
  }

  focusedId() {
    return this.evaluate(`(() => {
      const el = document.activeElement;
      return el ? (el.id || el.tagName.toLowerCase()) : null;
    })`);
  }

  // Everything a page can keep in the browser: the tests expect all of it empty.
  storage() {
    return this.evaluate(`(async () => {
      const out = {};
      try { out.localStorage = Object.keys(localStorage); } catch (e) { out.localStorage = "error: " + e.message; }
      try { out.sessionStorage = Object.keys(sessionStorage); } catch (e) { out.sessionStorage = "error: " + e.message; }
      try {
        out.indexedDB = (typeof indexedDB !== "undefined" && indexedDB.databases)
          ? (await indexedDB.databases()).map((d) => d.name) : null;
      } catch (e) { out.indexedDB = "error: " + e.message; }
      try {
        out.caches = (typeof caches !== "undefined") ? await caches.keys() : null;
      } catch (e) { out.caches = "error: " + e.message; }
      out.cookie = document.cookie;
      try {
        out.serviceWorkers = (navigator.serviceWorker && navigator.serviceWorker.getRegistrations)
          ? (await navigator.serviceWorker.getRegistrations()).length : null;
      } catch (e) { out.serviceWorkers = "error: " + e.message; }
      return out;
    })`);
  }
}

// Turns a function source and one JSON argument into an expression.
function callExpression(fnSource, arg) {
  return arg === undefined ? `(${fnSource})()` : `(${fnSource})(${JSON.stringify(arg)})`;
}

class ChromiumPage extends BasePage {
  constructor(context, page) {
    super("chromium");
    this.context = context;
    this.page = page;
    context.on("request", (request) => this.records.requests.push(request.url()));
    context.on("requestfailed", (request) =>
      this.records.failedRequests.push({ url: request.url(), error: request.failure()?.errorText }));
    page.on("console", (message) =>
      this.records.console(message.type(), message.text(), message.location()?.url || null));
    page.on("pageerror", (error) => this.records.pageError(String(error && error.message)));
  }

  async goto(url, { timeout = 30000 } = {}) {
    await this.page.goto(url, { timeout, waitUntil: "load" });
  }
  // Playwright's evaluate of a string runs it as an expression in the page's main world,
  // over CDP: the page's CSP does not apply.
  evaluate(fnSource, arg) {
    return this.page.evaluate(callExpression(fnSource, arg));
  }
  fill(selector, value) {
    return this.page.fill(selector, value);
  }
  async type(selector, value) {
    await this.page.click(selector);
    await this.page.keyboard.type(value, { delay: 5 });
  }
  click(selector) {
    return this.page.click(selector);
  }
  select(selector, value) {
    return this.page.selectOption(selector, value);
  }
  setInputFiles(selector, paths) {
    return this.page.setInputFiles(selector, paths);
  }
  pressTab(shift = false) {
    return this.page.keyboard.press(shift ? "Shift+Tab" : "Tab");
  }
  press(key) {
    return this.page.keyboard.press(key);
  }
  screenshot(path, { fullPage = true } = {}) {
    return this.page.screenshot({ path, fullPage });
  }
  // Chromium only: slow the page's network down (bytes per second), e.g. so that an upload
  // is still running when the server is killed.
  async throttle(uploadBytesPerSecond, downloadBytesPerSecond = -1) {
    const session = await this.context.newCDPSession(this.page);
    await session.send("Network.enable");
    await session.send("Network.emulateNetworkConditions", {
      offline: false, latency: 0,
      uploadThroughput: uploadBytesPerSecond, downloadThroughput: downloadBytesPerSecond,
    });
  }
}

class FirefoxPage extends BasePage {
  constructor(page) {
    super("firefox");
    this.page = page;
    page.on("request", (request) => this.records.requests.push(request.url()));
    page.on("requestfailed", (request) =>
      this.records.failedRequests.push({ url: request.url(), error: request.failure()?.errorText }));
    page.on("console", (message) => {
      const type = message.type() === "warn" ? "warning" : message.type();
      this.records.console(type, message.text(), message.location()?.url || null);
    });
    page.on("pageerror", (error) => this.records.pageError(String(error && error.message)));
  }

  async goto(url, { timeout = 30000 } = {}) {
    await this.page.goto(url, { timeout, waitUntil: "load" });
  }
  evaluate(fnSource, arg) {
    return this.page.evaluate(callExpression(fnSource, arg));
  }
  async fill(selector, value) {
    await this.page.locator(selector).fill(value);
  }
  async type(selector, value) {
    await this.page.click(selector);
    await this.page.keyboard.type(value, { delay: 5 });
  }
  click(selector) {
    return this.page.click(selector);
  }
  select(selector, value) {
    return this.page.select(selector, value);
  }
  // WebDriver BiDi input.setFiles, through puppeteer's ElementHandle.uploadFile.
  async setInputFiles(selector, paths) {
    const handle = await this.page.$(selector);
    if (!handle) throw new DriverError(`no ${selector} to choose files with`);
    try {
      await handle.uploadFile(...paths);
    } finally {
      await handle.dispose();
    }
  }
  pressTab(shift = false) {
    return shift ? this.#shiftTab() : this.page.keyboard.press("Tab");
  }
  async #shiftTab() {
    await this.page.keyboard.down("Shift");
    await this.page.keyboard.press("Tab");
    await this.page.keyboard.up("Shift");
  }
  press(key) {
    return this.page.keyboard.press(key);
  }
  screenshot(path, { fullPage = true } = {}) {
    return this.page.screenshot({ path, fullPage });
  }
  async throttle() {
    throw new DriverError("network throttling is not available over WebDriver BiDi");
  }
}

// A launched browser with one page. kind: "chromium", "firefox" or "firefox-safer".
// options: javaScript (default true), viewport {width, height}, prefs (more Firefox prefs),
// env (Firefox's environment, e.g. TZ).
export async function openBrowser(kind, options = {}) {
  const { javaScript = true, viewport = { width: 1024, height: 800 }, prefs = {},
    env = undefined, locale = undefined } = options;
  if (kind === "chromium") {
    const browser = await chromium.launch({
      executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60000,
    });
    const context = await browser.newContext({
      javaScriptEnabled: javaScript, viewport, locale, acceptDownloads: false,
    });
    if (javaScript) await context.addInitScript({ content: CSP_LISTENER });
    const page = new ChromiumPage(context, await context.newPage());
    page.close = async () => { await browser.close(); };
    page.version = browser.version();
    return page;
  }
  if (kind === "firefox" || kind === "firefox-safer") {
    const extraPrefsFirefox = {
      ...FIREFOX_QUIET_PREFS,
      ...(kind === "firefox-safer" ? SAFER_PREFS : {}),
      ...(javaScript ? {} : { "javascript.enabled": false }),
      ...prefs,
    };
    const browser = await puppeteer.launch({
      browser: "firefox", executablePath: FIREFOX, protocol: "webDriverBiDi", headless: true,
      extraPrefsFirefox, timeout: 60000, protocolTimeout: 600000,
      env: env ? { ...process.env, ...env } : process.env,
    });
    const pages = await browser.pages();
    const raw = pages.length ? pages[0] : await browser.newPage();
    await raw.setViewport(viewport);
    if (javaScript) await raw.evaluateOnNewDocument(CSP_LISTENER);
    const page = new FirefoxPage(raw);
    page.close = async () => { await browser.close(); };
    page.version = await browser.version();
    page.prefs = extraPrefsFirefox;
    return page;
  }
  throw new DriverError(`unknown browser ${kind}`);
}
