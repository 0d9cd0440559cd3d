// The checks the Python reader (vault/testimony.py) makes of a person's answers beyond the
// schema, so that the page never sends a manifest `amanat open` refuses: approximate dates
// that exist, intervals in order, nothing in the future, a birth year not after the
// detention, an age range in order.

const SEASON_START = { 21: 3, 22: 6, 23: 9, 24: 12 };

function daysIn(year, month) {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

const num = (y, m, d) => y * 10000 + m * 100 + d;

/** [first, last] day a single approximate date can mean, as yyyymmdd numbers; null if the
 * day does not exist. */
function singleSpan(text) {
  const parts = text.replace(/~$/, "").split("-").map(Number);
  const [year, month, day] = parts;
  if (parts.length === 1) return [num(year, 1, 1), num(year, 12, 31)];
  if (SEASON_START[month]) {
    const startMonth = SEASON_START[month];
    const endMonthAll = startMonth + 2;
    const endYear = year + Math.floor((endMonthAll - 1) / 12);
    const endMonth = ((endMonthAll - 1) % 12) + 1;
    return [num(year, startMonth, 1), num(endYear, endMonth, daysIn(endYear, endMonth))];
  }
  if (parts.length === 2) return [num(year, month, 1), num(year, month, daysIn(year, month))];
  if (day > daysIn(year, month)) return null;
  return [num(year, month, day), num(year, month, day)];
}

/** {start, end} (yyyymmdd numbers) of an approximate date, or {problem}: "date" (not the
 * form, a day that does not exist, an interval that ends before it starts). */
export function dateSpan(text, pattern) {
  if (!new RegExp(pattern).test(text)) return { problem: "date" };
  const [first, second] = text.split("/");
  const a = singleSpan(first);
  if (!a) return { problem: "date" };
  if (second === undefined) return { start: a[0], end: a[1] };
  const b = singleSpan(second);
  if (!b || b[0] < a[0]) return { problem: "date" };
  return { start: a[0], end: b[1] };
}

/** Tomorrow on this device, as yyyymmdd (a witness may be in a time zone ahead). */
export function tomorrow(now = new Date()) {
  const d = new Date(now.getTime() + 86400000);
  return num(d.getFullYear(), d.getMonth() + 1, d.getDate());
}
