// The plaintext bundle sealed inside a testimony (docs/FORMAT.md §2; vault/bundle.py):
//
//   member("manifest.json") *member("attachments/" name) end-marker padding
//
// POSIX.1-1988 USTAR headers with fixed values (mode 0644, uid and gid 0, mtime 0, empty
// user and group names), so nothing in the archive describes the witness's machine, account
// or clock; zero bytes up to the PADMÉ length hide the testimony's size. Byte for byte what
// the Python writer produces. The result is a Blob assembled from parts: attachments given
// as Blobs are referenced, not copied, and the padding is a slice of a zero Blob built by
// doubling, so a large bundle costs no large buffers.

import { canonicalJson } from "./manifest.js";
import { padmeLength } from "./padme.js";
import { utf8, wellFormed } from "./bytes.js";

export const BLOCK = 512;
export const MANIFEST_MAX_BYTES = 8 * 1024 * 1024;
const MAX_SIZE = 8 ** 11 - 1;
const ZERO_CHUNK = 64 * 1024;

export class BundleError extends Error {
  // codes: "manifest" (too large or not encodable), "attachments" (the files given do not
  // match the manifest's list), "name" (a name USTAR cannot hold), "size" (too large)
  constructor(code, message) {
    super(message);
    this.name = "BundleError";
    this.code = code;
  }
}

function octal(value, width) {
  const text = value.toString(8).padStart(width - 1, "0");
  if (text.length !== width - 1) throw new BundleError("size", "a number does not fit its USTAR field");
  const out = new Uint8Array(width);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** The 512-byte USTAR header vault/bundle.py writes for `prefix/name` of `size` bytes. */
export function ustarHeader(prefix, name, size) {
  if (!wellFormed(name)) throw new BundleError("name", "a member name is not valid Unicode");
  const nameBytes = utf8(name);
  const prefixBytes = utf8(prefix);
  if (nameBytes.length > 100 || prefixBytes.length > 155) {
    throw new BundleError("name", "a member name is longer than USTAR allows");
  }
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_SIZE) {
    throw new BundleError("size", "a member is larger than USTAR allows");
  }
  const h = new Uint8Array(BLOCK);
  h.set(nameBytes, 0);
  h.set(octal(0o644, 8), 100);
  h.set(octal(0, 8), 108);
  h.set(octal(0, 8), 116);
  h.set(octal(size, 12), 124);
  h.set(octal(0, 12), 136);
  h.fill(0x20, 148, 156);
  h[156] = 0x30; // typeflag "0"
  h.set([0x75, 0x73, 0x74, 0x61, 0x72, 0x00, 0x30, 0x30], 257); // "ustar\0" "00"
  h.set(octal(0, 8), 329);
  h.set(octal(0, 8), 337);
  h.set(prefixBytes, 345);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i];
  const check = sum.toString(8).padStart(6, "0");
  for (let i = 0; i < 6; i++) h[148 + i] = check.charCodeAt(i);
  h[154] = 0;
  h[155] = 0x20;
  return h;
}

let zeroBlob = null;

/** A Blob of `count` zero bytes, sliced from one built by doubling (no large buffer). */
function zeros(count) {
  if (zeroBlob === null) zeroBlob = new Blob([new Uint8Array(ZERO_CHUNK)]);
  while (zeroBlob.size < count) zeroBlob = new Blob([zeroBlob, zeroBlob]);
  return zeroBlob.slice(0, count);
}

function fill(size) {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function sizeOf(data) {
  if (data instanceof Uint8Array) return data.length;
  if (typeof Blob !== "undefined" && data instanceof Blob) return data.size;
  throw new BundleError("attachments", "an attachment's data is neither a Blob nor bytes");
}

/** The length of the archive through its end marker, before padding. */
export function archiveLength(manifestLength, sizes) {
  let total = 2 * BLOCK;
  for (const size of [manifestLength, ...sizes]) total += BLOCK + size + fill(size);
  return total;
}

/**
 * The bundle of `manifest` (an object, written as canonical JSON) and its attachments
 * (`[{name, data}]`, in the manifest's order, data a Blob or a Uint8Array), as a Blob.
 */
export function bundle(manifest, attachments) {
  let manifestJson;
  try {
    manifestJson = canonicalJson(manifest);
  } catch {
    throw new BundleError("manifest", "the manifest cannot be written as canonical JSON");
  }
  if (manifestJson.length > MANIFEST_MAX_BYTES) throw new BundleError("manifest", "the manifest is larger than 8 MiB");
  const listed = Array.isArray(manifest.attachments) ? manifest.attachments : [];
  if (listed.length !== attachments.length) {
    throw new BundleError("attachments", "the attachments given are not those the manifest lists");
  }
  const parts = [ustarHeader("", "manifest.json", manifestJson.length), manifestJson, new Uint8Array(fill(manifestJson.length))];
  const sizes = [];
  attachments.forEach(({ name, data }, i) => {
    const size = sizeOf(data);
    if (listed[i].name !== name || listed[i].size !== size) {
      throw new BundleError("attachments", `attachment ${i + 1} is not what the manifest lists`);
    }
    sizes.push(size);
    parts.push(ustarHeader("attachments", name, size), data);
    const pad = fill(size);
    if (pad) parts.push(new Uint8Array(pad));
  });
  const archive = archiveLength(manifestJson.length, sizes);
  parts.push(new Uint8Array(2 * BLOCK));
  const padding = padmeLength(archive) - archive;
  if (padding) parts.push(zeros(padding));
  return new Blob(parts, { type: "application/octet-stream" });
}
