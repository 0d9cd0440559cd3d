// Messages in the page's language, from the catalog the build put in the page
// (<script type="application/json" id="amanat-catalog">: data, never run).
//
// The language is the one the witness chose (the page's folder), never the browser's:
// Tor Browser reports the same language for everyone. Plurals by Intl.PluralRules, numbers,
// sizes and dates by Intl in the page's language.

let catalog = null;
let tag = "en";

function load() {
  if (catalog !== null) return catalog;
  const block = typeof document === "undefined" ? null : document.getElementById("amanat-catalog");
  catalog = block ? JSON.parse(block.textContent) : {};
  tag = catalog["meta.tag"] || (typeof document === "undefined" ? "en" : document.documentElement.lang) || "en";
  return catalog;
}

/** Use `messages` instead of the page's catalog (tests). */
export function setCatalog(messages) {
  catalog = messages;
  tag = messages["meta.tag"] || "en";
}

/** The page's language tag (BCP 47), e.g. "ug-Arab". */
export function language() {
  load();
  return tag;
}

function locale() {
  // Intl may lack data for a script subtag; the language alone picks the same rules.
  try {
    return Intl.getCanonicalLocales(tag)[0];
  } catch {
    return "en";
  }
}

/** The message `key` with `{name}` placeholders filled from `params`; a plural message
 * picks its form by `params.count`. A missing key shows the key (never undefined). */
export function t(key, params = {}) {
  const value = load()[key];
  let text;
  if (value === undefined) {
    text = key;
  } else if (typeof value === "string") {
    text = value;
  } else {
    const form = new Intl.PluralRules(locale()).select(Number(params.count ?? 0));
    text = value[form] ?? value.other ?? key;
  }
  return text.replace(/\{([a-zA-Z0-9_]+)\}/g, (whole, name) =>
    name in params ? isolate(formatValue(params[name])) : whole);
}

// In a right-to-left page a value such as "28.8 MB" is set apart (FIRST STRONG ISOLATE …
// POP DIRECTIONAL ISOLATE) so that its digits and Latin letters do not reorder the
// sentence around it ("28.8 MB / 40.9 MB" would otherwise read "MB / 40.9 MB 28.8").
function isolate(text) {
  const rtl = typeof document !== "undefined" && document.documentElement.dir === "rtl";
  return rtl ? `\u2068${text}\u2069` : text;
}

function formatValue(value) {
  return typeof value === "number" ? formatNumber(value) : String(value);
}

export function formatNumber(n) {
  return new Intl.NumberFormat(locale()).format(n);
}

/** A size in bytes, short and in the page's language: "2.4 MB". */
export function formatSize(bytes) {
  const units = ["byte", "kilobyte", "megabyte", "gigabyte"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  if (Intl.NumberFormat.supportedLocalesOf([locale()]).length === 0) {
    return `${value.toFixed(digits)} ${["B", "kB", "MB", "GB"][unit]}`;
  }
  try {
    return new Intl.NumberFormat(locale(), {
      style: "unit", unit: units[unit], unitDisplay: unit === 0 ? "long" : "short",
      maximumFractionDigits: digits,
    }).format(value);
  } catch {
    return `${value.toFixed(digits)} ${["B", "kB", "MB", "GB"][unit]}`;
  }
}

/** A fraction 0..1 as a percentage in the page's language. */
export function formatPercent(fraction) {
  return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 0 })
    .format(Math.max(0, Math.min(1, fraction)));
}

/** A date (or "YYYY-MM-DDTHH:MMZ" text) in the page's language, day precision, UTC. */
export function formatDate(value) {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  // A browser without this language's data would answer in its own language (often
  // English): the ISO form (2026-12-03) is then clearer than a month name nobody reads.
  if (Intl.DateTimeFormat.supportedLocalesOf([locale()]).length === 0) return date.toISOString().slice(0, 10);
  return new Intl.DateTimeFormat(locale(), { dateStyle: "long", timeZone: "UTC" }).format(date);
}
