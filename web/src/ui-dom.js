// Small DOM helpers shared by the page scripts. Text is always set with textContent, never
// parsed as HTML.

import { t } from "./i18n.js";

export const $ = (id) => document.getElementById(id);

/** An element with text and attributes (no HTML parsing). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else if (value === true) node.setAttribute(name, "");
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(name, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

/** The page's script runs: show what needs it (CSS hides .js-only while html.no-js). */
export function scriptsOn() {
  document.documentElement.classList.remove("no-js");
  document.documentElement.classList.add("js");
}

/** The organization verifier key `amanat serve` wrote into the page ("" when none). */
export function orgKey() {
  const meta = document.querySelector('meta[name="amanat-org"]');
  return meta ? meta.getAttribute("content").trim() : "";
}

export function setStatus(key, params) {
  $("status").textContent = key ? t(key, params) : "";
}

/** Show one or more error lines in #error (role=alert, so it is announced). */
export function showError(lines) {
  const box = $("error");
  const list = Array.isArray(lines) ? lines : [lines];
  box.replaceChildren(...list.map((line) => el("span", { class: "error-line", text: line })));
  box.hidden = list.length === 0;
}

export function clearError() {
  showError([]);
}

const DIGITS = /[\u0660-\u0669\u06f0-\u06f9\uff10-\uff19]/g;

/** Arabic-Indic, Persian and full-width digits as ASCII digits (a phone keyboard in Uyghur
 * or Chinese may type either). */
export function asciiDigits(text) {
  return text.replace(DIGITS, (d) => {
    const c = d.charCodeAt(0);
    const base = c >= 0xff10 ? 0xff10 : c >= 0x06f0 ? 0x06f0 : 0x0660;
    return String(c - base);
  });
}

/** Offer `text` as a download named `name`; nothing is kept afterwards. */
export function download(name, text, type = "text/plain") {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
  const link = el("a", { href: url, download: name, class: "hidden-link" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
