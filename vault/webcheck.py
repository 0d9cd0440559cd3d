"""Check that a server serves the witness page built from source, and which key it pins.

The page's code comes from the server it protects against (SECURITY.md, "The witness
page"): a compromised server could serve a page that sends testimony elsewhere. Nobody can
stop that for a witness who has only the page; but anyone can check, at any time and from
anywhere, that what a server serves is exactly the reproducible build of the published
source. ``amanat web verify`` does it:

* build the page from source (``make web``, which writes ``api/static`` and its
  ``build.json``: every file's SHA-256);
* fetch every listed file from the server (over Tor with ``--proxy``, as a witness would),
  a folder's ``index.html`` also at the folder's address (``/``, ``/en/``), where witnesses
  open it;
* in each HTML page, take out the one difference a deployment makes, the organization key
  in ``<meta name="amanat-org" content="…">``, and compare SHA-256s.

Every page must pin the same organization key; with ``--org`` it must be that one. The
result names each file that differs.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

__all__ = ["PageCheck", "WebCheckError", "check_served_page", "header_problems", "read_build"]

ORG_META: Final = re.compile(rb'<meta name="amanat-org" content="([^"<>]*)">')
ORG_META_EMPTY: Final = b'<meta name="amanat-org" content="">'


class WebCheckError(Exception):
    """The check could not be made (no build, a malformed build manifest)."""


@dataclass
class PageCheck:
    """What was compared: files that match, files that differ (with why), and the
    organization keys the pages pin."""

    build_digest: str
    matched: list[str] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)
    org_vkeys: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.differing and len(self.org_vkeys) == 1


def read_build(build_dir: Path) -> tuple[dict[str, str], str]:
    """The built files and their SHA-256s, and the digest of ``build.json`` (what
    ``amanat serve`` prints)."""
    manifest = build_dir / "build.json"
    try:
        raw = manifest.read_bytes()
    except OSError as exc:
        raise WebCheckError(f"no page build at {build_dir} ({exc.strerror}): build it with "
                            "`make web` in a checkout of the source") from None
    try:
        files = json.loads(raw)["files"]
        if not isinstance(files, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise WebCheckError(f"{manifest} is not a page build manifest") from None
    return dict(sorted(files.items())), hashlib.sha256(raw).hexdigest()


def _urls(name: str) -> list[str]:
    """The URL paths at which a witness is served the built file ``name``: its own path
    and, for a folder's index, the folder (``/``, ``/en/``), which is the address the pages
    link to and witnesses open (api/webpage.py serves both)."""
    urls = ["/" + name]
    if name == "index.html" or name.endswith("/index.html"):
        urls.append("/" + name.removesuffix("index.html"))
    return urls


def header_problems(headers: Mapping[str, str]) -> list[str]:
    """What is wrong with the headers a page file came with: the same bytes served with a
    weaker Content-Security-Policy (inline or eval'd script, another origin), without
    ``nosniff``, with a cookie, or with a ``Refresh`` that sends the witness elsewhere, are
    not the page that was built."""
    problems = []
    csp = headers.get("content-security-policy", "")
    directives = {part.strip().split(" ", 1)[0]: part.strip() for part in csp.split(";")
                  if part.strip()}
    for needed in ("default-src 'self'", "script-src 'self'", "object-src 'none'",
                   "frame-ancestors 'none'", "base-uri 'none'"):
        if directives.get(needed.split(" ", 1)[0]) != needed:
            problems.append(f"its Content-Security-Policy lacks {needed}")
    if "unsafe-" in csp or "*" in csp or "http" in csp:
        problems.append("its Content-Security-Policy allows inline, eval'd or outside code")
    if headers.get("x-content-type-options", "").lower() != "nosniff":
        problems.append("it is served without X-Content-Type-Options: nosniff")
    for name in ("set-cookie", "refresh", "link"):
        if name in headers:
            problems.append(f"it is served with a {name} header")
    return problems


def check_served_page(fetch: Callable[[str], bytes], build_dir: Path) -> PageCheck:
    """Compare every built file with what ``fetch(url_path)`` returns, at every URL the
    server answers it at (a server that serves the build at ``/en/index.html`` but another
    page at ``/en/`` is caught)."""
    files, digest = read_build(build_dir)
    result = PageCheck(digest)
    for name, expected in files.items():
        problems = []
        for url in _urls(name):
            label = name if url == "/" + name else f"{name} (at {url})"
            body = fetch(url)
            if name.endswith(".html"):
                pinned = ORG_META.findall(body)
                if len(pinned) != 1:
                    problems.append(f"{label}: does not pin exactly one organization key")
                    continue
                result.org_vkeys.add(html.unescape(pinned[0].decode("ascii", "replace")))
                body = ORG_META.sub(ORG_META_EMPTY, body)
            if hashlib.sha256(body).hexdigest() != expected:
                problems.append(f"{label}: differs from the build")
        if problems:
            result.differing.extend(problems)
        else:
            result.matched.append(name)
    return result
