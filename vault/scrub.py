"""Metadata cleaning for attachments: file metadata is how witnesses are found.

A phone photo carries the GPS position where it was taken, the camera's serial number and the
time to the second; a Word file carries its author's name and the machine's user account; a
PDF carries the producing software, dates and a document ID shared with every other copy.
Any of these can lead police to a witness or to the relative who sent a file. ``clean``
removes them before anything is sealed, and records the SHA-256 before and after so
investigators can match the cleaned file to the original if the witness later provides it.

What each type gets (the type is detected from the content, never from the file name):

* **JPEG, PNG, WebP, TIFF, GIF** — decoded with Pillow, rotated per the EXIF orientation, and
  re-encoded from pixels alone: no EXIF (GPS, camera, maker notes, times), XMP, IPTC/
  Photoshop blocks, comments or PNG text chunks survive. An ICC colour profile is applied
  (pixels converted to sRGB) and then dropped, since profiles name devices and software.
  JPEG is re-encoded at quality 95 with 4:4:4 chroma, WebP at quality 95, PNG, GIF and TIFF
  losslessly (TIFF with Deflate). Animations and multi-page TIFFs keep all frames (and
  animations their frame durations and loop count); of a multi-picture JPEG (MPO) only the
  main picture is kept. Limit: at most
  ``MAX_PIXELS`` pixels over all frames (decompression bombs are refused).
* **PDF** — rewritten with pikepdf: document information dictionary, every ``/Metadata``
  (XMP) stream (the document's, a page's, an image's), ``/PieceInfo``, ``/LastModified`` and
  ``/OPI`` entries, and the author (``/T``) and dates (``/M``, ``/CreationDate``) of markup
  annotations (comments) are removed; images lose their metadata losslessly under any form
  of ``/Filter`` (a name or an array, with ``/DecodeParms`` or not, after Flate or ASCII
  filters, which are undone): JPEG keeps only its JFIF and Adobe segments among APPn and
  COM (also inline in content streams), JPEG 2000 only its image boxes; links and
  actions stay only when they lead inside the document or to a web or mail address
  (``/Launch``, ``/GoToR`` and ``file:`` links name files on the witness's disk); the
  document ID is replaced by one derived from the content (the original ID links every copy
  of a document); earlier revisions (incremental updates) and unreferenced objects are
  dropped; output is never encrypted. Password-protected PDFs and PDFs with files inside
  them (embedded files, file attachments: send them separately) are refused.
* **Office Open XML** (docx, xlsx, pptx) and **OpenDocument** (odt, ods, odp, …) — rebuilt
  by `vault.office` from the parts, elements and attributes known to be safe (an
  allow-list; everything else is dropped), into a zip with fixed timestamps (1980-01-01
  00:00), no extra fields, no comments and no operating-system attributes. Images and
  office documents embedded in the package are cleaned as above (at most
  ``MAX_PACKAGE_DEPTH`` levels deep); any other embedded object or picture is refused.
  Limits: ``MAX_ZIP_ENTRIES`` entries, ``MAX_ZIP_BYTES`` uncompressed, a compression ratio
  of at most ``MAX_ZIP_RATIO``.
* **Plain UTF-8 text** — has no metadata container; passed through as ``text/plain``.
  Text that is markup (starts with ``<``: SVG, HTML, XML) is *not* plain text: it goes to
  mat2 or is refused. Text that starts with an e-mail header block (``Received:``,
  ``X-Originating-IP:``, ``From:`` and ``To:``, …) is ``message/rfc822`` and refused: the
  witness copies the message's text into the statement.
* **Anything else** — cleaned by ``mat2`` if it is on PATH (in a private directory on the
  memory-backed ``/dev/shm``, never on disk, removed at once), otherwise refused with
  ``ScrubRefused``. A witness may deliberately keep a file's metadata (e.g. a photo whose
  GPS position *is* the evidence) with ``keep_metadata=True``: the bytes pass unchanged and
  the manifest records ``metadata_kept``.

Not removed: what the content itself shows or says (faces, a name written in a document,
sensor noise that can link photos to one camera). Those are for the witness to judge.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import mimetypes
import os
import re
import shutil
import subprocess
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final, NoReturn

import pikepdf
from PIL import Image, ImageCms, ImageOps, ImageSequence

from vault import office

__all__ = [
    "MAX_PACKAGE_DEPTH",
    "MAX_PIXELS",
    "MAX_ZIP_BYTES",
    "MAX_ZIP_ENTRIES",
    "MAX_ZIP_RATIO",
    "Cleaned",
    "ScrubError",
    "ScrubFailed",
    "ScrubRefused",
    "Unchanged",
    "clean",
    "clean_file",
    "detect_file_type",
    "detect_media_type",
]

MAX_PIXELS: Final = 2 * 89_478_485  # Pillow's own decompression-bomb error threshold
MAX_ZIP_ENTRIES: Final = 10_000
MAX_ZIP_BYTES: Final = 1024**3
MAX_ZIP_RATIO: Final = 200
MAX_PACKAGE_DEPTH: Final = 2  # documents embedded in documents embedded in documents
MAT2_TIMEOUT_SECONDS: Final = 300
_MEMORY_DIR: Final = "/dev/shm"  # noqa: S108 - a private mkdtemp directory is made inside
_PIECE: Final = 1024 * 1024  # files sealed unchanged are read (typed, hashed) in pieces
_TEXT_PREFIX: Final = 64 * 1024  # characters of a text kept to tell markup and mail apart

JPEG: Final = "image/jpeg"
PNG: Final = "image/png"
WEBP: Final = "image/webp"
GIF: Final = "image/gif"
TIFF: Final = "image/tiff"
PDF: Final = "application/pdf"
TEXT: Final = "text/plain"
MAIL: Final = "message/rfc822"
DOCX: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX: Final = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
_ODF_PREFIX: Final = "application/vnd.oasis.opendocument."
_OOXML_MAIN_PARTS: Final = {
    "word/document.xml": DOCX,
    "xl/workbook.xml": XLSX,
    "ppt/presentation.xml": PPTX,
}
_PILLOW_FORMATS: Final = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP", TIFF: "TIFF", GIF: "GIF"}


class ScrubError(ValueError):
    """An attachment could not be cleaned; the message names the file."""


class ScrubRefused(ScrubError):
    """The file's type cannot be cleaned here; the witness may keep its metadata knowingly."""


class ScrubFailed(ScrubError):
    """The file claims a type it cannot be read as (damaged, hostile or too large)."""


@dataclass(frozen=True)
class Cleaned:
    """A file ready to attach: the bytes to seal and what the manifest says about them.

    ``repeatable``: cleaning the same bytes again gives the same bytes (every cleaner here;
    not mat2, whose output is not ours to promise), so a caller short of memory may drop
    ``data`` and clean the file again when it needs the bytes."""

    data: bytes
    media_type: str
    sha256_before: str
    sha256_after: str
    kept_metadata: bool
    repeatable: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Unchanged:
    """A file to seal byte for byte as it is (its metadata kept on purpose, or plain text,
    which has none), measured in pieces: read it again, in pieces, when sealing; the
    sealing checks that its size and SHA-256 are still these."""

    media_type: str
    size: int
    sha256: str
    kept_metadata: bool


# ---------------------------------------------------------------------------------------------
# Type detection


def _zip_media_type(file: BinaryIO) -> str | None:
    try:
        with zipfile.ZipFile(file) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                info = archive.getinfo("mimetype")
                if info.file_size <= 200:
                    declared = archive.read(info).decode("ascii", "replace").strip()
                    if declared.startswith(_ODF_PREFIX) and re.fullmatch(
                        r"[a-z0-9.+/-]+", declared
                    ):
                        return declared
            if "[Content_Types].xml" in names:
                for part, media_type in _OOXML_MAIN_PARTS.items():
                    if part in names:
                        return media_type
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return None
    return None


_CONTROL_BYTES: Final = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


# Text formats that carry metadata of their own: markup (SVG, HTML, XML can hold <metadata>,
# author names, absolute file paths) and e-mail (headers with names, addresses, IP addresses).
_MARKUP: Final = re.compile(r"\A[\ufeff\s]*<")
_MBOX_FROM: Final = re.compile(r"\A[\ufeff\s]*From \S+@\S+ ")
_HEADER_FIELD: Final = re.compile(r"([A-Za-z0-9-]+):")
# Header fields that no one begins a note with: one of them among the first lines is mail.
_ROUTING_FIELDS: Final = frozenset({
    "received", "return-path", "delivered-to", "message-id", "mime-version", "in-reply-to",
    "references", "dkim-signature", "authentication-results", "arc-seal",
    "arc-message-signature", "arc-authentication-results", "content-transfer-encoding",
})
# Header fields a note might begin with ("Date: 2018"): two of them and an address are mail.
_MAIL_FIELDS: Final = frozenset({
    "from", "sender", "reply-to", "to", "cc", "bcc", "subject", "date", "sent",
    "content-type", "importance", "thread-topic", "thread-index",
})


def _is_mail(prefix: str) -> bool:
    """Whether ``prefix`` begins with an e-mail header block: a mailbox "From " line, a
    routing or ``X-`` field among its first header lines, or two ordinary mail fields with
    an address among them. (A letter headed "To: …" and "From: …" without an address, or
    headers pasted from a mail program, show only what the witness sees.)"""
    if _MBOX_FROM.match(prefix):
        return True
    ordinary = 0
    address = False
    for line in prefix.lstrip("\ufeff \t\r\n").splitlines():
        if line[:1] in (" ", "\t"):  # a folded field continues
            address = address or "@" in line
            continue
        field = _HEADER_FIELD.match(line)
        if field is None:
            break
        name = field.group(1).lower()
        if name in _ROUTING_FIELDS or name.startswith("x-"):
            return True
        ordinary += name in _MAIL_FIELDS
        address = address or "@" in line
    return ordinary >= 2 and address


# Text that is a container of its own, with the writer's metadata inside: RTF ({\info}:
# author, operator, company, creation and revision times), PostScript/EPS (%%For: the
# account name, %%CreationDate), vCard and iCalendar (UIDs with host names, base64 photos
# with their own EXIF). Told apart as the page's clean.js does, and refused like e-mail.
TEXT_CONTAINERS: Final = (
    (re.compile(r"\A\{\\rtf"), "application/rtf", "an RTF document"),
    (re.compile(r"\A%!"), "application/postscript", "a PostScript file"),
    (re.compile(r"\ABEGIN:VCARD\b", re.IGNORECASE), "text/x-vcard", "a contact card (vCard)"),
    (re.compile(r"\ABEGIN:VCALENDAR\b", re.IGNORECASE), "text/calendar",
     "a calendar file (iCalendar)"),
)


def _text_type(prefix: str) -> str | None:
    """``text/plain``, ``message/rfc822`` for an e-mail, a `TEXT_CONTAINERS` type, None for
    markup."""
    if _MARKUP.match(prefix):
        return None
    for pattern, media_type, _ in TEXT_CONTAINERS:
        if pattern.match(prefix):
            return media_type
    return MAIL if _is_mail(prefix) else TEXT


_LEADING_SPACE: Final = re.compile(r"\A[\ufeff\s]+")


def _text_file_type(file: BinaryIO) -> str | None:
    """Whether the rest of ``file`` is UTF-8 text without control characters, and which
    (`_text_type`), or None; read in pieces, keeping only the first ``_TEXT_PREFIX``
    characters after any leading white space (where markup and mail headers show)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    prefix = ""
    while piece := file.read(_PIECE):
        if _CONTROL_BYTES.search(piece) is not None:  # binary, found fast: never decode it
            return None
        try:
            text = decoder.decode(piece)
        except UnicodeDecodeError:
            return None
        if len(prefix) < _TEXT_PREFIX:
            prefix += text[:_TEXT_PREFIX]
            prefix = _LEADING_SPACE.sub("", prefix)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    return _text_type(prefix)


def detect_media_type(data: bytes) -> str | None:
    """The media type this module knows ``data`` to be, from its content; None if unknown."""
    return detect_file_type(io.BytesIO(data))


def detect_file_type(file: BinaryIO) -> str | None:
    """`detect_media_type` for a seekable binary file, read from its start in pieces, never
    held whole (a zip's directory is read from its end). The position is left anywhere."""
    file.seek(0)
    head = file.read(16)
    file.seek(0)
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"PK\x03\x04"):
        return _zip_media_type(file)
    return _text_file_type(file) if head else None


def _guess_from_name(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


# ---------------------------------------------------------------------------------------------
# Images


_SRGB = ImageCms.createProfile("sRGB")


def _without_profile(frame: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert pixels from an embedded ICC profile to sRGB so dropping the profile is safe."""
    if not icc:
        return frame
    if frame.mode not in ("RGB", "RGBA", "CMYK"):
        return frame  # grey and palette images: profile dropped, pixels kept as they are
    output_mode = "RGBA" if frame.mode == "RGBA" else "RGB"
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(frame, source, _SRGB, outputMode=output_mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return frame.convert(output_mode) if frame.mode == "CMYK" else frame
    assert converted is not None
    return converted


def _plain_frame(frame: Image.Image, icc: bytes | None) -> Image.Image:
    """A copy of the pixels with no metadata attached (Pillow falls back on ``info``)."""
    upright = ImageOps.exif_transpose(frame)
    plain = _without_profile(upright, icc).copy()
    plain.info = {}
    if "transparency" in frame.info:
        plain.info["transparency"] = frame.info["transparency"]
    return plain


def _clean_image(data: bytes, media_type: str, name: str) -> bytes:
    expected = _PILLOW_FORMATS[media_type]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[expected]) as image:
                frames = getattr(image, "n_frames", 1)
                width, height = image.size
                if width * height * frames > MAX_PIXELS:
                    raise ScrubFailed(
                        f"{name}: {width}×{height} pixels × {frames} frames is more than "
                        f"{MAX_PIXELS} pixels; refusing (possible decompression bomb)"
                    )
                icc = image.info.get("icc_profile")
                durations: list[int] = []
                plain: list[Image.Image] = []
                for frame in ImageSequence.Iterator(image):
                    frame.load()
                    durations.append(int(frame.info.get("duration", 0)))
                    plain.append(_plain_frame(frame, icc))
                    if media_type == JPEG:
                        break  # MPO: keep the main picture, drop previews and depth maps
                loop = int(image.info.get("loop", 0))
            return _encode_image(plain, media_type, durations, loop)
    except ScrubFailed:
        raise
    except Image.DecompressionBombError:
        raise ScrubFailed(f"{name}: too many pixels (possible decompression bomb)") from None
    except Exception as exc:  # Pillow raises many types for damaged or unusual files
        raise ScrubFailed(f"{name}: cannot be read as {media_type} ({exc})") from None


def _encode_image(frames: list[Image.Image], media_type: str, durations: list[int],
                  loop: int) -> bytes:
    first, rest = frames[0], frames[1:]
    options: dict[str, Any] = {}
    if media_type == JPEG:
        options = {"quality": 95, "subsampling": 0, "optimize": True}
    elif media_type == PNG:
        options = {"optimize": True}
    elif media_type == WEBP:
        options = {"quality": 95, "method": 4}
    elif media_type == GIF:
        options = {"optimize": False}
    else:
        options = {"compression": "tiff_deflate"}
    if rest:
        options |= {"save_all": True, "append_images": rest}
        if media_type != TIFF:  # animations keep their timing
            options |= {"duration": durations, "loop": loop}
    out = io.BytesIO()
    first.save(out, format=_PILLOW_FORMATS[media_type], **options)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# JPEG segments (for JPEG streams inside PDFs, which are kept bit-exact apart from metadata)


def _strip_jpeg_segments(data: bytes) -> bytes:
    """Drop APP1–APP15 and COM segments from a baseline/progressive JPEG, losslessly.

    APP0 (JFIF) and APP14 "Adobe" are kept: decoders need them to interpret the colours.
    Returns ``data`` unchanged if it is not a well-formed JPEG up to the first scan.
    """
    if not data.startswith(b"\xff\xd8"):
        return data
    out = bytearray(b"\xff\xd8")
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return data
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        end = position + 2 + length
        if length < 2 or end > len(data):
            return data
        segment = data[position:end]
        if marker == 0xDA:  # start of scan: the rest is image data
            out += data[position:]
            return bytes(out)
        is_app = 0xE0 <= marker <= 0xEF
        keep = not is_app and marker != 0xFE
        if marker == 0xE0:
            keep = segment[4:9] == b"JFIF\x00"
        elif marker == 0xEE:
            keep = segment[4:9] == b"Adobe"
        if keep:
            out += segment
        position = end
    return data


# ---------------------------------------------------------------------------------------------
# PDF

_MARKUP_ANNOTATIONS: Final = frozenset({
    "/Text", "/FreeText", "/Line", "/Square", "/Circle", "/Polygon", "/PolyLine", "/Highlight",
    "/Underline", "/Squiggly", "/StrikeOut", "/Stamp", "/Caret", "/Ink", "/FileAttachment",
    "/Sound", "/Redact",
})


_EMBEDDED_FILES: Final = (
    "the PDF carries files inside it (embedded files or file attachments), which amanat "
    "cannot clean; save each of them and send it as an attachment of its own, with the PDF "
    "saved without them, or send the PDF unchanged with its metadata (--keep-metadata)"
)
# The image containers a PDF may hold (JPEG 2000, JP2 boxes) that are kept: the signature,
# file type, requirements, headers and the codestream. XML, UUID (XMP, EXIF, GeoJP2) and
# every other box go.
_JP2_BOXES: Final = frozenset({b"jP  ", b"ftyp", b"rreq", b"jp2h", b"jpch", b"jplh", b"jp2c"})


class _EmbeddedFile(Exception):
    """A PDF object that holds a file of its own."""


def _pdf_objects(pdf: pikepdf.Pdf) -> Iterator[pikepdf.Object]:
    """Every dictionary and stream of ``pdf``: the indirect objects and, inside each, the
    dictionaries written directly (an annotation need not be an object of its own)."""
    for top in pdf.objects:
        stack = [top]
        while stack:
            obj = stack.pop()
            if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                yield obj
                children: Iterable[Any] = obj.values()
            elif isinstance(obj, pikepdf.Array):
                children = obj
            else:
                continue
            stack.extend(child for child in children
                         if isinstance(child, pikepdf.Object) and not child.is_indirect)


def _stream_filters(stream: pikepdf.Stream) -> tuple[list[Any], list[Any]]:
    """The stream's filters and their parameters, one each, whichever form they are
    written in (a name or an array; parameters a dictionary, an array or absent)."""
    filters = stream.get("/Filter")
    names = [] if filters is None else [filters] if isinstance(filters, pikepdf.Name) \
        else list(filters)
    parms = stream.get("/DecodeParms")
    if isinstance(parms, pikepdf.Array):
        listed: list[Any] = list(parms)
    else:
        listed = [parms] if len(names) == 1 and parms is not None else []
    listed += [None] * (len(names) - len(listed))
    return names, listed[: len(names)]


def _strip_jp2_boxes(data: bytes) -> bytes:
    """Keep only the JP2 boxes in ``_JP2_BOXES``, losslessly; a bare codestream or
    malformed data is returned unchanged."""
    if not data.startswith(b"\x00\x00\x00\x0cjP  \r\n\x87\n"):
        return data
    out = bytearray()
    position = 0
    while position + 8 <= len(data):
        length, kind = int.from_bytes(data[position:position + 4], "big"), data[position + 4:
                                                                               position + 8]
        if length == 1 and position + 16 <= len(data):
            length = int.from_bytes(data[position + 8:position + 16], "big")
        elif length == 0:
            length = len(data) - position
        if length < 8 or position + length > len(data):
            return data
        if kind in _JP2_BOXES:
            out += data[position:position + length]
        position += length
    return bytes(out) if position == len(data) else data


def _image_bytes(pdf: pikepdf.Pdf, raw: bytes, filters: list[Any], parms: list[Any]) -> bytes:
    """The JPEG or JPEG 2000 bytes under the filters before the last one (e.g. the Flate of
    ``[/FlateDecode /DCTDecode]``)."""
    if len(filters) == 1:
        return raw
    outer = pikepdf.Stream(pdf, raw)
    outer.Filter = pikepdf.Array(filters[:-1])
    if any(p is not None for p in parms[:-1]):
        outer.DecodeParms = pikepdf.Array(
            [pikepdf.Dictionary() if p is None else p for p in parms[:-1]])
    return outer.read_bytes()


def _without_image_metadata(kind: Any, encoded: bytes) -> bytes:
    if kind == pikepdf.Name.DCTDecode:
        return _strip_jpeg_segments(encoded)
    return _strip_jp2_boxes(encoded)


def _clean_pdf_image(stream: pikepdf.Stream, pdf: pikepdf.Pdf) -> None:
    """Strip metadata from a JPEG or JPEG 2000 image stream, under any filters before it."""
    filters, parms = _stream_filters(stream)
    if not filters or filters[-1] not in (pikepdf.Name.DCTDecode, pikepdf.Name.JPXDecode):
        return
    encoded = _image_bytes(pdf, stream.read_raw_bytes(), filters, parms)
    stripped = _without_image_metadata(filters[-1], encoded)
    if len(filters) > 1 or stripped != encoded:
        last = parms[-1]
        stream.write(stripped, filter=filters[-1],
                     decode_parms=last if isinstance(last, pikepdf.Dictionary) else None)


def _clean_inline_image(instruction: Any, pdf: pikepdf.Pdf) -> bytes | None:
    """The content-stream bytes of an inline image with its JPEG stripped of metadata, or
    None if it has nothing to strip."""
    image = instruction.iimage
    filters, parms = _stream_filters(image.obj)
    if not filters or filters[-1] != pikepdf.Name.DCTDecode:
        return None
    encoded = _image_bytes(pdf, image.read_raw_bytes(), filters, parms)
    stripped = _strip_jpeg_segments(encoded)
    if len(filters) == 1 and stripped == encoded:
        return None
    entries = pikepdf.Dictionary({key: value for key, value in image.obj.items()
                                  if key not in ("/Filter", "/DecodeParms")})
    entries.Filter = pikepdf.Name.DCTDecode
    if isinstance(parms[-1], pikepdf.Dictionary):
        entries.DecodeParms = parms[-1]
    return b"BI " + entries.unparse()[2:-2].strip() + b" ID " + stripped + b"\nEI"


def _clean_inline_images(pdf: pikepdf.Pdf) -> None:
    """JPEG images written inside content streams (``BI … ID … EI``) lose their metadata:
    the content of every page, form and tiling pattern that has one is written again."""
    holders: list[Any] = list(pdf.pages)
    holders += [obj for obj in pdf.objects if isinstance(obj, pikepdf.Stream) and (
        obj.get("/Subtype") == pikepdf.Name.Form or obj.get("/PatternType") == 1)]
    for holder in holders:
        contents = holder.obj.get("/Contents") if isinstance(holder, pikepdf.Page) else holder
        if contents is None:
            continue
        streams = contents if isinstance(contents, pikepdf.Array) else [contents]
        if not any(b"ID" in s.read_bytes() for s in streams if isinstance(s, pikepdf.Stream)):
            continue
        pieces: list[bytes] = []
        changed = False
        for instruction in pikepdf.parse_content_stream(holder):
            cleaned = None
            if isinstance(instruction, pikepdf.ContentStreamInlineImage):
                cleaned = _clean_inline_image(instruction, pdf)
            changed = changed or cleaned is not None
            pieces.append(cleaned or pikepdf.unparse_content_stream([instruction]))
        if not changed:
            continue
        data = b"\n".join(pieces)
        if isinstance(holder, pikepdf.Page):
            holder.obj.Contents = pdf.make_stream(data)
        else:
            holder.write(data)


_WEB_OR_MAIL: Final = re.compile(rb"(?:https?://|mailto:)", re.IGNORECASE)


def _allowed_action(action: Any) -> bool:
    """Links and actions that stay: to a place in this document, a viewer command, or a web
    or mail address. Others name files on the witness's disk (``/Launch``, ``/GoToR``, a
    ``file:`` URI, ``/ImportData``) or run code (``/JavaScript``). What is not an action
    dictionary (an /OpenAction destination, a structure element's attributes) stays."""
    if not isinstance(action, pikepdf.Dictionary) or "/S" not in action:
        return True
    kind = action.get("/S")
    if kind in (pikepdf.Name.GoTo, pikepdf.Name.Named):
        return True
    uri = action.get("/URI")
    return kind == pikepdf.Name.URI and isinstance(uri, pikepdf.String) and bool(
        _WEB_OR_MAIL.match(bytes(uri)))


def _clean_pdf_object(obj: pikepdf.Object, pdf: pikepdf.Pdf) -> None:
    for key in ("/Metadata", "/PieceInfo", "/LastModified", "/OPI", "/AA", "/JavaScript"):
        if key in obj:
            del obj[key]
    for key in ("/A", "/OpenAction"):
        if key in obj and not _allowed_action(obj[key]):
            del obj[key]
    if "/S" in obj and "/Next" in obj:  # an action's follow-up actions
        del obj["/Next"]
    kind = obj.get("/Type")
    subtype = str(obj.get("/Subtype", ""))
    if kind == pikepdf.Name.EmbeddedFile or "/EF" in obj or subtype == "/FileAttachment":
        raise _EmbeddedFile
    if subtype in _MARKUP_ANNOTATIONS and (kind is None or kind == pikepdf.Name.Annot):
        for key in ("/T", "/M", "/CreationDate"):
            if key in obj:
                del obj[key]
    if isinstance(obj, pikepdf.Stream):
        _clean_pdf_image(obj, pdf)


def _clean_pdf(data: bytes, name: str) -> bytes:
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            for key in ("/Info", "/ID"):  # qpdf would carry the original ID over
                if key in pdf.trailer:
                    del pdf.trailer[key]
            for obj in list(_pdf_objects(pdf)):
                _clean_pdf_object(obj, pdf)
            _clean_inline_images(pdf)
            out = io.BytesIO()
            with warnings.catch_warnings():
                # pikepdf warns about form widgets missing from /AcroForm: not our concern.
                warnings.simplefilter("ignore", pikepdf.PageCopyWarning)
                pdf.save(out, preserve_pdfa=False, fix_metadata_version=False,
                         deterministic_id=True, encryption=False, linearize=False)
            return out.getvalue()
    except _EmbeddedFile:
        raise ScrubRefused(f"{name}: {_EMBEDDED_FILES}") from None
    except pikepdf.PasswordError:
        raise ScrubRefused(
            f"{name}: the PDF is password-protected; remove the password first, or keep its "
            "metadata knowingly (--keep-metadata)"
        ) from None
    except pikepdf.PdfError as exc:
        raise ScrubFailed(f"{name}: cannot be read as a PDF ({exc})") from None


# ---------------------------------------------------------------------------------------------
# Office Open XML and OpenDocument

_ZIP_TIME: Final = (1980, 1, 1, 0, 0, 0)
_KEEP_KNOWINGLY: Final = "or send it unchanged with its metadata (--keep-metadata)"


def _is_package(media_type: str | None) -> bool:
    return media_type is not None and (
        media_type in _OOXML_MAIN_PARTS.values() or media_type.startswith(_ODF_PREFIX)
    )


def _clean_embedded(part: str, content: bytes, name: str, depth: int) -> bytes | None:
    """A picture or document inside a package, cleaned; None for any other type."""
    inner = detect_media_type(content)
    label = f"{name}: {part}"
    if inner in _PILLOW_FORMATS:
        return _clean_image(content, inner, label)
    if inner is not None and _is_package(inner):  # e.g. a spreadsheet embedded in a document
        if depth >= MAX_PACKAGE_DEPTH:
            raise ScrubRefused(f"{label}: office documents nested more than "
                               f"{MAX_PACKAGE_DEPTH} deep; keep its metadata knowingly "
                               "(--keep-metadata) or remove the embedded document")
        return _clean_package(content, inner, label, depth + 1)
    return None


def _zip_entry(part: str, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(part, date_time=_ZIP_TIME)
    info.compress_type = compress
    info.create_system = 0  # the same on every platform: reveals no operating system
    info.external_attr = 0o600 << 16  # what zipfile would force anyway
    return info


def _clean_package(data: bytes, media_type: str, name: str, depth: int = 0) -> bytes:
    odf = media_type.startswith(_ODF_PREFIX)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as source:
            entries = source.infolist()
            names = [e.filename for e in entries]
            if len(entries) > MAX_ZIP_ENTRIES:
                raise ScrubFailed(f"{name}: more than {MAX_ZIP_ENTRIES} entries in the package")
            if len(set(names)) != len(names):
                raise ScrubFailed(f"{name}: the package repeats an entry name")
            total = sum(e.file_size for e in entries)
            compressed = sum(e.compress_size for e in entries)
            if total > MAX_ZIP_BYTES or total > MAX_ZIP_RATIO * max(compressed, 1):
                raise ScrubFailed(
                    f"{name}: unpacks to {total} bytes from {compressed}; refusing "
                    "(possible zip bomb)"
                )
            if any(e.flag_bits & 0x1 for e in entries):
                raise ScrubRefused(f"{name}: the package is encrypted; remove the password "
                                   "first, or keep its metadata knowingly (--keep-metadata)")
            rebuild = office.rebuild_odf if odf else office.rebuild_ooxml
            parts = rebuild([e.filename for e in entries if not e.is_dir()], source.read,
                            lambda part, content: _clean_embedded(part, content, name, depth))
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w") as target:
                for part, cleaned in parts:
                    stored = odf and part == "mimetype"
                    compress = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                    target.writestr(_zip_entry(part, compress), cleaned)
            return out.getvalue()
    except office.OfficeRefused as exc:
        raise ScrubRefused(f"{name}: {exc}, {_KEEP_KNOWINGLY}") from None
    except office.OfficeError as exc:
        raise ScrubFailed(f"{name}: cannot be read as {media_type} ({exc})") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
        raise ScrubFailed(f"{name}: cannot be read as {media_type} ({exc})") from None


# ---------------------------------------------------------------------------------------------
# mat2, for everything else


def _clean_with_mat2(mat2: str, data: bytes, name: str) -> bytes:
    if not os.path.isdir(_MEMORY_DIR):
        raise ScrubRefused(
            f"{name}: cleaning this type needs a memory-backed temporary directory "
            f"({_MEMORY_DIR}), which this system lacks; keep its metadata knowingly "
            "(--keep-metadata) or convert it to a supported type"
        )
    suffix = "".join(c for c in Path(name).suffix.lower() if c.isalnum() or c == ".")[:16]
    workdir = tempfile.mkdtemp(prefix="amanat-", dir=_MEMORY_DIR)
    try:
        original = Path(workdir) / f"attachment{suffix}"
        descriptor = os.open(original, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        result = subprocess.run(
            [mat2, "--", str(original)],
            env=_without_secrets(os.environ),
            capture_output=True,
            timeout=MAT2_TIMEOUT_SECONDS,
            check=False,
        )
        cleaned = Path(workdir) / f"attachment.cleaned{suffix}"
        if result.returncode != 0 or not cleaned.is_file():
            reason = result.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ScrubRefused(
                f"{name}: mat2 could not clean this file ({reason[-1] if reason else 'no reason'})"
                "; keep its metadata knowingly (--keep-metadata) or convert it"
            )
        return cleaned.read_bytes()
    except subprocess.TimeoutExpired:
        raise ScrubFailed(f"{name}: mat2 took longer than {MAT2_TIMEOUT_SECONDS} s") from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_CLEANERS: Final[dict[str, Callable[[bytes, str, str], bytes]]] = {
    JPEG: _clean_image,
    PNG: _clean_image,
    WEBP: _clean_image,
    TIFF: _clean_image,
    GIF: _clean_image,
}


def _without_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for mat2: ours without AMANAT_* (AMANAT_CODENAME, AMANAT_PASSPHRASE),
    which a program of someone else's has no business holding or passing on."""
    return {key: value for key, value in environ.items() if not key.startswith("AMANAT_")}


def _mat2(name: str) -> str:
    mat2 = shutil.which("mat2")
    if mat2 is None:
        raise ScrubRefused(
            f"{name}: amanat cannot remove metadata from this type of file (and mat2 is "
            "not installed); convert it to JPEG, PNG, PDF or an office document, or send "
            "it unchanged with its metadata (--keep-metadata)"
        )
    return mat2


def _refuse_mail(name: str) -> NoReturn:
    raise ScrubRefused(
        f"{name}: this is an e-mail message, whose headers name the people and computers it "
        "passed through; copy the text of the message into the statement instead, or send "
        "it unchanged with its headers (--keep-metadata)"
    )


def _refuse_text_container(name: str, detected: str) -> None:
    for _, media_type, what in TEXT_CONTAINERS:
        if media_type == detected:
            raise ScrubRefused(
                f"{name}: this is {what}, which carries its writer's name, account or times "
                "inside the text; copy what matters into the statement instead, or send it "
                "unchanged (--keep-metadata)")


def _cleaned(data: bytes, detected: str | None, name: str) -> tuple[bytes, str]:
    """The cleaned bytes of ``data`` (of type ``detected``) and their media type."""
    if detected == MAIL:
        _refuse_mail(name)
    if detected is not None:
        _refuse_text_container(name, detected)
    if detected in _CLEANERS:
        return _CLEANERS[detected](data, detected, name), detected
    if detected == PDF:
        return _clean_pdf(data, name), detected
    if detected == TEXT:
        return data, detected
    if detected is not None:  # Office Open XML or OpenDocument
        return _clean_package(data, detected, name), detected
    return _clean_with_mat2(_mat2(name), data, name), _guess_from_name(name)


def clean(data: bytes, name: str, *, keep_metadata: bool = False) -> Cleaned:
    """Return ``data`` without identifying metadata, with its hashes before and after.

    ``name`` is used only in messages and, for ``mat2``, as a hint of the type. With
    ``keep_metadata=True`` the bytes are returned unchanged and ``kept_metadata`` is True.
    Raises ScrubRefused for types that cannot be cleaned here (message suggests
    --keep-metadata) and ScrubFailed for files that cannot be read as their type.
    """
    before = _sha256(data)
    detected = detect_media_type(data)
    if keep_metadata:
        return Cleaned(data, detected or _guess_from_name(name), before, before, True, True)
    result, media_type = _cleaned(data, detected, name)
    return Cleaned(result, media_type, before, _sha256(result), False, detected is not None)


def clean_file(file: BinaryIO, name: str, *, keep_metadata: bool = False) -> Cleaned | Unchanged:
    """`clean` for a seekable binary file, in memory that does not grow with its size when
    the file is sealed as it is: with ``keep_metadata=True`` and for plain text the file is
    read in pieces and `Unchanged` describes it (seal it from the file again). Anything else
    is read whole and cleaned (one file in memory, as `clean`); a type nothing here can
    clean is refused before it is read.
    """
    detected = detect_file_type(file)
    if keep_metadata or detected == TEXT:
        file.seek(0)
        digest = hashlib.sha256()
        size = 0
        while piece := file.read(_PIECE):
            digest.update(piece)
            size += len(piece)
        return Unchanged(detected or _guess_from_name(name), size, digest.hexdigest(),
                         keep_metadata)
    if detected is None:
        _mat2(name)  # refused before a large file of an unknown type is read whole
    if detected == MAIL:
        _refuse_mail(name)
    if detected is not None:
        _refuse_text_container(name, detected)
    file.seek(0)
    data = file.read()
    result, media_type = _cleaned(data, detected, name)
    return Cleaned(result, media_type, _sha256(data), _sha256(result), False,
                   detected is not None)
