"""The page's metadata cleaning (web/src/clean.js) on real pictures made with Pillow.

Pictures carry EXIF (GPS position, make, model, serial, times; both byte orders), XMP,
IPTC, ICC profiles, comments, PNG text and time chunks, WebP EXIF/XMP/ICC chunks, data
after the end of the picture, and canary strings everywhere. tests/web/clean_cli.mjs runs
clean.js on them in node; the cleaned files must hold none of it, decode with Pillow to
exactly the pixels of the original (clean.js copies the compressed data byte for byte),
report the EXIF orientation, carry the right SHA-256s, and come out unchanged when cleaned
again. clean.js's type detection is checked against vault.scrub's.

Skips when node is absent, unless AMANAT_REQUIRE_INTEROP=1.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import random
import struct
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageSequence, PngImagePlugin, TiffImagePlugin, features

from tests.support import ROOT, require_tool
from vault.scrub import detect_media_type

pytestmark = pytest.mark.interop

CLI = ROOT / "tests" / "web" / "clean_cli.mjs"
CANARY = b"CANARY"


# ---------------------------------------------------------------------------------------
# EXIF written by hand, so both byte orders and every offset are ours


def _ifd(order: str, entries: list[tuple[int, int, int, bytes]], base: int) -> bytes:
    """An IFD at offset ``base`` of the TIFF structure, its long values right after it."""
    entries = sorted(entries)
    data_at = base + 2 + 12 * len(entries) + 4
    head = struct.pack(order + "H", len(entries))
    data = b""
    for tag, kind, count, value in entries:
        if len(value) <= 4:
            head += struct.pack(order + "HHI", tag, kind, count) + value.ljust(4, b"\0")
        else:
            head += struct.pack(order + "HHII", tag, kind, count, data_at + len(data))
            data += value + b"\0" * (len(value) & 1)
    return head + struct.pack(order + "I", 0) + data


def _ascii(text: str) -> bytes:
    return text.encode() + b"\0"


def exif_tiff(orientation: int, order: str = "<") -> bytes:
    """A TIFF structure as cameras write it: IFD0 (make, model, orientation, software,
    date), the EXIF IFD (original date, body serial number, maker note) and the GPS IFD."""

    def short(x: int) -> bytes:
        return struct.pack(order + "H", x)

    def long(x: int) -> bytes:
        return struct.pack(order + "I", x)

    def rationals(*pairs: tuple[int, int]) -> bytes:
        return b"".join(struct.pack(order + "II", a, b) for a, b in pairs)

    gps = [
        (1, 2, 2, b"N\0"),
        (2, 5, 3, rationals((43, 1), (47, 1), (3100, 100))),
        (3, 2, 2, b"E\0"),
        (4, 5, 3, rationals((87, 1), (36, 1), (1200, 100))),
        (0x1B, 7, 16, b"ASCII\0\0\0CANARYGP"),
    ]
    exif_ifd = [
        (0x9003, 2, 20, _ascii("2019:05:17 09:12:44")),
        (0xA431, 2, 19, _ascii("CANARY-SERIAL-0042")),
        (0x927C, 7, 20, b"CANARY-MAKERNOTE-xyz"),
    ]
    make, model = _ascii("CANARY-MAKE"), _ascii("CANARY-MODEL-X1")
    ifd0 = [
        (0x010F, 2, len(make), make),
        (0x0110, 2, len(model), model),
        (0x0112, 3, 1, short(orientation)),
        (0x0131, 2, 16, _ascii("CANARY-SOFTWARE")),
        (0x8769, 4, 1, long(0)),
        (0x8825, 4, 1, long(0)),
    ]
    header = (b"II" if order == "<" else b"MM") + short(42) + long(8)
    first = _ifd(order, ifd0, 8)  # sizes do not depend on the pointer values
    exif_at = 8 + len(first)
    exif_block = _ifd(order, exif_ifd, exif_at)
    gps_at = exif_at + len(exif_block)
    ifd0 = [e for e in ifd0 if e[0] not in (0x8769, 0x8825)]
    ifd0 += [(0x8769, 4, 1, long(exif_at)), (0x8825, 4, 1, long(gps_at))]
    return header + _ifd(order, ifd0, 8) + exif_block + _ifd(order, gps, gps_at)


XMP = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-'
    b'rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    b'exif:GPSLatitude="43,47.5N" exif:SerialNumber="CANARY-XMP-SERIAL"/></rdf:RDF>'
    b'</x:xmpmeta><?xpacket end="w"?>'
)
# Not a valid profile: Pillow stores and reads it without parsing, which is all needed here.
FAKE_ICC = b"\0\0\0\x80appl\x02\x10\0\0mntrRGB XYZ " + b"CANARY-ICC-DEVICE-MODEL".ljust(108, b"\0")


def _segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def _jpeg_extras(data: bytes) -> bytes:
    """A JPEG with what Pillow cannot write added: IPTC (APP13), a second XMP-like APP1,
    an FPXR APP2, a JFXX thumbnail, and a trailer after EOI (motion-photo video, MPF)."""
    added = (
        _segment(0xED, b"Photoshop 3.0\08BIM\x04\x04\0\0\0\0\0\x10\x1c\x02\x50\0\x0bCANARY-IPTC")
        + _segment(0xE2, b"FPXR\0\0CANARY-FLASHPIX")
        + _segment(0xE0, b"JFXX\0\x10CANARY-THUMB")
        + _segment(0xEF, b"CANARY-APP15")
    )
    return data[:2] + added + data[2:] + b"CANARY-TRAILER ftypmp42 MotionPhoto_Data"


def _gif_sub_blocks(data: bytes) -> bytes:
    return (
        b"".join(
            bytes([len(data[i : i + 255])]) + data[i : i + 255] for i in range(0, len(data), 255)
        )
        + b"\0"
    )


def _gif_extras(data: bytes) -> bytes:
    """A GIF with XMP and ICC application extensions before its first image, and a trailer."""
    first = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)  # after the colour table
    added = (
        b"\x21\xffXMP DataXMP".replace(b"\xffX", b"\xff\x0bX")
        + _gif_sub_blocks(XMP)
        + b"\x21\xff\x0bICCRGBG1012"
        + _gif_sub_blocks(FAKE_ICC)
    )
    return data[:first] + added + data[first:] + b"CANARY-TRAILER"


def _without_jfif(data: bytes) -> bytes:
    """A JPEG as cameras write it: EXIF first, no JFIF header."""
    assert data[2:4] == b"\xff\xe0"
    (length,) = struct.unpack(">H", data[4:6])
    return data[:2] + data[4 + length :]


def _noise(mode: str, size: tuple[int, int], seed: int) -> Image.Image:
    rng = random.Random(seed)
    bands = len(Image.new(mode, (1, 1)).getbands())
    if mode == "I;16":
        return Image.frombytes(mode, size, rng.randbytes(size[0] * size[1] * 2))
    # smooth gradients plus noise: compresses like a photo, not like static
    width, height = size
    raw = bytearray()
    for y in range(height):
        for x in range(width):
            for b in range(bands):
                raw.append((x * (b + 1) + y * (3 - b % 3) + rng.randrange(24)) & 0xFF)
    return Image.frombytes(mode, size, bytes(raw))


@dataclass
class Sample:
    name: str
    data: bytes
    media_type: str
    orientation: int | None


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _pillow_exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "CANARY-MAKE"
    exif[0x0110] = "CANARY-MODEL"
    exif[0x0132] = "2019:05:17 09:12:44"
    exif.get_ifd(0x8825)[1] = "N"
    exif.get_ifd(0x8825)[2] = (43.0, 47.0, 31.0)
    exif.get_ifd(0x8769)[0x9003] = "2019:05:17 09:12:44"
    return exif


def _png_info() -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "CANARY-AUTHOR")
    info.add_text("Comment", "CANARY-ZTXT " * 20, zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode(), lang="en", tkey="x")
    info.add(b"tIME", struct.pack(">HBBBBB", 2019, 5, 17, 9, 12, 44))
    info.add(b"prVt", b"CANARY-PRIVATE-CHUNK")
    return info


@functools.cache
def samples() -> tuple[Sample, ...]:
    rgb = _noise("RGB", (203, 149), 1)  # sizes that are not multiples of the MCU
    out: list[Sample] = []
    jpeg = "image/jpeg"
    out.append(
        Sample(
            "baseline-be",
            _jpeg_extras(
                _save(
                    rgb,
                    "JPEG",
                    quality=90,
                    exif=b"Exif\0\0" + exif_tiff(6, ">"),
                    xmp=XMP,
                    comment=b"CANARY-COMMENT",
                    icc_profile=FAKE_ICC,
                )
            ),
            jpeg,
            6,
        )
    )
    out.append(
        Sample(
            "baseline-le",
            _save(rgb, "JPEG", quality=80, exif=b"Exif\0\0" + exif_tiff(3, "<"), subsampling=2),
            jpeg,
            3,
        )
    )
    out.append(Sample("pillow-exif", _save(rgb, "JPEG", exif=_pillow_exif(8)), jpeg, 8))
    out.append(
        Sample(
            "progressive",
            _save(
                rgb,
                "JPEG",
                progressive=True,
                quality=92,
                exif=b"Exif\0\0" + exif_tiff(5, ">"),
                xmp=XMP,
                comment=b"CANARY-COMMENT",
            ),
            jpeg,
            5,
        )
    )
    out.append(
        Sample(
            "restart",
            _save(rgb, "JPEG", restart_marker_rows=1, exif=b"Exif\0\0" + exif_tiff(2, "<")),
            jpeg,
            2,
        )
    )
    out.append(
        Sample(
            "restart-progressive",
            _save(rgb, "JPEG", restart_marker_blocks=3, progressive=True, comment=b"CANARY"),
            jpeg,
            None,
        )
    )
    out.append(
        Sample(
            "grey",
            _save(_noise("L", (64, 40), 2), "JPEG", exif=b"Exif\0\0" + exif_tiff(7, ">")),
            jpeg,
            7,
        )
    )
    out.append(
        Sample(
            "cmyk",
            _save(
                _noise("CMYK", (64, 40), 3),
                "JPEG",
                exif=b"Exif\0\0" + exif_tiff(4, "<"),
                icc_profile=FAKE_ICC,
            ),
            jpeg,
            4,
        )
    )
    out.append(
        Sample(
            "camera-style",
            _without_jfif(
                _save(rgb, "JPEG", quality=95, exif=b"Exif\0\0" + exif_tiff(6, "<"), xmp=XMP)
            ),
            jpeg,
            6,
        )
    )
    out.append(Sample("no-metadata", _save(rgb, "JPEG"), jpeg, None))

    png = "image/png"
    out.append(
        Sample(
            "rgba",
            _save(
                _noise("RGBA", (97, 61), 4),
                "PNG",
                pnginfo=_png_info(),
                exif=_pillow_exif(6),
                icc_profile=FAKE_ICC,
            )
            + b"CANARY-TRAILER",
            png,
            6,
        )
    )
    palette = _noise("RGB", (50, 30), 5).convert("P", palette=Image.Palette.ADAPTIVE)
    out.append(
        Sample(
            "palette-trns",
            _save(
                palette,
                "PNG",
                transparency=0,
                pnginfo=_png_info(),
                dpi=(300, 300),
                exif=b"Exif\0\0" + exif_tiff(2, ">"),
            ),
            png,
            2,
        )
    )
    out.append(
        Sample("grey16", _save(_noise("I;16", (20, 10), 6), "PNG", pnginfo=_png_info()), png, None)
    )
    frames = [_noise("RGBA", (40, 30), 10 + i) for i in range(3)]
    out.append(
        Sample(
            "apng",
            _save(
                frames[0],
                "PNG",
                save_all=True,
                append_images=frames[1:],
                duration=[100, 200, 300],
                loop=0,
                pnginfo=_png_info(),
                exif=_pillow_exif(1),
            ),
            png,
            1,
        )
    )

    gif = "image/gif"
    out.append(
        Sample("gif", _gif_extras(_save(palette, "GIF", comment=b"CANARY-COMMENT")), gif, None)
    )
    out.append(
        Sample(
            "gif-animated",
            _gif_extras(
                _save(
                    frames[0].convert("RGB"),
                    "GIF",
                    save_all=True,
                    append_images=[f.convert("RGB") for f in frames[1:]],
                    duration=[100, 200, 300],
                    loop=0,
                    comment=b"CANARY-COMMENT",
                    disposal=2,
                )
            ),
            gif,
            None,
        )
    )

    tiff = "image/tiff"
    for compression in (None, "tiff_lzw", "tiff_adobe_deflate", "jpeg", "packbits"):
        tags = TiffImagePlugin.ImageFileDirectory_v2()
        tags[700] = XMP
        tags.tagtype[700] = 1  # BYTE
        tags[33432] = "CANARY-COPYRIGHT"
        tags[271], tags[272], tags[274] = "CANARY-MAKE", "CANARY-MODEL", 6
        if compression is None:  # Pillow writes a GPS directory only without libtiff
            tags[34853] = {1: "N", 2: (43.0, 47.0, 31.0), 3: "E", 4: (87.0, 36.0, 12.0)}
        out.append(
            Sample(
                f"tiff-{compression or 'raw'}",
                _save(
                    rgb,
                    "TIFF",
                    compression=compression,
                    tiffinfo=tags,
                    exif=_pillow_exif(6),
                    icc_profile=FAKE_ICC,
                    description="CANARY-DESCRIPTION",
                    software="CANARY-SOFTWARE",
                    artist="CANARY-ARTIST",
                    date_time="2019:05:17 09:12:44",
                    dpi=(300, 300),
                ),
                tiff,
                6,
            )
        )
    out.append(
        Sample(
            "tiff-big-endian-16",
            _save(
                Image.frombytes("I;16B", (30, 20), random.Random(8).randbytes(1200)),
                "TIFF",
                description="CANARY",
            ),
            tiff,
            None,
        )
    )
    out.append(
        Sample(
            "tiff-pages",
            _save(
                frames[0],
                "TIFF",
                save_all=True,
                append_images=frames[1:],
                compression="tiff_lzw",
                description="CANARY",
            ),
            tiff,
            None,
        )
    )
    out.append(
        Sample(
            "tiff-fax",
            _save(palette.convert("1"), "TIFF", compression="group4", software="CANARY"),
            tiff,
            None,
        )
    )

    if features.check("webp"):
        webp = "image/webp"
        out.append(
            Sample(
                "webp-lossy",
                _save(
                    rgb, "WEBP", quality=80, exif=exif_tiff(6, "<"), xmp=XMP, icc_profile=FAKE_ICC
                ),
                webp,
                6,
            )
        )
        out.append(
            Sample(
                "webp-lossless-alpha",
                _save(
                    _noise("RGBA", (61, 47), 7),
                    "WEBP",
                    lossless=True,
                    exif=exif_tiff(8, ">"),
                    xmp=XMP,
                ),
                webp,
                8,
            )
        )
        out.append(Sample("webp-plain", _save(rgb, "WEBP", quality=70), webp, None))
        out.append(
            Sample(
                "webp-animated",
                _save(
                    frames[0],
                    "WEBP",
                    save_all=True,
                    append_images=frames[1:],
                    duration=[100, 200, 300],
                    loop=0,
                    lossless=True,
                    exif=exif_tiff(3, "<"),
                    xmp=XMP,
                    icc_profile=FAKE_ICC,
                ),
                webp,
                3,
            )
        )
        out.append(
            Sample(
                "webp-animated-lossy-alpha",
                _save(
                    frames[0],
                    "WEBP",
                    save_all=True,
                    append_images=frames[1:],
                    duration=100,
                    quality=70,
                    exif=exif_tiff(7, ">"),
                    xmp=XMP,
                ),
                webp,
                7,
            )
        )
    return tuple(out)


# ---------------------------------------------------------------------------------------
# Running clean.js


def _run_cli(pairs: list[tuple[Path, Path]]) -> list[dict[str, object]]:
    node = require_tool("node")
    argv = [node, str(CLI)]
    for source, target in pairs:
        argv += [str(source), str(target)]
    done = subprocess.run(argv, capture_output=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    results = json.loads(done.stdout)
    assert isinstance(results, list) and len(results) == len(pairs)
    return results


@dataclass
class Cleaned:
    sample: Sample
    result: dict[str, object]
    data: bytes
    again: dict[str, object]
    again_data: bytes


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Cleaned]:
    require_tool("node")
    folder = tmp_path_factory.mktemp("clean-js")
    items = samples()
    pairs = []
    for sample in items:
        (folder / sample.name).write_bytes(sample.data)
        pairs.append((folder / sample.name, folder / f"{sample.name}.clean"))
    first = _run_cli(pairs)
    for sample, result in zip(items, first, strict=True):
        assert result.get("status") == "cleaned", (sample.name, result)
    second = _run_cli(
        [(t, folder / f"{s.name}.again") for s, (_, t) in zip(items, pairs, strict=True)]
    )
    return {
        s.name: Cleaned(
            s,
            r,
            (folder / f"{s.name}.clean").read_bytes(),
            a,
            (folder / f"{s.name}.again").read_bytes(),
        )
        for s, r, a in zip(items, first, second, strict=True)
    }


NAMES = [s.name for s in samples()]


_TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _frames(
    data: bytes, turn: int | None = None
) -> list[tuple[str, tuple[int, int], bytes, object]]:
    """Each frame's mode, size, pixels and duration; turned per ``turn`` (an EXIF
    orientation), as Pillow turns a TIFF upright by its Orientation tag when loading."""
    with Image.open(io.BytesIO(data)) as image:
        out = []
        for frame in ImageSequence.Iterator(image):
            pixels = frame.copy()
            if turn in _TURNS:
                pixels = pixels.transpose(_TURNS[turn])
            out.append((pixels.mode, pixels.size, pixels.tobytes(), frame.info.get("duration")))
        return out


def _png_chunks(data: bytes) -> list[bytes]:
    types, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        types.append(data[at + 4 : at + 8])
        at += 12 + length
    return types


def _riff_chunks(data: bytes) -> list[bytes]:
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    types, at = [], 12
    while at < len(data):
        (size,) = struct.unpack("<I", data[at + 4 : at + 8])
        types.append(data[at : at + 4])
        if data[at : at + 4] == b"ANMF":  # the frame's own chunks
            sub = at + 8 + 16
            while sub < at + 8 + size:
                (sub_size,) = struct.unpack("<I", data[sub + 4 : sub + 8])
                types.append(b"ANMF/" + data[sub : sub + 4])
                sub += 8 + sub_size + (sub_size & 1)
        at += 8 + size + (size & 1)
    assert at == len(data)
    return types


def _jpeg_markers(data: bytes) -> list[int]:
    """The markers of a JPEG's segments (entropy-coded data skipped), to EOI."""
    markers, at = [], 2
    while True:
        assert data[at] == 0xFF
        marker = data[at + 1]
        markers.append(marker)
        if marker == 0xD9:
            assert at + 2 == len(data), "bytes after EOI"
            return markers
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        at += 2 + length
        if marker == 0xDA:
            while not (data[at] == 0xFF and data[at + 1] not in (0, *range(0xD0, 0xD8))):
                at += 1


@pytest.mark.parametrize("name", NAMES)
def test_cleaned_picture_has_no_metadata(cleaned: dict[str, Cleaned], name: str) -> None:
    c = cleaned[name]
    assert c.result.get("status") == "cleaned", c.result
    assert c.result["mediaType"] == c.sample.media_type
    assert CANARY in c.sample.data or name in ("no-metadata", "webp-plain")
    assert CANARY not in c.data
    for needle in (
        b"Exif",
        b"xmpmeta",
        b"http://ns.adobe.com",
        b"2019:05:17",
        b"ICC_PROFILE",
        b"Photoshop",
        b"MotionPhoto",
        b"appl",
    ):
        assert needle not in c.data, needle
    with Image.open(io.BytesIO(c.data)) as image:
        exif = image.getexif()
        if c.sample.media_type != "image/tiff":  # a TIFF's own tags show as EXIF in Pillow
            assert not exif
        assert not exif.get_ifd(0x8825)  # no GPS
        assert not exif.get_ifd(0x8769)  # no EXIF directory (dates, serial numbers)
        assert "icc_profile" not in image.info
        assert "xmp" not in image.info
        assert "comment" not in image.info
    if c.sample.media_type == "image/png":
        kinds = set(_png_chunks(c.data))
        allowed = {
            b"IHDR",
            b"PLTE",
            b"IDAT",
            b"IEND",
            b"tRNS",
            b"gAMA",
            b"cHRM",
            b"sRGB",
            b"cICP",
            b"sBIT",
            b"bKGD",
            b"pHYs",
            b"acTL",
            b"fcTL",
            b"fdAT",
        }
        assert kinds <= allowed, kinds - allowed
        assert c.data.endswith(b"IEND\xaeB`\x82")
    elif c.sample.media_type == "image/webp":
        kinds = set(_riff_chunks(c.data))
        allowed = {
            b"VP8 ",
            b"VP8L",
            b"VP8X",
            b"ALPH",
            b"ANIM",
            b"ANMF",
            b"ANMF/VP8 ",
            b"ANMF/VP8L",
            b"ANMF/ALPH",
        }
        assert kinds <= allowed, kinds - allowed
        if b"VP8X" in kinds:
            assert c.data[20] & 0x2C == 0  # no ICC, EXIF, XMP flags
    elif c.sample.media_type == "image/tiff":
        with Image.open(io.BytesIO(c.data)) as image:
            for frame in ImageSequence.Iterator(image):
                tags = set(frame.tag_v2)  # type: ignore[attr-defined]
                assert not tags & {270, 271, 272, 274, 305, 306, 315, 700, 34665, 34853, 34675}
    elif c.sample.media_type == "image/gif":
        assert c.data.endswith(b"\x3b")
        assert b"NETSCAPE2.0" in c.data or "animated" not in name
    else:
        markers = set(_jpeg_markers(c.data))
        assert not markers & ({*range(0xE1, 0xEE), 0xEF, 0xFE})  # only APP0 and APP14
        assert markers <= {0xC0, 0xC1, 0xC2, 0xC4, 0xDA, 0xDB, 0xDD, 0xD9, 0xE0, 0xEE}


@pytest.mark.parametrize("name", NAMES)
def test_cleaned_picture_decodes_to_the_same_pixels(cleaned: dict[str, Cleaned], name: str) -> None:
    c = cleaned[name]
    # A TIFF's Orientation tag is dropped, and Pillow turns a TIFF by it when loading.
    turn = c.sample.orientation if c.sample.media_type == "image/tiff" else None
    before, after = _frames(c.sample.data), _frames(c.data, turn)
    assert len(after) == len(before)
    for index, (old, new) in enumerate(zip(before, after, strict=True)):
        assert new[:2] == old[:2], f"frame {index}: mode or size changed"
        assert new[2] == old[2], f"frame {index}: pixels changed"
        assert new[3] == old[3], f"frame {index}: duration changed"


@pytest.mark.parametrize("name", NAMES)
def test_orientation_and_hashes(cleaned: dict[str, Cleaned], name: str) -> None:
    c = cleaned[name]
    assert c.result["orientation"] == c.sample.orientation
    assert c.result["sha256Before"] == hashlib.sha256(c.sample.data).hexdigest()
    assert c.result["sha256After"] == hashlib.sha256(c.data).hexdigest()
    assert c.result["sha256Before"] != c.result["sha256After"] or c.data == c.sample.data


@pytest.mark.parametrize("name", NAMES)
def test_cleaning_a_cleaned_picture_changes_nothing(cleaned: dict[str, Cleaned], name: str) -> None:
    c = cleaned[name]
    assert c.again["status"] == "cleaned"
    assert c.again_data == c.data
    assert c.again["sha256Before"] == c.again["sha256After"] == c.result["sha256After"]
    assert c.again["orientation"] is None


def test_adobe_and_jfif_segments_are_kept(cleaned: dict[str, Cleaned]) -> None:
    cmyk = cleaned["cmyk"]
    assert 0xEE in _jpeg_markers(cmyk.data)  # the Adobe transform, needed for CMYK
    with Image.open(io.BytesIO(cmyk.data)) as image:
        assert image.mode == "CMYK"
    assert _jpeg_markers(cleaned["baseline-be"].data)[0] == 0xE0


def test_damaged_pictures_are_refused(tmp_path: Path) -> None:
    rgb = _noise("RGB", (40, 30), 9)
    jpeg = _save(rgb, "JPEG", exif=b"Exif\0\0" + exif_tiff(6, ">"))
    png = _save(rgb, "PNG", pnginfo=_png_info())
    broken_crc = bytearray(png)
    broken_crc[png.index(b"IDAT") + 6] ^= 1
    files = {
        "cut.jpg": (jpeg[: len(jpeg) // 2], "truncated"),
        "cut.png": (png[:-20], "truncated"),
        "crc.png": (bytes(broken_crc), "malformed"),
        "lying.jpg": (jpeg[:2] + b"\xff\xe1\xff\xff" + b"x" * 100, "truncated"),
    }
    if features.check("webp"):
        webp = _save(rgb, "WEBP", quality=50)
        files["riff.webp"] = (webp[:4] + struct.pack("<I", len(webp) * 2) + webp[8:], "truncated")
    pairs = []
    for name, (data, _) in files.items():
        (tmp_path / name).write_bytes(data)
        pairs.append((tmp_path / name, tmp_path / f"{name}.out"))
    for (name, (_, code)), result in zip(files.items(), _run_cli(pairs), strict=True):
        assert result.get("code") == code, (name, result)
        assert not (tmp_path / f"{name}.out").exists()


def _zip(entries: dict[str, bytes], stored_first: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for index, (name, data) in enumerate(entries.items()):
            method = zipfile.ZIP_STORED if stored_first and index == 0 else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=method)
    return out.getvalue()


def test_type_detection_agrees_with_the_python_client(tmp_path: Path) -> None:
    rgb = _noise("RGB", (16, 16), 11)
    files = {
        "jpeg": _save(rgb, "JPEG"),
        "png": _save(rgb, "PNG"),
        "gif": _save(rgb, "GIF"),
        "tiff": _save(rgb, "TIFF"),
        "pdf": b"%PDF-1.7\n%CANARY\n",
        "text": "Менің ағам 2017 жылы ұсталды.\nAkam 2017-yili tutuldi.\n".encode(),
        "markup": b"  <svg xmlns='http://www.w3.org/2000/svg'><metadata/></svg>",
        "mail": b"Received: from mx.example.org\nFrom: a@example.org\n\nhello",
        "letter": b"From: my mother\nTo: the court\n\nhello",
        "rtf": rb"{\rtf1\ansi{\info{\author Aygul}}Text}",
        "postscript": b"%!PS-Adobe-3.0\n%%For: aygul\n",
        "vcard": b"BEGIN:VCARD\nFN:Aygul\nEND:VCARD\n",
        "calendar": b"BEGIN:VCALENDAR\nUID:1@laptop\nEND:VCALENDAR\n",
        "binary": bytes(range(256)),
        "docx": _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}),
        "xlsx": _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<w/>"}),
        "odt": _zip(
            {"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"},
            stored_first=True,
        ),
    }
    if features.check("webp"):
        files["webp"] = _save(rgb, "WEBP")
    pairs = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        pairs.append((tmp_path / name, tmp_path / f"{name}.out"))
    for (name, data), result in zip(files.items(), _run_cli(pairs), strict=True):
        expected = detect_media_type(data) or "application/octet-stream"
        assert result["mediaType"] == expected, name
        if expected in (
            "image/jpeg",
            "image/png",
            "image/webp",
            "image/gif",
            "image/tiff",
            "text/plain",
        ):
            assert result["status"] == "cleaned", name
        else:
            assert result["status"] == "unsupported", name
            assert (tmp_path / f"{name}.out").read_bytes() == data
