"""The witness page as the server serves it: exactly the built files, the organization key
pinned in each HTML page, the page CSP, nothing else (api/webpage.py)."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from api.settings import Settings
from api.webpage import STATIC_DIR, WebPageError, load_web_page, org_meta
from tests.api.conftest import TestClient
from vault.service.setup import OpenedVault

PAGE = (b'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        b'<meta name="amanat-org" content="">'
        b'<script type="module" src="/assets/app.js"></script></head><body>hi</body></html>')


def write_build(folder: Path, files: dict[str, bytes]) -> None:
    listing = {}
    for name, body in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(body)
        listing[name] = hashlib.sha256(body).hexdigest()
    (folder / "build.json").write_text(json.dumps({"files": listing}))


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "static"
    write_build(folder, {
        "index.html": PAGE,
        "en/index.html": PAGE,
        "ug/index.html": PAGE.replace(b'lang="en"', b'lang="ug" dir="rtl"'),
        "en/replies.html": PAGE,
        "assets/app.js": b"export const x = 1;\n" * 100,
    })
    return folder


@pytest.fixture
def page_client(opened: OpenedVault, data_dir: Path, web_dir: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=data_dir, dev=True, web_dir=web_dir)
    app = create_app(settings, opened.service)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_pages_carry_the_organization_key_and_the_page_csp(
        page_client: TestClient, opened: OpenedVault) -> None:
    org = opened.service.org_vkey
    assert org is not None
    for path in ("/", "/en/", "/ug/", "/en/replies.html", "/en/index.html"):
        answer = page_client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        assert f'<meta name="amanat-org" content="{org}">'.encode() in answer.content
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert answer.headers["cache-control"] == "no-store"
        assert "geolocation=()" in answer.headers["permissions-policy"]
        assert "set-cookie" not in answer.headers
    script = page_client.get("/assets/app.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.content == b"export const x = 1;\n" * 100


def test_gzip_only_when_asked_and_the_same_bytes(page_client: TestClient) -> None:
    plain = page_client.get("/assets/app.js", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    packed = page_client.get("/assets/app.js", headers={"accept-encoding": "gzip, br"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "accept-encoding"
    assert packed.content == plain.content  # the client undid the gzip
    head = page_client.head("/assets/app.js", headers={"accept-encoding": "identity"})
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(plain.content)


def test_unknown_paths_and_api_answers_are_unchanged(page_client: TestClient) -> None:
    for path in ("/assets/missing.js", "/build.json", "/fr/", "/en/secret.txt",
                 "/../api/static/build.json", "/api/v1", "/api/nothing"):
        answer = page_client.get(path)
        assert answer.status_code == 404, path
    assert page_client.get("/api/v1/nothing").json() == {"error": "Not Found"}
    # A method an API route lacks is still 405, not swallowed by the page's routes.
    assert page_client.get("/api/v1/uploads").status_code == 405
    assert page_client.post("/en/").status_code == 405
    redirect = page_client.get("/en", follow_redirects=False)
    assert redirect.status_code == 308 and redirect.headers["location"] == "/en/"
    # The API keeps its own stricter CSP.
    assert "default-src 'none'" in page_client.get(
        "/api/v1/log/checkpoint").headers["content-security-policy"]


def test_a_changed_file_is_never_served(tmp_path: Path, web_dir: Path) -> None:
    (web_dir / "assets" / "app.js").write_bytes(b"alert('changed')\n")
    with pytest.raises(WebPageError, match=r"assets/app\.js is not the one built"):
        load_web_page("org+00000000+AAAA", web_dir)


def test_unlisted_missing_and_odd_files(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    with pytest.raises(WebPageError, match="not built"):
        load_web_page(None, folder)
    folder.mkdir()
    (folder / "build.json").write_text("[]")
    with pytest.raises(WebPageError, match="not a build manifest"):
        load_web_page(None, folder)
    (folder / "build.json").write_text(json.dumps({"files": {"../x.html": "00"}}))
    with pytest.raises(WebPageError, match="lists a file it may not"):
        load_web_page(None, folder)
    (folder / "build.json").write_text(json.dumps({"files": {"gone.js": "00"}}))
    with pytest.raises(WebPageError, match="cannot be read"):
        load_web_page(None, folder)
    write_build(folder, {"index.html": b"<html>no placeholder</html>"})
    with pytest.raises(WebPageError, match="placeholder"):
        load_web_page(None, folder)
    write_build(folder, {"a.exe": b"MZ"})
    with pytest.raises(WebPageError, match="unknown type"):
        load_web_page(None, folder)


def test_the_org_key_is_escaped_and_empty_without_one(web_dir: Path) -> None:
    assert org_meta('a"<b>+1+x') == b'<meta name="amanat-org" content="a&quot;&lt;b&gt;+1+x">'
    page = load_web_page(None, web_dir)
    found = page.find("/en/")
    assert found is not None and b'content=""' in found.body
    assert found.gzipped is not None and gzip.decompress(found.gzipped) == found.body


def test_a_broken_build_leaves_the_api_serving(
        opened: OpenedVault, data_dir: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=data_dir, dev=True, web_dir=tmp_path / "nothing")
    app = create_app(settings, opened.service)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        assert test_client.get("/").status_code == 404
        assert test_client.get("/api/v1/log/checkpoint").status_code == 200
    assert "not built" in app.state.web_page_problem


@pytest.mark.skipif(not (STATIC_DIR / "build.json").exists(),
                    reason="the witness page is not built in api/static (make web)")
def test_the_committed_build_loads_and_lists_every_language() -> None:
    page = load_web_page("example.org/amanat+23d16a2d+ASQUrU80kHu17skxEkrii+Ha+zQEj696Grg+VjUFntGH")
    for lang in ("en", "ug", "kk", "ru", "zh", "tr"):
        for path in (f"/{lang}/", f"/{lang}/replies.html"):
            found = page.find(path)
            assert found is not None, path
            assert b"example.org/amanat+23d16a2d+" in found.body
            assert b"<script>" not in found.body  # no inline script
    assert page.find("/") is not None
