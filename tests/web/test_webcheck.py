"""vault/webcheck.py: `amanat web verify` compares what a server serves, at the addresses
witnesses open, with the build from source."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from vault.webcheck import ORG_META_EMPTY, check_served_page

ORG = "example.org+01234567+AQ=="
PAGE = b"<!doctype html><html><head>" + ORG_META_EMPTY + b"</head><body>page</body></html>\n"
OTHER = PAGE.replace(b"page", b"a page that sends testimony elsewhere")
SCRIPT = b"export const seal = 1;\n"


def _build(folder: Path) -> Path:
    files = {"index.html": PAGE, "en/index.html": PAGE, "en/replies.html": PAGE,
             "assets/app.js": SCRIPT}
    listed = {}
    for name, body in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(body)
        listed[name] = hashlib.sha256(body).hexdigest()
    (folder / "build.json").write_text(json.dumps({"files": listed}))
    return folder


def _pinned(body: bytes) -> bytes:
    return body.replace(ORG_META_EMPTY, f'<meta name="amanat-org" content="{ORG}">'.encode())


def _served(overrides: dict[str, bytes]) -> dict[str, bytes]:
    honest = {"/": _pinned(PAGE), "/index.html": _pinned(PAGE), "/en/": _pinned(PAGE),
              "/en/index.html": _pinned(PAGE), "/en/replies.html": _pinned(PAGE),
              "/assets/app.js": SCRIPT}
    return {**honest, **overrides}


def test_the_honest_server_verifies(tmp_path: Path) -> None:
    served = _served({})
    check = check_served_page(served.__getitem__, _build(tmp_path))
    assert check.ok
    assert check.org_vkeys == {ORG}
    assert sorted(check.matched) == ["assets/app.js", "en/index.html", "en/replies.html",
                                     "index.html"]


def test_another_page_at_the_folder_address_is_named(tmp_path: Path) -> None:
    # The built file at /en/index.html, but another page at /en/, where the language list
    # links and witnesses go.
    served = _served({"/en/": _pinned(OTHER)})
    check = check_served_page(served.__getitem__, _build(tmp_path))
    assert not check.ok
    assert check.differing == ["en/index.html (at /en/): differs from the build"]
    assert "en/index.html" not in check.matched
    served = _served({"/": _pinned(OTHER)})
    check = check_served_page(served.__getitem__, _build(tmp_path))
    assert check.differing == ["index.html (at /): differs from the build"]


def test_another_key_at_the_folder_address_is_seen(tmp_path: Path) -> None:
    other_key = PAGE.replace(ORG_META_EMPTY,
                             b'<meta name="amanat-org" content="evil.example+89abcdef+AQ==">')
    served = _served({"/en/": other_key})
    check = check_served_page(served.__getitem__, _build(tmp_path))
    assert not check.ok
    assert check.org_vkeys == {ORG, "evil.example+89abcdef+AQ=="}


def test_the_same_bytes_with_weaker_headers_are_named() -> None:
    from api.errors import PAGE_CSP
    from vault.webcheck import header_problems

    good = {"content-security-policy": PAGE_CSP.decode(), "x-content-type-options": "nosniff"}
    assert header_problems(good) == []
    weak = {**good, "content-security-policy": PAGE_CSP.decode().replace(
        "script-src 'self'", "script-src 'self' 'unsafe-inline'")}
    assert header_problems(weak) == [
        "its Content-Security-Policy lacks script-src 'self'",
        "its Content-Security-Policy allows inline, eval'd or outside code"]
    elsewhere = {**good, "content-security-policy": PAGE_CSP.decode().replace(
        "default-src 'self'", "default-src 'self' http://collector.example")}
    assert "its Content-Security-Policy lacks default-src 'self'" in header_problems(elsewhere)
    assert header_problems({"x-content-type-options": "nosniff"})[0].startswith(
        "its Content-Security-Policy lacks")
    assert header_problems({**good, "refresh": "0; url=http://x.example/"}) == [
        "it is served with a refresh header"]
    assert header_problems({**good, "set-cookie": "id=1"}) == [
        "it is served with a set-cookie header"]
    assert header_problems({"content-security-policy": PAGE_CSP.decode()}) == [
        "it is served without X-Content-Type-Options: nosniff"]
