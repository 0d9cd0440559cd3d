// The testimony manifest's encoding (docs/FORMAT.md §3; vault/testimony.py).
//
// canonicalJson is byte for byte what `vault.testimony._canonical_json` writes:
// json.dumps(sort_keys=True, ensure_ascii=False, separators=(",", ":")) in UTF-8. Keys are
// sorted by code point (as Python sorts str), strings escape only `"`, `\\` and the
// control characters U+0000–U+001F (\\b \\f \\n \\r \\t, the others \\u00xx in lowercase);
// everything else, U+007F and U+2028 included, is written as itself. Numbers must be
// integers. A string holding an unpaired surrogate has no UTF-8 form and is refused.

import { utf8, wellFormed } from "./bytes.js";

export const SCHEMA_ID = "amanat/testimony/v2";

export class ManifestError extends Error {
  // codes: "number" (not an integer), "surrogate" (an unpaired surrogate), "value" (a value
  // JSON cannot hold), "depth" (nested too deeply)
  constructor(code, message) {
    super(message);
    this.name = "ManifestError";
    this.code = code;
  }
}

const MAX_DEPTH = 64;
const ESCAPES = { '"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function quote(text) {
  if (!wellFormed(text)) throw new ManifestError("surrogate", "a text holds an unpaired surrogate");
  return '"' + text.replace(/[\x00-\x1f"\\]/g, (ch) => ESCAPES[ch] ??
    "\\u" + ch.charCodeAt(0).toString(16).padStart(4, "0")) + '"';
}

// Code point order (Python's str order); UTF-16 order differs above the BMP.
function byCodePoint(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i);
    const y = b.codePointAt(i);
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

function write(value, depth, out) {
  if (depth > MAX_DEPTH) throw new ManifestError("depth", "the value is nested too deeply");
  if (value === null) out.push("null");
  else if (value === true) out.push("true");
  else if (value === false) out.push("false");
  else if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new ManifestError("number", "numbers must be integers");
    out.push(String(value));
  } else if (typeof value === "bigint") out.push(value.toString());
  else if (typeof value === "string") out.push(quote(value));
  else if (Array.isArray(value)) {
    out.push("[");
    value.forEach((item, i) => {
      if (i) out.push(",");
      if (item === undefined) throw new ManifestError("value", "a list holds an undefined value");
      write(item, depth + 1, out);
    });
    out.push("]");
  } else if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype ||
             typeof value === "object" && Object.getPrototypeOf(value) === null) {
    // Keys whose value is undefined are left out: an absent answer is never written.
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort(byCodePoint);
    out.push("{");
    keys.forEach((key, i) => {
      if (i) out.push(",");
      out.push(quote(key), ":");
      write(value[key], depth + 1, out);
    });
    out.push("}");
  } else {
    throw new ManifestError("value", "the value has no JSON form");
  }
}

/** The canonical JSON of `value`, as UTF-8 bytes. */
export function canonicalJson(value) {
  const out = [];
  write(value, 0, out);
  return utf8(out.join(""));
}

// vault/witness.py _EXTENSIONS, then what Python's mimetypes (built-in table) guesses.
const EXTENSIONS = {
  "image/jpeg": ".jpg",
  "image/png": ".png",
  "image/webp": ".webp",
  "image/tiff": ".tif",
  "image/gif": ".gif",
  "application/pdf": ".pdf",
  "text/plain": ".txt",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
  "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
  "application/vnd.oasis.opendocument.text": ".odt",
  "application/vnd.oasis.opendocument.spreadsheet": ".ods",
  "application/vnd.oasis.opendocument.presentation": ".odp",
  "application/octet-stream": ".bin"
};
const GUESSED = {
  "application/javascript": ".js",
  "application/json": ".json",
  "application/manifest+json": ".webmanifest",
  "application/msword": ".doc",
  "application/n-quads": ".nq",
  "application/n-triples": ".nt",
  "application/oda": ".oda",
  "application/pkcs7-mime": ".p7c",
  "application/postscript": ".ps",
  "application/trig": ".trig",
  "application/vnd.apple.mpegurl": ".m3u",
  "application/vnd.ms-excel": ".xls",
  "application/vnd.ms-powerpoint": ".ppt",
  "application/wasm": ".wasm",
  "application/x-bcpio": ".bcpio",
  "application/x-cpio": ".cpio",
  "application/x-csh": ".csh",
  "application/x-dvi": ".dvi",
  "application/x-gtar": ".gtar",
  "application/x-hdf": ".hdf",
  "application/x-hdf5": ".h5",
  "application/x-latex": ".latex",
  "application/x-mif": ".mif",
  "application/x-netcdf": ".cdf",
  "application/x-pkcs12": ".p12",
  "application/x-pn-realaudio": ".ram",
  "application/x-python-code": ".pyc",
  "application/x-sh": ".sh",
  "application/x-shar": ".shar",
  "application/x-shockwave-flash": ".swf",
  "application/x-sv4cpio": ".sv4cpio",
  "application/x-sv4crc": ".sv4crc",
  "application/x-tar": ".tar",
  "application/x-tcl": ".tcl",
  "application/x-tex": ".tex",
  "application/x-texinfo": ".texi",
  "application/x-troff": ".roff",
  "application/x-troff-man": ".man",
  "application/x-troff-me": ".me",
  "application/x-troff-ms": ".ms",
  "application/x-ustar": ".ustar",
  "application/x-wais-source": ".src",
  "application/xml": ".xsl",
  "application/zip": ".zip",
  "audio/3gpp": ".3gp",
  "audio/3gpp2": ".3g2",
  "audio/aac": ".aac",
  "audio/basic": ".au",
  "audio/mpeg": ".mp3",
  "audio/opus": ".opus",
  "audio/x-aiff": ".aif",
  "audio/x-pn-realaudio": ".ra",
  "audio/x-wav": ".wav",
  "image/avif": ".avif",
  "image/bmp": ".bmp",
  "image/heic": ".heic",
  "image/heif": ".heif",
  "image/ief": ".ief",
  "image/svg+xml": ".svg",
  "image/vnd.microsoft.icon": ".ico",
  "image/x-cmu-raster": ".ras",
  "image/x-portable-anymap": ".pnm",
  "image/x-portable-bitmap": ".pbm",
  "image/x-portable-graymap": ".pgm",
  "image/x-portable-pixmap": ".ppm",
  "image/x-rgb": ".rgb",
  "image/x-xbitmap": ".xbm",
  "image/x-xpixmap": ".xpm",
  "image/x-xwindowdump": ".xwd",
  "message/rfc822": ".eml",
  "text/css": ".css",
  "text/csv": ".csv",
  "text/html": ".html",
  "text/n3": ".n3",
  "text/richtext": ".rtx",
  "text/tab-separated-values": ".tsv",
  "text/vtt": ".vtt",
  "text/x-python": ".py",
  "text/x-setext": ".etx",
  "text/x-sgml": ".sgm",
  "text/x-vcard": ".vcf",
  "text/xml": ".xml",
  "video/mp4": ".mp4",
  "video/mpeg": ".mpeg",
  "video/quicktime": ".mov",
  "video/webm": ".webm",
  "video/x-msvideo": ".avi",
  "video/x-sgi-movie": ".movie"
};

/** `attachment-<position><ext>`, the extension from the media type found in the content. */
export function neutralName(position, mediaType) {
  const ext = (Object.hasOwn(EXTENSIONS, mediaType) && EXTENSIONS[mediaType]) ||
    (Object.hasOwn(GUESSED, mediaType) && GUESSED[mediaType]) || ".bin";
  return `attachment-${position}${ext}`;
}
