"""What the browser tests make (files to attach) and check (the page keeps to itself)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pikepdf
from PIL import Image

GPS_IFD = 0x8825
CAMERA_MAKE = "CanaryCameraMaker"
CAMERA_MODEL = "CanaryModel-X9"
PDF_AUTHOR = "Canary PDF Author"


def make_gps_jpeg(canary: str) -> bytes:
    """A photo with a GPS position, camera make and model, and ``canary`` in a comment.

    Its pixels vary (a gradient with noise), so that a lossless cleaning can be told from a
    re-encoding by comparing decoded pixels.
    """
    width, height = 160, 120
    noise = os.urandom(width * height * 3)
    pixels = bytearray(width * height * 3)
    for y in range(height):
        for x in range(width):
            i = (y * width + x) * 3
            pixels[i] = (x * 255 // width) ^ (noise[i] & 0x1F)
            pixels[i + 1] = (y * 255 // height) ^ (noise[i + 1] & 0x1F)
            pixels[i + 2] = ((x + y) * 2 % 256) ^ (noise[i + 2] & 0x1F)
    image = Image.frombytes("RGB", (width, height), bytes(pixels))
    exif = Image.Exif()
    exif[0x010F] = CAMERA_MAKE
    exif[0x0110] = CAMERA_MODEL
    exif[GPS_IFD] = {1: "N", 2: (43.0, 50.0, 10.0), 3: "E", 4: (81.0, 19.0, 5.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=canary.encode("utf-8"), quality=90)
    data = out.getvalue()
    opened = Image.open(io.BytesIO(data))
    assert opened.getexif().get_ifd(GPS_IFD), "the photo must carry a position to test"
    assert canary.encode() in data and CAMERA_MAKE.encode() in data
    return data


def make_pdf(canary: str) -> bytes:
    """A one-page PDF naming its author (the page cannot clean PDFs: it asks first)."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.docinfo["/Author"] = PDF_AUTHOR
    pdf.docinfo["/Subject"] = canary
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def pixels(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.mode, image.size, image.tobytes()


def tree_containing(path: Path, needle: bytes) -> list[Path]:
    """Every file under ``path`` whose bytes contain ``needle``."""
    return [p for p in path.rglob("*") if p.is_file() and needle in p.read_bytes()]


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def foreign_requests(requests: list[str], base: str) -> list[str]:
    """Requests to anywhere but the page's own origin. ``data:`` and ``blob:`` URLs name
    bytes already in the browser and go nowhere; they are not counted."""
    own = origin(base)
    return [url for url in requests
            if not url.startswith(("data:", "blob:")) and origin(url) != own]


def assert_keeps_to_itself(result: dict[str, Any], base: str, *, secrets: tuple[str, ...] = (),
                           what: str = "the page") -> None:
    """Every request to the page's origin, no secret in a URL, nothing stored, no CSP
    violation, no console or script error."""
    records = result["records"]
    assert records["requests"], f"{what}: no request recorded (is the recorder working?)"
    assert foreign_requests(records["requests"], base) == [], \
        f"{what} asked another origin: {foreign_requests(records['requests'], base)}"
    for secret in secrets:
        for form in {secret, secret.replace(" ", "+"), secret.replace(" ", "%20"),
                     secret.replace(" ", "-"), secret.replace(" ", "")}:
            leaked = [url for url in records["requests"] if form in url]
            assert leaked == [], f"{what}: a secret appears in a URL: {leaked}"
        location = result.get("location") or ""
        assert secret not in location and secret.replace(" ", "+") not in location
    storage = result["storage"]
    assert storage["localStorage"] == [], storage
    assert storage["sessionStorage"] == [], storage
    assert storage["indexedDB"] in ([], None), storage
    assert storage["caches"] in ([], None), storage
    assert storage["cookie"] == "", storage
    assert storage.get("serviceWorkers") in (0, None), storage
    assert records["cspViolations"] == [], f"{what}: CSP violations {records['cspViolations']}"
    assert records["consoleErrors"] == [], f"{what}: console errors {records['consoleErrors']}"
    assert records["pageErrors"] == [], f"{what}: script errors {records['pageErrors']}"


# A catalog key shown instead of its text looks like "safety.title" or "msg.sealFailed".
KEY_LIKE = re.compile(r"(?<![\w./@:-])([a-z][a-zA-Z0-9]*(?:\.[a-zA-Z0-9]+){1,3})(?![\w/@-])")
PLACEHOLDER = re.compile(r"\{[a-zA-Z0-9_]+\}")


def raw_keys(texts: list[str], catalog: dict[str, Any]) -> list[str]:
    """Strings in ``texts`` that are catalog keys (or look like one: a known key prefix
    followed by dotted words), or unreplaced ``{placeholder}``s."""
    prefixes = {key.split(".", 1)[0] for key in catalog}
    found: list[str] = []
    for text in texts:
        for match in KEY_LIKE.finditer(text):
            token = match.group(1)
            if token in catalog or token.split(".", 1)[0] in prefixes:
                found.append(token)
        found.extend(PLACEHOLDER.findall(text))
    return found


def missing_key_messages(records: dict[str, Any]) -> list[str]:
    """Console messages of any level that speak of a missing message or key."""
    return [m["text"] for m in records.get("consoleMessages", [])
            if re.search(r"missing|no message|untranslated|unknown key", m["text"], re.I)]
