// Metadata cleaning on the witness's device, by editing the file's container.
//
// A photo carries the GPS position where it was taken, the camera's make, model and serial
// number, and the time to the second; any of these can lead police to a witness's family.
// The Python client (vault/scrub.py) decodes and re-encodes pictures. The page cannot:
// Tor Browser's fingerprinting resistance returns noise from canvas read-back, so a picture
// redrawn on a canvas comes out corrupted. Here the container is rebuilt instead, from an
// allow-list of the parts that carry the picture; the compressed picture data is copied
// byte for byte, so a decoder shows exactly the pixels it showed before.
//
// Plain JavaScript in linear passes over a Uint8Array (Tor Browser at "Safer" runs no JIT
// and no WebAssembly): the searches for marker bytes use Uint8Array.prototype.indexOf,
// which is native code in every engine, and cleaning pauses (a macrotask) every 4 MiB so
// the page stays responsive on a large file.
//
// What is kept, and why it is safe:
//
// JPEG
//   SOI, SOFn (baseline, extended, progressive, lossless; Huffman or arithmetic), DHT,
//   DAC, DQT, DRI, DNL, DHP, EXP, SOS with the entropy-coded data and its RSTn markers,
//   EOI: the picture itself (tables, sizes, compressed data), nothing else.
//   APP0 "JFIF": rewritten as the plain 16-byte header (version, density units, X and Y
//     density; the thumbnail dropped). Kept because a decoder takes a 3-component picture
//     with a JFIF header as YCbCr whatever its component ids; without it some decoders
//     guess RGB. Density is a number printed on every scanner's and camera's output.
//   APP14 "Adobe": rewritten as the plain 12-byte form (version 100, flags 0, the colour
//     transform byte kept). Kept because it decides how pixels decode: the transform byte
//     says RGB or YCbCr (3 components), CMYK or YCCK (4), and decoders read Adobe CMYK
//     as inverted. Dropping it changes the colours of CMYK and RGB JPEGs.
//   Dropped: every other APPn (EXIF with GPS and serials, XMP, extended XMP, IPTC and
//     Photoshop blocks, maker notes, MPF and its pictures after EOI, FlashPix, JFXX
//     thumbnails), APP2 ICC profiles (below), COM comments, RSTn or TEM between segments,
//     fill bytes, bytes between segments, and everything after EOI (motion-photo videos,
//     second pictures, vendor trailers).
//   Refused (CleanError "unsupported"): JPEG-LS and the other JPGn extension markers.
//
// PNG
//   IHDR, PLTE, IDAT, IEND (critical: the picture); tRNS (transparency: changes pixels);
//   gAMA, cHRM, sRGB, cICP (colour rendering: numbers only); sBIT (significant bits),
//   bKGD (background colour), pHYs (pixel size, which sets the aspect ratio): numbers only;
//   acTL, fcTL, fdAT (APNG animation: frame sizes, offsets, delays and compressed frames;
//   kept whole, so their sequence numbers stay in order and animation keeps working).
//   Dropped: tEXt, zTXt, iTXt, eXIf, tIME, iCCP, sPLT (named), hIST, oFFs, pCAL, sCAL,
//   mDCv, cLLi, and every other ancillary chunk, known or not (an allow-list), and
//   everything after IEND. Every chunk's CRC is checked, kept or not.
//   Refused (CleanError "unsupported"): an unknown critical chunk (no decoder shows it).
//
// WebP (RIFF)
//   VP8 and VP8L (the picture), ALPH (alpha), ANIM (background colour, loop count), ANMF
//   (a frame: its 16-byte header and only its ALPH, VP8 and VP8L sub-chunks), VP8X (with
//   only its alpha and animation flags; the ICC, EXIF and XMP flags and reserved bits
//   cleared). Dropped: EXIF, XMP, ICCP, unknown chunks (also inside ANMF), everything after
//   the RIFF size. Sizes are recomputed; odd-sized chunks get their zero pad byte.
//
// GIF
//   The header, logical screen descriptor and global colour table; each image (descriptor,
//   local colour table, LZW data); graphic control extensions (delay, disposal,
//   transparency); the NETSCAPE2.0 / ANIMEXTS1.0 loop count, in its plain form; the trailer.
//   Dropped: comment extensions, plain-text extensions (text drawn over the picture, which
//   almost no viewer shows), other application extensions (XMP, ICC, IPTC), everything
//   after the trailer. A file that ends where a block would begin gets its trailer.
//
// TIFF
//   Every page (directory) with only the tags that describe its pixels (sizes, sample
//   format, compression, photometric interpretation, colour map, strips or tiles,
//   predictor, resolution, JPEG tables, YCbCr parameters; the list is TIFF_KEPT below),
//   and its strips or tiles, copied byte for byte into a new file (the same byte order).
//   Dropped: every other tag (make, model, software, dates, artist, copyright,
//   descriptions, document and page names, the EXIF and GPS directories, XMP, IPTC,
//   Photoshop, ICC, sub-images and thumbnails, private tags) and every byte no kept tag
//   points to. JPEG-compressed strips or tiles (compression 7, or 34892 in DNG) are JPEG
//   streams of their own, and so is JPEGTables: each is cleaned as a JPEG file is (its
//   APPn, COM and bytes after EOI dropped) and the strip or tile sizes rewritten.
//   Orientation (tag 274) is read and dropped, as for EXIF. Refused: old-style
//   JPEG compression (6), data shared between pieces. BigTIFF is not sniffed as TIFF.
//
// ICC profiles (JPEG APP2 "ICC_PROFILE", PNG iCCP, WebP ICCP, GIF "ICCRGBG1012", TIFF
//   tag 34675) are dropped: a profile holds
//   free text (its description and copyright tags, and in a PNG a profile name), the
//   device's manufacturer and model fields, the creating software and a creation date;
//   and a profile calibrated for one scanner or camera is, in its numbers alone, unique
//   to that device, so clearing its text fields would not be enough.
//   The pixels are unchanged; a wide-gamut photo (Display P3) looks a little less
//   saturated, since viewers take it as sRGB. The Python client converts the pixels to
//   sRGB before dropping the profile; the page cannot without re-encoding.
//
// Orientation: the EXIF Orientation tag (1–8) is read from IFD0 of the EXIF block (JPEG
// APP1 "Exif\0\0", PNG eXIf, WebP EXIF; a TIFF's first directory) before it is dropped,
// and returned, so the page can record how the picture is to be turned (the manifest's
// orientation); the cleaned file has no EXIF, so viewers show it as stored.
//
// Other types are not cleaned here: cleanFile returns their bytes unchanged with status
// "unsupported" (the page warns and asks the witness), except plain UTF-8 text, which has
// no metadata container and is "cleaned" unchanged, as in the Python client. Text that is
// a container of its own (RTF, PostScript, vCard, iCalendar: TEXT_CONTAINERS below) is not
// plain text.

export class CleanError extends Error {
  // code: "truncated" (the file ends too early), "malformed" (not a valid file of the
  // type its content claims: bad lengths, CRC errors, impossible structure),
  // "unsupported" (a valid variant this module does not clean).
  constructor(code, message) {
    super(message);
    this.name = "CleanError";
    this.code = code;
  }
}

export const JPEG = "image/jpeg";
export const PNG = "image/png";
export const WEBP = "image/webp";
export const GIF = "image/gif";
export const TIFF = "image/tiff";
export const HEIC = "image/heic";
export const AVIF = "image/avif";
export const MP4 = "video/mp4";
export const QUICKTIME = "video/quicktime";
export const PDF = "application/pdf";
export const ZIP = "application/zip";
export const TEXT = "text/plain";
export const MAIL = "message/rfc822";
export const OCTET = "application/octet-stream";
const DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation";
const ODF_PREFIX = "application/vnd.oasis.opendocument.";

const PAUSE_EVERY = 4 * 1024 * 1024;

function truncated(what) {
  return new CleanError("truncated", what);
}
function malformed(what) {
  return new CleanError("malformed", what);
}

// ---------------------------------------------------------------------------------------
// Small helpers

function u16be(b, at) {
  return (b[at] << 8) | b[at + 1];
}
function u32be(b, at) {
  return b[at] * 0x1000000 + ((b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]);
}
function u16le(b, at) {
  return b[at] | (b[at + 1] << 8);
}
function u32le(b, at) {
  return b[at + 3] * 0x1000000 + ((b[at + 2] << 16) | (b[at + 1] << 8) | b[at]);
}
function ascii(b, at, text) {
  if (at < 0 || at + text.length > b.length) return false;
  for (let i = 0; i < text.length; i++) {
    if (b[at + i] !== text.charCodeAt(i)) return false;
  }
  return true;
}

function pause() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

// Yields to the event loop each time the work passes another PAUSE_EVERY bytes.
class Pacer {
  constructor() {
    this.next = PAUSE_EVERY;
  }
  async at(position) {
    if (position >= this.next) {
      this.next = position + PAUSE_EVERY;
      await pause();
    }
  }
}

// The output: ranges of the input and a few bytes written here, joined once at the end.
class Output {
  constructor(source) {
    this.source = source;
    this.parts = [];
    this.length = 0;
  }
  range(start, end) {
    if (end <= start) return;
    const last = this.parts[this.parts.length - 1];
    if (last !== undefined && last.source && last.end === start) {
      last.end = end;
    } else {
      this.parts.push({ source: true, start, end });
    }
    this.length += end - start;
  }
  // array is kept, not copied: changes to it until finish() show in the output.
  bytes(array) {
    const data = array instanceof Uint8Array ? array : Uint8Array.from(array);
    this.parts.push({ source: false, data });
    this.length += data.length;
  }
  finish() {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const part of this.parts) {
      const piece = part.source ? this.source.subarray(part.start, part.end) : part.data;
      out.set(piece, offset);
      offset += piece.length;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------
// EXIF orientation

// The Orientation tag (0x0112) of IFD0 of the TIFF structure in b[start, end), or null.
// Every offset is checked against the block: a hostile block yields null, never a read
// outside it.
export function tiffOrientation(b, start = 0, end = b.length) {
  if (start < 0 || end > b.length || end - start < 8) return null;
  let little;
  if (b[start] === 0x49 && b[start + 1] === 0x49) little = true;
  else if (b[start] === 0x4d && b[start + 1] === 0x4d) little = false;
  else return null;
  const u16 = little ? u16le : u16be;
  const u32 = little ? u32le : u32be;
  if (u16(b, start + 2) !== 42) return null;
  const size = end - start;
  const ifd = u32(b, start + 4);
  if (ifd < 8 || ifd > size - 2) return null;
  const at = start + ifd;
  const fitting = Math.floor((end - at - 2) / 12);
  const count = Math.min(u16(b, at), fitting);
  for (let i = 0; i < count; i++) {
    const entry = at + 2 + 12 * i;
    if (u16(b, entry) !== 0x0112) continue;
    const type = u16(b, entry + 2);
    const n = u32(b, entry + 4);
    let value = null;
    if (type === 3 && n >= 1) value = u16(b, entry + 8);
    else if (type === 4 && n >= 1) value = u32(b, entry + 8);
    return value !== null && value >= 1 && value <= 8 ? value : null;
  }
  return null;
}

// An EXIF block as stored in PNG eXIf and WebP EXIF: the TIFF structure, or (as some
// writers do) "Exif\0\0" and then the TIFF structure.
function exifOrientation(b, start, end) {
  if (end - start >= 6 && ascii(b, start, "Exif\0")) return tiffOrientation(b, start + 6, end);
  return tiffOrientation(b, start, end);
}

// ---------------------------------------------------------------------------------------
// JPEG

function isSof(marker) {
  return (
    (marker >= 0xc0 && marker <= 0xc3) ||
    (marker >= 0xc5 && marker <= 0xc7) ||
    (marker >= 0xc9 && marker <= 0xcb) ||
    (marker >= 0xcd && marker <= 0xcf)
  );
}

// DHT, DAC, DQT, DNL, DRI, DHP, EXP: tables and parameters of the picture.
const JPEG_TABLES = new Set([0xc4, 0xcc, 0xdb, 0xdc, 0xdd, 0xde, 0xdf]);

// tablesOnly: an abbreviated stream of tables alone (SOI, DQT, DHT, EOI), as a TIFF's
// JPEGTables tag holds it.
async function cleanJpeg(b, { tablesOnly = false } = {}) {
  const n = b.length;
  if (n < 4) throw truncated("JPEG shorter than its first marker");
  if (b[0] !== 0xff || b[1] !== 0xd8) throw malformed("JPEG without SOI");
  const out = new Output(b);
  const pacer = new Pacer();
  out.range(0, 2);
  let pos = 2;
  let orientation = null;
  let exif = false;
  let frame = false;
  let scan = false;
  let jfif = false;
  let adobe = null; // the kept Adobe segment
  for (;;) {
    if (pos >= n) throw truncated("JPEG without EOI");
    if (b[pos] !== 0xff) {
      // Bytes between segments, which decoders skip: dropped.
      const next = b.indexOf(0xff, pos);
      if (next < 0) throw truncated("JPEG without EOI");
      pos = next;
      continue;
    }
    while (pos < n && b[pos] === 0xff) pos++; // fill bytes
    if (pos >= n) throw truncated("JPEG ends in fill bytes");
    const marker = b[pos];
    pos++;
    const markerAt = pos - 2; // the last 0xFF and the marker byte
    if (marker === 0xd9) {
      if (!scan && !tablesOnly) throw malformed("JPEG EOI before any scan");
      if (tablesOnly && (frame || scan)) throw malformed("JPEG tables with a picture");
      out.range(markerAt, pos);
      break; // anything after EOI is dropped
    }
    if (marker === 0xd8) throw malformed("JPEG with a second SOI");
    if (marker === 0x00) throw malformed("JPEG stuffed byte outside a scan");
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue; // RSTn, TEM: dropped
    if (pos + 2 > n) throw truncated("JPEG segment length cut off");
    const length = u16be(b, pos);
    if (length < 2) throw malformed("JPEG segment length below 2");
    const end = pos + length;
    if (end > n) throw truncated("JPEG segment runs past the end");
    const body = pos + 2;
    if (marker === 0xda) {
      if (!frame) throw malformed("JPEG scan before any frame header");
      const components = length >= 3 ? b[body] : 0;
      if (components < 1 || components > 4 || length !== 6 + 2 * components) {
        throw malformed("JPEG scan header");
      }
      out.range(markerAt, end);
      // Entropy-coded data: up to the first marker that is not RSTn (0xFF00 is a stuffed
      // 0xFF; runs of 0xFF before a byte are fill).
      let p = end;
      for (;;) {
        const ff = b.indexOf(0xff, p);
        if (ff < 0) throw truncated("JPEG scan runs to the end of the file");
        let q = ff + 1;
        while (q < n && b[q] === 0xff) q++;
        if (q >= n) throw truncated("JPEG scan runs to the end of the file");
        const m = b[q];
        if (m === 0x00 || (m >= 0xd0 && m <= 0xd7)) {
          p = q + 1;
          if (p >= pacer.next) await pacer.at(p);
          continue;
        }
        out.range(end, ff);
        pos = ff;
        break;
      }
      scan = true;
      continue;
    }
    if (isSof(marker)) {
      const components = length >= 8 ? b[body + 5] : 0;
      if (components < 1 || length !== 8 + 3 * components) throw malformed("JPEG frame header");
      frame = true;
      out.range(markerAt, end);
    } else if (JPEG_TABLES.has(marker)) {
      if (marker === 0xdd && length !== 4) throw malformed("JPEG DRI length");
      out.range(markerAt, end);
    } else if (marker === 0xe0) {
      if (!jfif && length >= 16 && ascii(b, body, "JFIF\0")) {
        jfif = true;
        // version (2), units (1), X density (2), Y density (2); no thumbnail
        out.bytes([0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]);
        out.range(body + 5, body + 12);
        out.bytes([0, 0]);
      }
    } else if (marker === 0xe1) {
      if (!exif && ascii(b, body, "Exif\0")) {
        exif = true; // viewers read the first EXIF block only
        orientation = tiffOrientation(b, body + 6, end);
      }
    } else if (marker === 0xee) {
      if (length >= 14 && ascii(b, body, "Adobe")) {
        if (adobe === null) {
          adobe = Uint8Array.of(0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0, 0, 0, 0, 0);
          out.bytes(adobe);
        }
        adobe[15] = b[body + 11]; // decoders take the transform of the last Adobe segment
      }
    } else if ((marker >= 0xe2 && marker <= 0xef) || marker === 0xfe) {
      // other APPn, COM: dropped
    } else if (marker === 0xc8 || (marker >= 0xf0 && marker <= 0xfd)) {
      throw new CleanError("unsupported", `JPEG extension marker 0x${marker.toString(16)}`);
    } else {
      throw malformed(`JPEG reserved marker 0x${marker.toString(16)}`);
    }
    pos = end;
    if (pos >= pacer.next) await pacer.at(pos);
  }
  return { data: out.finish(), orientation };
}

// ---------------------------------------------------------------------------------------
// PNG

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const PNG_CRITICAL = new Set(["IHDR", "PLTE", "IDAT", "IEND"]);
const PNG_KEPT = new Set([
  "tRNS", "gAMA", "cHRM", "sRGB", "cICP", "sBIT", "bKGD", "pHYs", "acTL", "fcTL", "fdAT",
]);

let crcTables = null;

// CRC-32 (ISO 3309, as PNG uses it), four bytes a step ("slicing by 4"): the running state
// after b[start, end), from state (-1 to begin; the CRC is the final state ^ -1).
function crc32Update(state, b, start, end) {
  if (crcTables === null) {
    crcTables = [0, 1, 2, 3].map(() => new Int32Array(256));
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTables[0][i] = c;
    }
    for (let i = 0; i < 256; i++) {
      for (let t = 1; t < 4; t++) {
        const prev = crcTables[t - 1][i];
        crcTables[t][i] = crcTables[0][prev & 0xff] ^ (prev >>> 8);
      }
    }
  }
  const [t0, t1, t2, t3] = crcTables;
  let c = state;
  let i = start;
  const stop4 = end - ((end - start) & 3);
  while (i < stop4) {
    c ^= b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
    c = t3[c & 0xff] ^ t2[(c >>> 8) & 0xff] ^ t1[(c >>> 16) & 0xff] ^ t0[c >>> 24];
    i += 4;
  }
  while (i < end) c = t0[(c ^ b[i++]) & 0xff] ^ (c >>> 8);
  return c;
}

export function crc32(b, start = 0, end = b.length) {
  return (crc32Update(-1, b, start, end) ^ -1) >>> 0;
}

// crc32, in pieces for a large chunk, so the page can pause between them.
async function pngCrc(b, start, end, pacer) {
  let c = -1;
  let i = start;
  while (i < end) {
    const stop = Math.min(end, i + PAUSE_EVERY);
    c = crc32Update(c, b, i, stop);
    i = stop;
    await pacer.at(i);
  }
  return (c ^ -1) >>> 0;
}

function isLetter(x) {
  return (x >= 0x41 && x <= 0x5a) || (x >= 0x61 && x <= 0x7a);
}

async function cleanPng(b) {
  const n = b.length;
  for (let i = 0; i < 8; i++) {
    if (i >= n) throw truncated("PNG signature cut off");
    if (b[i] !== PNG_SIGNATURE[i]) throw malformed("PNG signature");
  }
  const out = new Output(b);
  const pacer = new Pacer();
  out.range(0, 8);
  let pos = 8;
  let orientation = null;
  let exif = false;
  let first = true;
  let data = false;
  for (;;) {
    if (pos + 12 > n) throw truncated("PNG without IEND");
    const length = u32be(b, pos);
    if (length > 0x7fffffff) throw malformed("PNG chunk length above 2^31-1");
    for (let i = pos + 4; i < pos + 8; i++) {
      if (!isLetter(b[i])) throw malformed("PNG chunk type");
    }
    const type = String.fromCharCode(b[pos + 4], b[pos + 5], b[pos + 6], b[pos + 7]);
    const dataEnd = pos + 8 + length;
    const end = dataEnd + 4;
    if (end > n) throw truncated(`PNG ${type} chunk runs past the end`);
    const crc =
      length < PAUSE_EVERY ? crc32(b, pos + 4, dataEnd) : await pngCrc(b, pos + 4, dataEnd, pacer);
    if (crc !== u32be(b, dataEnd)) {
      throw malformed(`PNG ${type} chunk CRC`);
    }
    if (first !== (type === "IHDR")) throw malformed("PNG IHDR not first, or twice");
    if (type === "IHDR") {
      const depth = b[pos + 16];
      const colour = b[pos + 17];
      const depths = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] }[colour];
      if (length !== 13 || u32be(b, pos + 8) === 0 || u32be(b, pos + 12) === 0 || !depths || !depths.includes(depth)) {
        throw malformed("PNG IHDR");
      }
    }
    first = false;
    const critical = (b[pos + 4] & 0x20) === 0;
    if (critical) {
      if (!PNG_CRITICAL.has(type)) throw new CleanError("unsupported", `PNG chunk ${type}`);
      if (type === "IDAT") data = true;
      if (type === "IEND") {
        if (!data) throw malformed("PNG without IDAT");
        out.range(pos, end);
        break; // anything after IEND is dropped
      }
      out.range(pos, end);
    } else if (PNG_KEPT.has(type)) {
      out.range(pos, end);
    } else if (type === "eXIf" && !exif) {
      exif = true;
      orientation = exifOrientation(b, pos + 8, dataEnd);
    }
    pos = end;
    if (pos >= pacer.next) await pacer.at(pos);
  }
  return { data: out.finish(), orientation };
}

// ---------------------------------------------------------------------------------------
// WebP

// The chunks of b[start, end) (RIFF layout: fourcc, little-endian size, data, a zero pad
// byte after odd sizes). A last chunk without its pad byte is accepted (the output has it).
function riffChunks(b, start, end, where) {
  const chunks = [];
  let pos = start;
  while (pos < end) {
    if (pos + 8 > end) throw truncated(`${where}: chunk header cut off`);
    const fourcc = String.fromCharCode(b[pos], b[pos + 1], b[pos + 2], b[pos + 3]);
    const size = u32le(b, pos + 4);
    const dataStart = pos + 8;
    const dataEnd = dataStart + size;
    if (dataEnd > end) throw truncated(`${where}: ${fourcc} chunk runs past its container`);
    chunks.push({ fourcc, start: dataStart, end: dataEnd });
    pos = dataEnd + (size & 1);
  }
  return chunks;
}

const WEBP_FRAME_KEPT = new Set(["ALPH", "VP8 ", "VP8L"]);

// The start of a picture chunk's bitstream: a VP8 key frame's start code, the VP8L
// signature byte, an alpha chunk's header byte. (The rest is the decoder's to read.)
function checkWebpPicture(b, fourcc, start, end) {
  if (fourcc === "VP8 ") {
    if (end - start < 10 || b[start + 3] !== 0x9d || b[start + 4] !== 0x01 || b[start + 5] !== 0x2a) {
      throw malformed("VP8 key frame header");
    }
  } else if (fourcc === "VP8L") {
    if (end - start < 5 || b[start] !== 0x2f) throw malformed("VP8L header");
  } else if (fourcc === "ALPH") {
    if (end - start < 1) throw malformed("ALPH chunk empty");
  }
}
const WEBP_ALPHA = 0x10;
const WEBP_ANIMATION = 0x02;

async function cleanWebp(b) {
  const n = b.length;
  if (n < 12) throw truncated("WebP header cut off");
  if (!ascii(b, 0, "RIFF") || !ascii(b, 8, "WEBP")) throw malformed("WebP header");
  const riffSize = u32le(b, 4);
  if (riffSize < 4) throw malformed("RIFF size");
  const riffEnd = 8 + riffSize;
  if (riffEnd > n) throw truncated("RIFF size beyond the end of the file");
  const chunks = riffChunks(b, 12, riffEnd, "WebP");
  if (chunks.length === 0) throw malformed("WebP without chunks");
  const exif = chunks.find((chunk) => chunk.fourcc === "EXIF");
  const orientation = exif === undefined ? null : exifOrientation(b, exif.start, exif.end);
  // The kept chunks, each {fourcc, parts: [[start, end] | Uint8Array], length}.
  const kept = [];
  const head = chunks[0];
  if (head.fourcc === "VP8 " || head.fourcc === "VP8L") {
    checkWebpPicture(b, head.fourcc, head.start, head.end);
    kept.push({ fourcc: head.fourcc, parts: [[head.start, head.end]], length: head.end - head.start });
  } else if (head.fourcc === "VP8X") {
    if (head.end - head.start !== 10) throw malformed("VP8X chunk size");
    const flags = b[head.start] & (WEBP_ALPHA | WEBP_ANIMATION);
    const vp8x = new Uint8Array(10);
    vp8x[0] = flags;
    vp8x.set(b.subarray(head.start + 4, head.start + 10), 4); // canvas width-1, height-1
    kept.push({ fourcc: "VP8X", parts: [vp8x], length: 10 });
    let pictures = 0;
    let anim = 0;
    let frames = 0;
    for (const chunk of chunks.slice(1)) {
      const { fourcc, start, end } = chunk;
      if (fourcc === "VP8 " || fourcc === "VP8L" || fourcc === "ALPH") {
        checkWebpPicture(b, fourcc, start, end);
        if (fourcc !== "ALPH") pictures++;
        kept.push({ fourcc, parts: [[start, end]], length: end - start });
      } else if (fourcc === "ANIM") {
        if (end - start !== 6) throw malformed("ANIM chunk size");
        if (frames > 0) throw malformed("WebP ANIM after a frame");
        anim++;
        kept.push({ fourcc, parts: [[start, end]], length: 6 });
      } else if (fourcc === "ANMF") {
        if (end - start < 16) throw malformed("ANMF chunk size");
        const parts = [[start, start + 16]];
        let length = 16;
        let framePictures = 0;
        for (const sub of riffChunks(b, start + 16, end, "WebP frame")) {
          if (!WEBP_FRAME_KEPT.has(sub.fourcc)) continue;
          checkWebpPicture(b, sub.fourcc, sub.start, sub.end);
          if (sub.fourcc !== "ALPH") framePictures++;
          const size = sub.end - sub.start;
          const header = new Uint8Array(8);
          for (let i = 0; i < 4; i++) header[i] = sub.fourcc.charCodeAt(i);
          header[4] = size & 0xff;
          header[5] = (size >>> 8) & 0xff;
          header[6] = (size >>> 16) & 0xff;
          header[7] = (size >>> 24) & 0xff;
          parts.push(header, [sub.start, sub.end]);
          if (size & 1) parts.push(new Uint8Array(1));
          length += 8 + size + (size & 1);
        }
        if (framePictures !== 1) throw malformed("WebP frame without exactly one picture");
        frames++;
        kept.push({ fourcc, parts, length });
      }
      // ICCP, EXIF, XMP and unknown chunks: dropped
    }
    // What a decoder shows: an animation (ANIM, then frames) or one picture.
    if (flags & WEBP_ANIMATION) {
      if (anim !== 1 || frames === 0 || pictures !== 0) throw malformed("WebP animation");
    } else if (anim !== 0 || frames !== 0 || pictures !== 1) {
      throw malformed("WebP without exactly one picture");
    }
  } else {
    throw malformed(`WebP first chunk ${JSON.stringify(head.fourcc)}`);
  }
  let body = 4; // "WEBP"
  for (const chunk of kept) body += 8 + chunk.length + (chunk.length & 1);
  if (body > 0xfffffff6) throw malformed("WebP too large");
  const out = new Output(b);
  out.bytes([
    0x52, 0x49, 0x46, 0x46, body & 0xff, (body >>> 8) & 0xff, (body >>> 16) & 0xff,
    (body >>> 24) & 0xff, 0x57, 0x45, 0x42, 0x50,
  ]);
  for (const chunk of kept) {
    const size = chunk.length;
    out.bytes([
      chunk.fourcc.charCodeAt(0), chunk.fourcc.charCodeAt(1), chunk.fourcc.charCodeAt(2),
      chunk.fourcc.charCodeAt(3), size & 0xff, (size >>> 8) & 0xff, (size >>> 16) & 0xff,
      (size >>> 24) & 0xff,
    ]);
    for (const part of chunk.parts) {
      if (part instanceof Uint8Array) out.bytes(part);
      else out.range(part[0], part[1]);
    }
    if (size & 1) out.bytes([0]);
  }
  return { data: out.finish(), orientation };
}

// ---------------------------------------------------------------------------------------
// GIF

// The data sub-blocks starting at pos (each a length byte and that many bytes, ended by a
// zero length): the position after the terminator.
function gifSubBlocks(b, pos) {
  const n = b.length;
  for (;;) {
    if (pos >= n) throw truncated("GIF data sub-blocks cut off");
    const size = b[pos];
    pos += 1 + size;
    if (size === 0) return pos;
  }
}

async function cleanGif(b) {
  const n = b.length;
  if (n < 13) throw truncated("GIF header cut off");
  const out = new Output(b);
  const pacer = new Pacer();
  let pos = 13;
  if (b[10] & 0x80) pos += 3 << ((b[10] & 7) + 1); // global colour table
  if (pos > n) throw truncated("GIF colour table cut off");
  out.range(0, pos);
  let images = 0;
  let loop = false;
  for (;;) {
    if (pos >= n) {
      // A file that stops where a block would begin lacks only its trailer.
      if (images === 0) throw truncated("GIF without an image");
      out.bytes([0x3b]);
      break;
    }
    const start = pos;
    const introducer = b[pos];
    if (introducer === 0x3b) {
      if (images === 0) throw malformed("GIF without an image");
      out.range(pos, pos + 1);
      break; // anything after the trailer is dropped
    }
    if (introducer === 0x2c) {
      if (pos + 10 > n) throw truncated("GIF image descriptor cut off");
      pos += 10;
      if (b[start + 9] & 0x80) pos += 3 << ((b[start + 9] & 7) + 1); // local colour table
      if (pos >= n) throw truncated("GIF image cut off");
      const codeSize = b[pos];
      if (codeSize < 1 || codeSize > 11) throw malformed("GIF LZW code size");
      pos = gifSubBlocks(b, pos + 1);
      if (pos > n) throw truncated("GIF image data cut off");
      images++;
      out.range(start, pos);
    } else if (introducer === 0x21) {
      if (pos + 2 > n) throw truncated("GIF extension cut off");
      const label = b[pos + 1];
      pos = gifSubBlocks(b, pos + 2);
      if (pos > n) throw truncated("GIF extension cut off");
      if (label === 0xf9) {
        if (b[start + 2] !== 4 || pos !== start + 8) throw malformed("GIF graphic control extension");
        out.range(start, pos);
      } else if (label === 0xff && !loop && b[start + 2] === 11 && start + 19 <= pos) {
        // NETSCAPE2.0 (or ANIMEXTS1.0): the loop count, written in its plain form
        const name = ascii(b, start + 3, "NETSCAPE2.0") || ascii(b, start + 3, "ANIMEXTS1.0");
        if (name && b[start + 14] === 3 && b[start + 15] === 1) {
          loop = true;
          out.bytes([0x21, 0xff, 0x0b]);
          out.range(start + 3, start + 14);
          out.bytes([0x03, 0x01, b[start + 16], b[start + 17], 0x00]);
        }
      }
      // comments, plain text, other application extensions (XMP, ICC, IPTC): dropped
    } else {
      throw malformed(`GIF block 0x${introducer.toString(16)}`);
    }
    if (pos >= pacer.next) await pacer.at(pos);
  }
  return { data: out.finish(), orientation: null };
}

// ---------------------------------------------------------------------------------------
// TIFF

// Tags that describe the picture's pixels: kept. Every other tag goes (make, model, serial,
// software, dates, artist, descriptions, page and document names, positions, EXIF and GPS
// directories, XMP, IPTC, Photoshop, ICC, sub-images and thumbnails, private tags).
const TIFF_KEPT = new Set([
  254, // NewSubfileType
  255, // SubfileType
  256, // ImageWidth
  257, // ImageLength
  258, // BitsPerSample
  259, // Compression
  262, // PhotometricInterpretation
  263, // Threshholding
  266, // FillOrder
  273, // StripOffsets (rewritten)
  277, // SamplesPerPixel
  278, // RowsPerStrip
  279, // StripByteCounts
  280, // MinSampleValue
  281, // MaxSampleValue
  282, // XResolution
  283, // YResolution
  284, // PlanarConfiguration
  292, // T4Options
  293, // T6Options
  296, // ResolutionUnit
  317, // Predictor
  318, // WhitePoint
  319, // PrimaryChromaticities
  320, // ColorMap
  322, // TileWidth
  323, // TileLength
  324, // TileOffsets (rewritten)
  325, // TileByteCounts
  332, // InkSet
  338, // ExtraSamples
  339, // SampleFormat
  340, // SMinSampleValue
  341, // SMaxSampleValue
  347, // JPEGTables
  529, // YCbCrCoefficients
  530, // YCbCrSubSampling
  531, // YCbCrPositioning
  532, // ReferenceBlackWhite
]);
// Bytes per value of each TIFF field type (BYTE ASCII SHORT LONG RATIONAL SBYTE UNDEFINED
// SSHORT SLONG SRATIONAL FLOAT DOUBLE IFD).
const TIFF_TYPE_SIZE = [0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4];
const TIFF_MAX_PAGES = 10000;

async function cleanTiff(b) {
  const n = b.length;
  if (n < 8) throw truncated("TIFF header cut off");
  const little = b[0] === 0x49;
  const u16 = little ? u16le : u16be;
  const u32 = little ? u32le : u32be;
  if (u16(b, 2) !== 42) throw malformed("TIFF header"); // BigTIFF (43) is not sniffed as TIFF
  const pacer = new Pacer();
  const pages = [];
  const seen = new Set();
  let orientation = null;
  let at = u32(b, 4);
  while (at !== 0) {
    if (seen.has(at) || pages.length >= TIFF_MAX_PAGES) throw malformed("TIFF directories loop");
    seen.add(at);
    if (at < 8 || at + 2 > n) throw truncated("TIFF directory beyond the end");
    const count = u16(b, at);
    if (at + 2 + 12 * count + 4 > n) throw truncated("TIFF directory cut off");
    const entries = [];
    for (let i = 0; i < count; i++) {
      const e = at + 2 + 12 * i;
      const tag = u16(b, e);
      const type = u16(b, e + 2);
      const values = u32(b, e + 4);
      if (tag === 274 && pages.length === 0 && type === 3 && values >= 1) {
        const value = u16(b, e + 8);
        orientation = value >= 1 && value <= 8 ? value : null;
      }
      if (!TIFF_KEPT.has(tag)) continue;
      const size = TIFF_TYPE_SIZE[type];
      if (size === undefined || size === 0) throw malformed(`TIFF tag ${tag} of type ${type}`);
      const bytes = size * values;
      let valueAt = e + 8;
      if (bytes > 4) {
        valueAt = u32(b, e + 8);
        if (valueAt + bytes > n) throw truncated(`TIFF tag ${tag} values beyond the end`);
      }
      entries.push({ tag, type, values, valueAt, bytes });
    }
    entries.sort((x, y) => x.tag - y.tag); // written in order, as TIFF requires
    for (let i = 1; i < entries.length; i++) {
      if (entries[i].tag === entries[i - 1].tag) throw malformed(`TIFF tag ${entries[i].tag} twice`);
    }
    pages.push(entries);
    at = u32(b, at + 2 + 12 * count);
  }
  if (pages.length === 0) throw malformed("TIFF without a directory");

  // Each page's pieces of picture data (strips or tiles), checked against the file.
  const layout = [];
  let total = 8;
  let dataBytes = 0; // picture data and values copied: never more than the file holds
  let valueBytes = 0;
  for (const entries of pages) {
    const find = (tag) => entries.find((entry) => entry.tag === tag);
    const compression = find(259);
    const scheme = compression === undefined ? 1
      : compression.type === 3 ? u16(b, compression.valueAt)
        : compression.type === 4 ? u32(b, compression.valueAt) : -1;
    if (scheme === 6) throw new CleanError("unsupported", "TIFF with old-style JPEG");
    // JPEG compression (7; 34892, lossy JPEG in DNG): each strip or tile is a JPEG stream,
    // which can hold APPn segments (EXIF with GPS, XMP, ICC) and comments of its own, and
    // JPEGTables an abbreviated one: they are cleaned as JPEG files are.
    const jpeg = scheme === 7 || scheme === 34892;
    const tables = find(347);
    if (tables !== undefined && jpeg) {
      const cleaned = await cleanJpeg(b.subarray(tables.valueAt, tables.valueAt + tables.bytes), { tablesOnly: true });
      const index = entries.indexOf(tables);
      entries[index] = { ...tables, type: 7, values: cleaned.data.length, bytes: cleaned.data.length, data: cleaned.data };
    }
    let offsets = find(273);
    let counts = find(279);
    if (offsets === undefined && counts === undefined) {
      offsets = find(324);
      counts = find(325);
    } else if (find(324) !== undefined || find(325) !== undefined) {
      throw malformed("TIFF with both strips and tiles");
    }
    if (offsets === undefined || counts === undefined || offsets.values !== counts.values || offsets.values === 0) {
      throw malformed("TIFF picture data offsets");
    }
    const read = (entry, i) =>
      entry.type === 3 ? u16(b, entry.valueAt + 2 * i) : entry.type === 4 ? u32(b, entry.valueAt + 4 * i) : -1;
    const pieces = [];
    for (let i = 0; i < offsets.values; i++) {
      const start = read(offsets, i);
      const length = read(counts, i);
      if (start < 0 || length < 0) throw malformed("TIFF picture data offsets");
      if (start + length > n) throw truncated("TIFF picture data beyond the end");
      dataBytes += length;
      if (dataBytes > n) throw malformed("TIFF data used more than once");
      if (jpeg) {
        const cleaned = (await cleanJpeg(b.subarray(start, start + length))).data;
        pieces.push([start, cleaned.length, cleaned]);
      } else {
        pieces.push([start, length]);
      }
    }
    // The directory, then values that do not fit in an entry, then the picture data; each
    // on an even offset. Offsets are written as LONG.
    const kept = entries.map((entry) =>
      entry === offsets ? { ...entry, type: 4, bytes: 4 * entry.values, offsets: true }
        : entry === counts && jpeg ? { ...entry, type: 4, bytes: 4 * entry.values, counts: true } : entry,
    );
    const ifdAt = total;
    total += 2 + 12 * kept.length + 4;
    for (const entry of kept) {
      if (entry.bytes > 4) {
        entry.outAt = total;
        total += entry.bytes + (entry.bytes & 1);
        valueBytes += entry.bytes;
      }
    }
    const placed = [];
    for (const [start, length] of pieces) {
      placed.push(total);
      total += length + (length & 1);
    }
    layout.push({ ifdAt, kept, pieces, placed });
    // Pieces that overlap or repeat would make the copy larger than the file (a small file
    // asking for gigabytes).
    if (dataBytes > n || valueBytes > n) throw malformed("TIFF data used more than once");
    if (total > 0xffffffff) throw new CleanError("unsupported", "TIFF above 4 GiB");
  }

  const out = new Uint8Array(total);
  const w16 = (at, v) => {
    if (little) { out[at] = v & 0xff; out[at + 1] = v >>> 8; }
    else { out[at] = v >>> 8; out[at + 1] = v & 0xff; }
  };
  const w32 = (at, v) => {
    if (little) { out[at] = v & 0xff; out[at + 1] = (v >>> 8) & 0xff; out[at + 2] = (v >>> 16) & 0xff; out[at + 3] = v >>> 24; }
    else { out[at] = v >>> 24; out[at + 1] = (v >>> 16) & 0xff; out[at + 2] = (v >>> 8) & 0xff; out[at + 3] = v & 0xff; }
  };
  out.set(b.subarray(0, 4), 0);
  w32(4, 8);
  for (let p = 0; p < layout.length; p++) {
    const { ifdAt, kept, pieces, placed } = layout[p];
    w16(ifdAt, kept.length);
    for (let i = 0; i < kept.length; i++) {
      const entry = kept[i];
      const e = ifdAt + 2 + 12 * i;
      w16(e, entry.tag);
      w16(e + 2, entry.type);
      w32(e + 4, entry.values);
      const target = entry.bytes > 4 ? entry.outAt : e + 8;
      if (entry.bytes > 4) w32(e + 8, entry.outAt);
      if (entry.offsets) {
        for (let k = 0; k < placed.length; k++) w32(target + 4 * k, placed[k]);
      } else if (entry.counts) {
        for (let k = 0; k < pieces.length; k++) w32(target + 4 * k, pieces[k][1]);
      } else if (entry.data) {
        out.set(entry.data, target);
      } else {
        out.set(b.subarray(entry.valueAt, entry.valueAt + entry.bytes), target);
      }
    }
    const next = p + 1 < layout.length ? layout[p + 1].ifdAt : 0;
    w32(ifdAt + 2 + 12 * kept.length, next);
    for (let k = 0; k < pieces.length; k++) {
      const [start, length, cleaned] = pieces[k];
      out.set(cleaned ?? b.subarray(start, start + length), placed[k]);
      if (placed[k] >= pacer.next) await pacer.at(placed[k]);
    }
  }
  return { data: out, orientation };
}

// ---------------------------------------------------------------------------------------
// Type detection

// Header fields no one begins a note with: one among the first lines is mail.
const ROUTING_FIELDS = new Set([
  "received", "return-path", "delivered-to", "message-id", "mime-version", "in-reply-to",
  "references", "dkim-signature", "authentication-results", "arc-seal",
  "arc-message-signature", "arc-authentication-results", "content-transfer-encoding",
]);
// Header fields a note might begin with: two of them and an address are mail.
const MAIL_FIELDS = new Set([
  "from", "sender", "reply-to", "to", "cc", "bcc", "subject", "date", "sent",
  "content-type", "importance", "thread-topic", "thread-index",
]);

// As vault/scrub.py's _is_mail: whether the text begins with an e-mail header block.
function isMail(prefix) {
  if (/^[\ufeff\s]*From \S+@\S+ /.test(prefix)) return true;
  let ordinary = 0;
  let address = false;
  const lines = prefix.replace(/^[\ufeff \t\r\n]+/, "").split(/\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/);
  for (const line of lines) {
    if (line[0] === " " || line[0] === "\t") {
      address = address || line.includes("@");
      continue;
    }
    const field = /^([A-Za-z0-9-]+):/.exec(line);
    if (field === null) break;
    const name = field[1].toLowerCase();
    if (ROUTING_FIELDS.has(name) || name.startsWith("x-")) return true;
    if (MAIL_FIELDS.has(name)) ordinary++;
    address = address || line.includes("@");
  }
  return ordinary >= 2 && address;
}

// Text formats with metadata of their own, which the program that opens them does not
// show: RTF ({\info}: author, operator, company, creation and revision times; rsid
// tables), PostScript and EPS (%%For: the account name, %%Creator, %%CreationDate),
// vCard and iCalendar (PRODID, UIDs with a host name, REV and DTSTAMP times, and base64
// PHOTO or ATTACH files with their own EXIF). Not plain text: their own type, so they
// are sent only if the witness agrees.
const TEXT_CONTAINERS = [
  [/^\{\\rtf/, "application/rtf"],
  [/^%!/, "application/postscript"],
  [/^BEGIN:VCARD\b/i, "text/x-vcard"],
  [/^BEGIN:VCALENDAR\b/i, "text/calendar"],
];

function textType(b) {
  if (b.length === 0) return null;
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(b);
  } catch {
    return null;
  }
  // Control characters (as vault/scrub.py), searched in the decoded text: in UTF-8 these
  // code points are exactly those bytes.
  if (/[\x00-\x08\x0b\x0e-\x1f\x7f]/.test(text)) return null;
  const start = text.search(/[^\ufeff\s]/);
  if (start < 0) return TEXT; // white space only
  const prefix = text.slice(start, start + 64 * 1024);
  if (prefix[0] === "<") return null; // markup (SVG, HTML, XML): not plain text
  for (const [signature, mediaType] of TEXT_CONTAINERS) {
    if (signature.test(prefix)) return mediaType;
  }
  return isMail(prefix) ? MAIL : TEXT;
}

// The media type of a zip: OpenDocument by its stored "mimetype" entry, Office Open XML by
// its part names in the central directory; otherwise application/zip.
function zipType(b) {
  const n = b.length;
  // OpenDocument: "mimetype" first, stored (method 0), its content the media type.
  if (n >= 38 && ascii(b, 30, "mimetype") && u16le(b, 26) === 8 && u16le(b, 8) === 0) {
    const size = u32le(b, 18);
    const extra = u16le(b, 28);
    const at = 38 + extra;
    if (size <= 200 && at + size <= n) {
      let declared = "";
      for (let i = at; i < at + size; i++) declared += String.fromCharCode(b[i]);
      declared = declared.trim();
      if (declared.startsWith(ODF_PREFIX) && /^[a-z0-9.+/-]+$/.test(declared)) return declared;
    }
  }
  // The end of central directory record, within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = n - 22; i >= 0 && i >= n - 22 - 0xffff; i--) {
    if (b[i] === 0x50 && b[i + 1] === 0x4b && b[i + 2] === 5 && b[i + 3] === 6) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return ZIP;
  const entries = u16le(b, eocd + 10);
  let at = u32le(b, eocd + 16);
  let types = false;
  const parts = new Set();
  for (let i = 0; i < entries; i++) {
    if (at + 46 > n || !(b[at] === 0x50 && b[at + 1] === 0x4b && b[at + 2] === 1 && b[at + 3] === 2)) {
      break;
    }
    const nameLength = u16le(b, at + 28);
    const next = at + 46 + nameLength + u16le(b, at + 30) + u16le(b, at + 32);
    if (at + 46 + nameLength > n) break;
    let name = "";
    if (nameLength <= 64) {
      for (let k = at + 46; k < at + 46 + nameLength; k++) name += String.fromCharCode(b[k]);
    }
    if (name === "[Content_Types].xml") types = true;
    else if (name === "word/document.xml" || name === "xl/workbook.xml" || name === "ppt/presentation.xml") {
      parts.add(name);
    }
    at = next;
  }
  if (types) {
    if (parts.has("word/document.xml")) return DOCX;
    if (parts.has("xl/workbook.xml")) return XLSX;
    if (parts.has("ppt/presentation.xml")) return PPTX;
  }
  return ZIP;
}

const HEIC_BRANDS = new Set(["heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1"]);

function isoType(b) {
  const size = u32be(b, 0);
  const brands = [];
  const end = Math.min(b.length, size >= 16 ? size : 16, 4096);
  for (let at = 8; at + 4 <= end; at += at === 8 ? 8 : 4) {
    brands.push(String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]));
  }
  if (brands.includes("avif") || brands.includes("avis")) return AVIF;
  if (HEIC_BRANDS.has(brands[0]) || brands.some((brand) => brand === "heic" || brand === "heix")) return HEIC;
  if (brands[0] === "qt  ") return QUICKTIME;
  return MP4;
}

// The media type of bytes, from their content alone (never a file name or a browser's
// guess). application/octet-stream when unknown.
export function sniff(bytes) {
  const b = bytes;
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return JPEG;
  if (b.length >= 8 && PNG_SIGNATURE.every((x, i) => b[i] === x)) return PNG;
  if (ascii(b, 0, "RIFF") && ascii(b, 8, "WEBP")) return WEBP;
  if (ascii(b, 0, "II*\0") || ascii(b, 0, "MM\0*")) return TIFF;
  if (ascii(b, 0, "GIF87a") || ascii(b, 0, "GIF89a")) return GIF;
  if (ascii(b, 0, "%PDF-")) return PDF;
  if (ascii(b, 0, "PK\x03\x04")) return zipType(b);
  if (b.length >= 12 && ascii(b, 4, "ftyp")) return isoType(b);
  return textType(b) ?? OCTET;
}

// ---------------------------------------------------------------------------------------
// cleanFile

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  let hex = "";
  for (const x of digest) hex += (x < 16 ? "0" : "") + x.toString(16);
  return hex;
}

const CLEANERS = { [JPEG]: cleanJpeg, [PNG]: cleanPng, [WEBP]: cleanWebp, [GIF]: cleanGif, [TIFF]: cleanTiff };

// Clean a file (a Blob, or a Uint8Array): {status: "cleaned" | "unsupported", mediaType,
// data, sha256Before, sha256After, orientation}. "unsupported": a type not cleaned here;
// data is the original bytes. Throws CleanError for a JPEG, PNG or WebP that is cut off or
// malformed (nothing broken is ever returned as cleaned).
export async function cleanFile(file) {
  const original =
    file instanceof Uint8Array ? file : new Uint8Array(await file.arrayBuffer());
  const mediaType = sniff(original);
  const sha256Before = await sha256Hex(original);
  const cleaner = CLEANERS[mediaType];
  if (cleaner === undefined) {
    return {
      status: mediaType === TEXT ? "cleaned" : "unsupported",
      mediaType,
      data: original,
      sha256Before,
      sha256After: sha256Before,
      orientation: null,
    };
  }
  let result;
  try {
    result = await cleaner(original);
  } catch (error) {
    if (error instanceof CleanError) throw error;
    // Any other failure (e.g. memory) is reported as one this module names.
    throw new CleanError("malformed", `${mediaType}: ${error && error.message}`);
  }
  return {
    status: "cleaned",
    mediaType,
    data: result.data,
    sha256Before,
    sha256After: await sha256Hex(result.data),
    orientation: result.orientation,
  };
}

export { cleanGif as _cleanGif, cleanJpeg as _cleanJpeg, cleanPng as _cleanPng, cleanWebp as _cleanWebp };
