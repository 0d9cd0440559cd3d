"""The witness's web page: the built files in ``api/static`` served at ``/``.

The page (web/, built with ``npm ci && node build.mjs``) seals testimony in the witness's
browser; this module only serves its files. What it protects:

* **What is served is what was built.** ``api/static/build.json`` lists the SHA-256 of every
  built file. The files are read once at start and checked against it; a file that differs,
  is missing, or is not listed is never served (a tampered or half-copied build shows the
  operator an error instead of a page). ``build_digest`` (SHA-256 of ``build.json``) is
  printed by ``amanat serve``: an auditor who rebuilds from source gets the same number
  (docs/DEPLOY.md, "Checking the witness page").
* **The organization key is pinned in the page as deployed.** Every HTML page carries
  ``<meta name="amanat-org" content="">``; the server writes its organization verifier key
  (``--org``) there, HTML-escaped. That is the only difference between a built page and a
  served one, and ``amanat web verify`` undoes exactly it before comparing.
* **Nothing else reaches the page.** The files are static: no cookie, no per-request
  content, the same bytes for everyone; ``Cache-Control: no-store`` and the page CSP
  (``default-src 'self'``) come from api/errors.py. Answers are gzip-compressed (level 9,
  fixed header) when the client accepts it: the files hold no secret, so compression
  reveals nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "ORG_META_EMPTY",
    "STATIC_DIR",
    "StaticFile",
    "WebPage",
    "WebPageError",
    "load_web_page",
    "org_meta",
    "router",
]

logger = logging.getLogger("amanat.server")

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
BUILD_MANIFEST: Final = "build.json"
ORG_META_EMPTY: Final = b'<meta name="amanat-org" content="">'
LANGUAGES: Final = ("en", "ug", "kk", "ru", "zh", "tr")
MAX_FILE_BYTES: Final = 4 * 1024 * 1024
_CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".woff2": "font/woff2",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
# A built file's path: lowercase letters, digits, '.', '-', '_' in at most two segments.
_PATH: Final = re.compile(r"^(?:[a-z0-9][a-z0-9._-]{0,99}/)?[a-z0-9][a-z0-9._-]{0,99}$")


class WebPageError(Exception):
    """The built page in api/static cannot be served as built; the message says why."""


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    gzipped: bytes | None
    content_type: str


def org_meta(org_vkey: str | None) -> bytes:
    """The organization meta element as served: the vkey, HTML-escaped, or empty."""
    if org_vkey is None:
        return ORG_META_EMPTY
    escaped = html.escape(org_vkey, quote=True).encode("ascii")
    return b'<meta name="amanat-org" content="' + escaped + b'">'


def _gzip(body: bytes) -> bytes | None:
    packed = gzip.compress(body, compresslevel=9, mtime=0)
    return packed if len(packed) < len(body) else None


@dataclass(frozen=True)
class WebPage:
    """The built page, checked and ready to serve; ``files`` maps URL paths to answers."""

    files: dict[str, StaticFile]
    build_digest: str

    def find(self, path: str) -> StaticFile | None:
        return self.files.get(path)


def load_web_page(org_vkey: str | None, static_dir: Path = STATIC_DIR) -> WebPage:
    """Read and check the built page. Raises WebPageError naming what is wrong."""
    manifest_path = static_dir / BUILD_MANIFEST
    try:
        manifest_bytes = manifest_path.read_bytes()
    except FileNotFoundError:
        raise WebPageError(f"the witness page is not built ({manifest_path} is missing: "
                           "run `make web`)") from None
    try:
        listed = json.loads(manifest_bytes)["files"]
        if not isinstance(listed, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise WebPageError(f"{manifest_path} is not a build manifest") from None
    files: dict[str, StaticFile] = {}
    meta = org_meta(org_vkey)
    for name, digest in sorted(listed.items()):
        if not isinstance(name, str) or not _PATH.match(name) or not isinstance(digest, str):
            raise WebPageError(f"{manifest_path} lists a file it may not: {name!r}")
        path = static_dir / name
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise WebPageError(f"the witness page file {name} cannot be read "
                               f"({exc.strerror}): rebuild it (`make web`)") from None
        if len(body) > MAX_FILE_BYTES:
            raise WebPageError(f"the witness page file {name} is too large")
        if hashlib.sha256(body).hexdigest() != digest:
            raise WebPageError(f"the witness page file {name} is not the one built "
                               "(its SHA-256 differs from build.json): rebuild it")
        suffix = Path(name).suffix
        if suffix not in _CONTENT_TYPES:
            raise WebPageError(f"the witness page file {name} has an unknown type")
        if suffix == ".html":
            if body.count(ORG_META_EMPTY) != 1:
                raise WebPageError(f"the witness page {name} lacks its organization key "
                                   "placeholder")
            body = body.replace(ORG_META_EMPTY, meta)
        for url in _urls(name):
            files[url] = StaticFile(body, _gzip(body), _CONTENT_TYPES[suffix])
    return WebPage(files, hashlib.sha256(manifest_bytes).hexdigest())


def _urls(name: str) -> list[str]:
    """The URL paths a built file answers at (a folder's index at the folder too)."""
    if name == "index.html":
        return ["/", "/index.html"]
    if name.endswith("/index.html"):
        folder = name.removesuffix("index.html")
        return [f"/{folder}", f"/{name}"]
    return [f"/{name}"]


router = APIRouter(include_in_schema=False)


def _answer(request: Request, path: str) -> Response:
    page: WebPage | None = request.app.state.web_page
    found = page.find(path) if page is not None else None
    if found is None:
        if page is not None and path in {f"/{lang}" for lang in LANGUAGES}:
            return Response(status_code=308, headers={"location": path + "/"})
        raise StarletteHTTPException(404)  # answered as every unknown path is
    headers = {"vary": "accept-encoding"}
    body = found.body
    accepted = request.headers.get("accept-encoding", "")
    if found.gzipped is not None and "gzip" in accepted.lower():
        body = found.gzipped
        headers["content-encoding"] = "gzip"
    if request.method == "HEAD":
        headers["content-length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=found.content_type)
    return Response(body, headers=headers, media_type=found.content_type)


# Explicit shapes rather than one catch-all route, so that the API's own answers (405 for a
# method a route lacks, JSON 404s) stay as they are: API paths have three or more segments.
@router.api_route("/", methods=["GET", "HEAD"])
def root(request: Request) -> Response:
    return _answer(request, "/")


@router.api_route("/{first}", methods=["GET", "HEAD"])
def top_file(first: str, request: Request) -> Response:
    return _answer(request, f"/{first}")


@router.api_route("/{first}/", methods=["GET", "HEAD"])
def folder(first: str, request: Request) -> Response:
    return _answer(request, f"/{first}/")


@router.api_route("/{first}/{second}", methods=["GET", "HEAD"])
def folder_file(first: str, second: str, request: Request) -> Response:
    return _answer(request, f"/{first}/{second}")
